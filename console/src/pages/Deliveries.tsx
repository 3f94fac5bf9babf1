/**
 * Deliveries: filtered by subscription, event type, status and creation time, kept live by
 * DeliveryService.WatchDeliveries (a change updates its row, a new delivery that matches the
 * filters appears on the first page); bulk redelivery of a subscription's failed deliveries in
 * a window; one delivery's attempt log, with Redeliver.
 */

import { timestampFromDate, timestampMs } from "@bufbuild/protobuf/wkt";
import { useEffect, useRef, useState } from "react";

import { api, messageOf } from "../api.js";
import { DeliveryStatus, type Delivery, type DeliveryAttempt } from "../gen/switchyard/coordinator/v1/delivery_pb.js";
import { outcomeName, STATUSES, statusName, triggerName } from "../status.js";
import { ErrorBox, Field, Notice, timeText, useLoad } from "../ui.js";

/**
 * Streams every delivery change matching `filter` to `onChange` while mounted and `on`. The
 * coordinator sends the stream's headers once the watch is subscribed, so `onOpen` marks the
 * moment from which no change is missed: a page reloads there what it fetched before.
 */
function useWatch(
  on: boolean,
  filter: { subscriptionId?: string; eventId?: string },
  onChange: (d: Delivery) => void,
  onLag: () => void,
  onOpen?: () => void,
): string | undefined {
  const [error, setError] = useState<string>();
  const key = JSON.stringify(filter);
  useEffect(() => {
    if (!on) return;
    const abort = new AbortController();
    setError(undefined);
    (async () => {
      try {
        for await (const m of api.deliveries.watchDeliveries(filter, { signal: abort.signal, onHeader: () => onOpen?.() })) {
          if (m.delivery) onChange(m.delivery);
          else if (m.lagged) onLag();
        }
      } catch (err) {
        if (!abort.signal.aborted) setError(`Live updates stopped: ${messageOf(err)}`);
      }
    })();
    return () => abort.abort();
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [on, key]);
  return error;
}

/**
 * The later of two states of one delivery. Answers race one another (a Redeliver's reply can
 * arrive after the watch has already reported that attempt's outcome), so a page keeps the state
 * with more attempts, then the later update, never simply the last to arrive.
 */
function laterState(current: Delivery | undefined, next: Delivery): Delivery {
  if (!current) return next;
  if (next.attempts !== current.attempts) return next.attempts > current.attempts ? next : current;
  const updated = (d: Delivery) => (d.updatedAt ? timestampMs(d.updatedAt) : 0);
  return updated(next) >= updated(current) ? next : current;
}

function StatusBadge({ status }: { status: DeliveryStatus }) {
  const name = statusName(status);
  return <span className={`badge status-${name.replace(" ", "-")}`}>{name}</span>;
}

function dateOf(local: string) {
  return local ? timestampFromDate(new Date(local)) : undefined;
}

export function DeliveriesPage({ id }: { id: string | undefined }) {
  if (id) return <DeliveryDetail id={id} />;
  return <DeliveryList />;
}

function DeliveryList() {
  const subs = useLoad(() => api.subscriptions.listSubscriptions({ pageSize: 500 }), []);
  const eventTypes = useLoad(() => api.eventTypes.listEventTypes({}), []);
  const [subscriptionId, setSubscriptionId] = useState("");
  const [eventType, setEventType] = useState("");
  const [status, setStatus] = useState(DeliveryStatus.UNSPECIFIED);
  const [after, setAfter] = useState("");
  const [before, setBefore] = useState("");
  const [live, setLive] = useState(true);
  const [pages, setPages] = useState<string[]>([""]);
  const pageToken = pages[pages.length - 1] ?? "";
  const filters = [subscriptionId, eventType, status, after, before];
  const list = useLoad(
    () => api.deliveries.listDeliveries({ subscriptionId, eventType, status, createdAfter: dateOf(after), createdBefore: dateOf(before), pageSize: 50, pageToken }),
    [...filters, pageToken],
  );
  const [rows, setRows] = useState<Delivery[]>([]);
  useEffect(() => setRows(list.value?.deliveries ?? []), [list.value]);
  useEffect(() => setPages([""]), filters);
  const matchesFilters = (d: Delivery) =>
    (!eventType || d.eventType === eventType) && (status === DeliveryStatus.UNSPECIFIED || d.status === status) && !before && pageToken === "";
  const watchError = useWatch(
    live,
    { subscriptionId },
    (d) =>
      setRows((current) => {
        const i = current.findIndex((r) => r.id === d.id);
        if (i >= 0) return current.map((r) => (r.id === d.id ? d : r));
        return matchesFilters(d) ? [d, ...current] : current;
      }),
    list.reload,
  );
  const subName = (sid: string) => subs.value?.subscriptions.find((s) => s.id === sid)?.name ?? sid;

  return (
    <section aria-labelledby="deliveries-title">
      <h1 id="deliveries-title">Deliveries</h1>
      <div className="toolbar">
        <Field label="Subscription" id="dl-sub">
          <select id="dl-sub" value={subscriptionId} onChange={(e) => setSubscriptionId(e.target.value)}>
            <option value="">All subscriptions</option>
            {subs.value?.subscriptions.map((s) => (
              <option key={s.id} value={s.id}>
                {s.name}
              </option>
            ))}
          </select>
        </Field>
        <Field label="Event type" id="dl-type">
          <select id="dl-type" value={eventType} onChange={(e) => setEventType(e.target.value)}>
            <option value="">All event types</option>
            {eventTypes.value?.eventTypes.map((t) => (
              <option key={t.id} value={t.id}>
                {t.id}
              </option>
            ))}
          </select>
        </Field>
        <Field label="Status" id="dl-status">
          <select id="dl-status" value={status} onChange={(e) => setStatus(Number(e.target.value) as DeliveryStatus)}>
            <option value={DeliveryStatus.UNSPECIFIED}>Any status</option>
            {STATUSES.map(([v, n]) => (
              <option key={v} value={v}>
                {n}
              </option>
            ))}
          </select>
        </Field>
        <Field label="Created from" id="dl-after">
          <input id="dl-after" type="datetime-local" value={after} onChange={(e) => setAfter(e.target.value)} />
        </Field>
        <Field label="Created before" id="dl-before">
          <input id="dl-before" type="datetime-local" value={before} onChange={(e) => setBefore(e.target.value)} />
        </Field>
        <div className="field checkbox">
          <input id="dl-live" type="checkbox" checked={live} onChange={(e) => setLive(e.target.checked)} />
          <label htmlFor="dl-live">Live updates</label>
        </div>
      </div>
      <ErrorBox error={list.error ?? watchError} />
      <p className="muted" data-testid="dl-total">
        {list.value ? `${list.value.total} matching ${list.value.total === 1n ? "delivery" : "deliveries"}` : "Loading…"}
      </p>
      <table>
        <thead>
          <tr>
            <th scope="col">Delivery</th>
            <th scope="col">Subscription</th>
            <th scope="col">Event type</th>
            <th scope="col">Status</th>
            <th scope="col">Attempts</th>
            <th scope="col">Created</th>
          </tr>
        </thead>
        <tbody data-testid="delivery-rows">
          {rows.map((d) => (
            <tr key={d.id} data-delivery={d.id}>
              <td>
                <a href={`#/deliveries/${encodeURIComponent(d.id)}`}>
                  <code>{d.id}</code>
                </a>
                {d.test && <span className="badge">test</span>}
                {d.lastError && <div className="error">{d.lastError}</div>}
              </td>
              <td>{subName(d.subscriptionId)}</td>
              <td>{d.eventType}</td>
              <td>
                <StatusBadge status={d.status} />
              </td>
              <td>{d.attempts}</td>
              <td>{timeText(d.createdAt)}</td>
            </tr>
          ))}
        </tbody>
      </table>
      <div className="buttons">
        <button type="button" disabled={pages.length < 2} onClick={() => setPages(pages.slice(0, -1))}>
          Previous page
        </button>
        <button type="button" disabled={!list.value?.nextPageToken} onClick={() => setPages([...pages, list.value!.nextPageToken])}>
          Next page
        </button>
      </div>
      {/* No reload after it: the rows shown change in place as the watch reports them. */}
      <BulkRedeliver subscriptions={subs.value?.subscriptions.map((s) => ({ id: s.id, name: s.name })) ?? []} />
    </section>
  );
}

function BulkRedeliver({ subscriptions }: { subscriptions: { id: string; name: string }[] }) {
  const [subscriptionId, setSubscriptionId] = useState("");
  const [after, setAfter] = useState("");
  const [before, setBefore] = useState("");
  const [result, setResult] = useState<string>();
  const [error, setError] = useState<string>();
  const run = async () => {
    setResult(undefined);
    setError(undefined);
    try {
      const r = await api.deliveries.bulkRedeliverDeliveries({ subscriptionId, createdAfter: dateOf(after), createdBefore: dateOf(before) });
      setResult(`${r.redelivered} failed ${r.redelivered === 1n ? "delivery" : "deliveries"} redelivered.`);
    } catch (err) {
      setError(messageOf(err));
    }
  };
  return (
    <form
      className="panel"
      aria-labelledby="bulk-title"
      onSubmit={(e) => {
        e.preventDefault();
        void run();
      }}
    >
      <h2 id="bulk-title">Redeliver failed deliveries</h2>
      <div className="toolbar">
        <Field label="Subscription" id="bulk-sub">
          <select id="bulk-sub" required value={subscriptionId} onChange={(e) => setSubscriptionId(e.target.value)}>
            <option value="">Choose…</option>
            {subscriptions.map((s) => (
              <option key={s.id} value={s.id}>
                {s.name}
              </option>
            ))}
          </select>
        </Field>
        <Field label="Created from" id="bulk-after">
          <input id="bulk-after" type="datetime-local" required value={after} onChange={(e) => setAfter(e.target.value)} />
        </Field>
        <Field label="Created before (empty: now)" id="bulk-before">
          <input id="bulk-before" type="datetime-local" value={before} onChange={(e) => setBefore(e.target.value)} />
        </Field>
        <button type="submit">Redeliver failed</button>
      </div>
      <Notice text={result} />
      <ErrorBox error={error} />
    </form>
  );
}

function DeliveryDetail({ id }: { id: string }) {
  const got = useLoad(() => api.deliveries.getDelivery({ id }).then((r) => r.delivery), [id]);
  const [delivery, setDelivery] = useState<Delivery>();
  const [attempts, setAttempts] = useState<DeliveryAttempt[]>([]);
  const [error, setError] = useState<string>();
  const [notice, setNotice] = useState<string>();
  const keep = (d: Delivery | undefined) => d && setDelivery((current) => laterState(current, d));
  // Only the answer to the latest request may set the log: an earlier one can arrive last.
  const attemptsAsked = useRef(0);
  const loadAttempts = () => {
    const asked = ++attemptsAsked.current;
    return api.deliveries.listDeliveryAttempts({ deliveryId: id }).then(
      (r) => asked === attemptsAsked.current && setAttempts(r.attempts),
      (err: unknown) => setError(messageOf(err)),
    );
  };
  const refresh = () => {
    api.deliveries.getDelivery({ id }).then(
      (r) => keep(r.delivery),
      (err: unknown) => setError(messageOf(err)),
    );
    void loadAttempts();
  };
  useEffect(() => {
    keep(got.value);
    void loadAttempts();
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [got.value]);
  const eventId = got.value?.eventId;
  const watchError = useWatch(
    !!eventId,
    { eventId },
    (d) => {
      if (d.id !== id) return;
      keep(d);
      void loadAttempts();
    },
    refresh,
    refresh,
  );
  const redeliver = async () => {
    setError(undefined);
    setNotice(undefined);
    try {
      const r = await api.deliveries.redeliverDelivery({ id });
      keep(r.delivery);
      setNotice("Redelivery started.");
      void loadAttempts();
    } catch (err) {
      setError(messageOf(err));
    }
  };
  const d = delivery;
  return (
    <section aria-labelledby="delivery-title">
      <p>
        <a href="#/deliveries">← Deliveries</a>
      </p>
      <h1 id="delivery-title">
        Delivery <code>{id}</code>
      </h1>
      <ErrorBox error={got.error ?? error ?? watchError} />
      {d && (
        <>
          <dl className="facts">
            <dt>Status</dt>
            <dd data-testid="delivery-status">
              <StatusBadge status={d.status} /> {d.test && <span className="badge">test</span>}
            </dd>
            <dt>Event</dt>
            <dd>
              {d.eventType} · <code>{d.eventId}</code>
            </dd>
            <dt>Subscription</dt>
            <dd>
              <a href={`#/subscriptions/${encodeURIComponent(d.subscriptionId)}`}>{d.subscriptionId}</a> ({d.providerId})
            </dd>
            <dt>Correlation key</dt>
            <dd>{d.correlationKey || "—"}</dd>
            <dt>Next attempt</dt>
            <dd>{timeText(d.nextAttemptAt)}</dd>
            <dt>Last error</dt>
            <dd>{d.lastError || "—"}</dd>
          </dl>
          <button type="button" className="primary" onClick={() => void redeliver()} disabled={d.status === DeliveryStatus.IN_FLIGHT}>
            Redeliver
          </button>
          <Notice text={notice} />
        </>
      )}
      <h2>Attempts</h2>
      <table>
        <thead>
          <tr>
            <th scope="col">#</th>
            <th scope="col">Started</th>
            <th scope="col">Duration</th>
            <th scope="col">Outcome</th>
            <th scope="col">Status code</th>
            <th scope="col">Trigger</th>
            <th scope="col">Error / response</th>
          </tr>
        </thead>
        <tbody data-testid="attempt-rows">
          {attempts.map((a) => (
            <tr key={a.number}>
              <td>{a.number}</td>
              <td>{timeText(a.startedAt)}</td>
              <td>{a.duration ? `${(Number(a.duration.seconds) * 1000 + a.duration.nanos / 1e6).toFixed(0)} ms` : "running"}</td>
              <td>{outcomeName(a.outcome)}</td>
              <td>{a.statusCode || "—"}</td>
              <td>{triggerName(a.trigger)}</td>
              <td>
                {a.error && <div className="error">{a.error}</div>}
                {a.externalId && <div>external id {a.externalId}</div>}
                {a.responseExcerpt && <pre className="code small">{a.responseExcerpt}</pre>}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}
