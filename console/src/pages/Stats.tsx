/**
 * Stats: deliveries per hour, by status and by provider, as stacked bar charts (plain SVG, with
 * a table of the same numbers for screen readers and copying). GetDeliveryStats counts the
 * deliveries created in the last N hours, so hour k back is the difference of the windows k and
 * k−1 (one call per hour, made together).
 */

import { useState } from "react";

import { api } from "../api.js";
import type { GetDeliveryStatsResponse } from "../gen/switchyard/coordinator/v1/delivery_pb.js";
import { STATUS_COLOURS, statusName } from "../status.js";
import { ErrorBox, Field, useLoad } from "../ui.js";

/** Counts per hour (oldest first) per series name. */
interface Hours {
  labels: string[];
  series: Map<string, number[]>;
}

function perHour(windows: GetDeliveryStatsResponse[], keyed: (w: GetDeliveryStatsResponse) => [string, number][]): Hours {
  const cumulative = windows.map((w) => new Map(keyed(w)));
  const names = [...new Set(cumulative.flatMap((m) => [...m.keys()]))].sort();
  const n = windows.length;
  const series = new Map<string, number[]>();
  for (const name of names) {
    const counts: number[] = [];
    for (let back = n; back >= 1; back--) {
      const upTo = cumulative[back - 1]!.get(name) ?? 0;
      const before = back >= 2 ? (cumulative[back - 2]!.get(name) ?? 0) : 0;
      counts.push(Math.max(0, upTo - before));
    }
    series.set(name, counts);
  }
  // Each bucket is a rolling hour ending now, 1 h ago…; labelled by when it starts.
  const now = Date.now();
  const clock = (t: Date) => `${String(t.getHours()).padStart(2, "0")}:${String(t.getMinutes()).padStart(2, "0")}`;
  const labels = Array.from({ length: n }, (_, i) => clock(new Date(now - (n - i) * 3600_000)));
  return { labels, series };
}

const PALETTE = ["#3b7dd8", "#2e8b57", "#d9822b", "#8e44ad", "#c0392b", "#16a085", "#7f8c8d", "#b59b3b"];

function Chart({ title, hours, colour }: { title: string; hours: Hours; colour(name: string, i: number): string }) {
  const width = 720;
  const height = 150;
  const n = hours.labels.length;
  const totals = hours.labels.map((_, i) => [...hours.series.values()].reduce((sum, s) => sum + (s[i] ?? 0), 0));
  const max = Math.max(1, ...totals);
  const bar = width / n;
  const names = [...hours.series.keys()];
  return (
    <figure className="chart">
      <figcaption>{title}</figcaption>
      <svg viewBox={`0 0 ${width} ${height + 20}`} role="img" aria-label={`${title}: ${totals.reduce((a, b) => a + b, 0)} deliveries`}>
        {hours.labels.map((label, i) => {
          let y = height;
          return (
            <g key={label + i}>
              {names.map((name, k) => {
                const v = hours.series.get(name)![i] ?? 0;
                const h = (v / max) * (height - 10);
                y -= h;
                return v ? (
                  <rect key={name} x={i * bar + 2} y={y} width={bar - 4} height={h} fill={colour(name, k)}>
                    <title>{`${label} ${name}: ${v}`}</title>
                  </rect>
                ) : null;
              })}
              {(n <= 12 || i % Math.ceil(n / 12) === 0) && (
                <text x={i * bar + bar / 2} y={height + 14} textAnchor="middle" fontSize="11">
                  {label}
                </text>
              )}
            </g>
          );
        })}
      </svg>
      <ul className="legend">
        {names.map((name, k) => (
          <li key={name}>
            <span className="swatch" style={{ background: colour(name, k) }} /> {name}: {hours.series.get(name)!.reduce((a, b) => a + b, 0)}
          </li>
        ))}
        {names.length === 0 && <li>No deliveries in this window.</li>}
      </ul>
    </figure>
  );
}

export function StatsPage() {
  const [hours, setHours] = useState(24);
  const stats = useLoad(() => Promise.all(Array.from({ length: hours }, (_, i) => api.deliveries.getDeliveryStats({ hours: i + 1 }))), [hours]);
  const windows = stats.value;
  const whole = windows?.[windows.length - 1];
  return (
    <section aria-labelledby="stats-title">
      <h1 id="stats-title">Stats</h1>
      <div className="toolbar">
        <Field label="Window" id="stats-hours">
          <select id="stats-hours" value={hours} onChange={(e) => setHours(Number(e.target.value))}>
            {[6, 12, 24, 48].map((h) => (
              <option key={h} value={h}>
                last {h} hours
              </option>
            ))}
          </select>
        </Field>
        <button type="button" onClick={stats.reload}>
          Refresh
        </button>
      </div>
      <ErrorBox error={stats.error} />
      {whole && (
        <>
          <p data-testid="stats-total">
            {String(whole.total)} {whole.total === 1n ? "delivery" : "deliveries"} created in the last {hours} hours.
          </p>
          <Chart title="Deliveries per hour by status" hours={perHour(windows, (w) => w.byStatus.map((s) => [statusName(s.status), Number(s.count)]))} colour={(name) => STATUS_COLOURS[name] ?? "#999"} />
          <Chart title="Deliveries per hour by provider" hours={perHour(windows, (w) => w.byProvider.map((k) => [k.key, Number(k.count)]))} colour={(_, i) => PALETTE[i % PALETTE.length]!} />
          <h2>By event type</h2>
          <table>
            <thead>
              <tr>
                <th scope="col">Event type</th>
                <th scope="col">Deliveries</th>
              </tr>
            </thead>
            <tbody>
              {whole.byEventType.map((k) => (
                <tr key={k.key}>
                  <td>{k.key}</td>
                  <td>{String(k.count)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </>
      )}
    </section>
  );
}
