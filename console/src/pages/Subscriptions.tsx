/** Subscriptions: the list with its filters and total, and enable/disable from it. */

import { useState } from "react";

import { api, messageOf } from "../api.js";
import type { Subscription } from "../gen/switchyard/coordinator/v1/subscription_pb.js";
import { ErrorBox, Field, go, timeText, useLoad } from "../ui.js";

export function SubscriptionsPage() {
  const providers = useLoad(() => api.providers.listProviders({}), []);
  const eventTypes = useLoad(() => api.eventTypes.listEventTypes({}), []);
  const [provider, setProvider] = useState("");
  const [eventType, setEventType] = useState("");
  const [enabled, setEnabled] = useState("");
  const [pages, setPages] = useState<string[]>([""]);
  const pageToken = pages[pages.length - 1] ?? "";
  const list = useLoad(
    () => api.subscriptions.listSubscriptions({ providerId: provider, eventType, enabled: enabled === "" ? undefined : enabled === "yes", pageSize: 50, pageToken }),
    [provider, eventType, enabled, pageToken],
  );
  const [error, setError] = useState<string>();
  const filterChanged = <T,>(set: (v: T) => void) => (v: T) => {
    set(v);
    setPages([""]);
  };

  const toggle = async (s: Subscription) => {
    setError(undefined);
    try {
      if (s.enabled) await api.subscriptions.disableSubscription({ id: s.id });
      else await api.subscriptions.enableSubscription({ id: s.id });
      list.reload();
    } catch (err) {
      setError(messageOf(err));
    }
  };
  const name = (id: string) => providers.value?.providers.find((p) => p.id === id)?.displayName ?? id;

  return (
    <section aria-labelledby="subs-title">
      <h1 id="subs-title">Subscriptions</h1>
      <div className="toolbar">
        <Field label="Provider" id="subs-provider">
          <select id="subs-provider" value={provider} onChange={(e) => filterChanged(setProvider)(e.target.value)}>
            <option value="">All providers</option>
            {providers.value?.providers.map((p) => (
              <option key={p.id} value={p.id}>
                {p.displayName}
              </option>
            ))}
          </select>
        </Field>
        <Field label="Event type" id="subs-event-type">
          <select id="subs-event-type" value={eventType} onChange={(e) => filterChanged(setEventType)(e.target.value)}>
            <option value="">All event types</option>
            {eventTypes.value?.eventTypes.map((t) => (
              <option key={t.id} value={t.id}>
                {t.displayName} ({t.id})
              </option>
            ))}
          </select>
        </Field>
        <Field label="State" id="subs-enabled">
          <select id="subs-enabled" value={enabled} onChange={(e) => filterChanged(setEnabled)(e.target.value)}>
            <option value="">Enabled and disabled</option>
            <option value="yes">Enabled</option>
            <option value="no">Disabled</option>
          </select>
        </Field>
        <button type="button" className="primary" onClick={() => go("subscriptions", "new")}>
          New subscription
        </button>
      </div>
      <ErrorBox error={list.error ?? error} />
      <p className="muted" data-testid="subs-total">
        {list.value ? `${list.value.total} subscription${list.value.total === 1n ? "" : "s"}` : "Loading…"}
      </p>
      <table>
        <thead>
          <tr>
            <th scope="col">Name</th>
            <th scope="col">Provider</th>
            <th scope="col">Event types</th>
            <th scope="col">State</th>
            <th scope="col">Updated</th>
          </tr>
        </thead>
        <tbody>
          {list.value?.subscriptions.map((s) => (
            <tr key={s.id}>
              <td>
                <a href={`#/subscriptions/${encodeURIComponent(s.id)}`}>{s.name}</a>
                <div className="muted">
                  <code>{s.id}</code>
                </div>
              </td>
              <td>{name(s.providerId)}</td>
              <td>{s.eventTypes.join(", ")}</td>
              <td>
                <span className={s.enabled ? "badge ok" : "badge"}>{s.enabled ? "enabled" : "disabled"}</span>
                {s.disabledReason && <div className="error">{s.disabledReason}</div>}
                <button type="button" onClick={() => void toggle(s)}>
                  {s.enabled ? "Disable" : "Enable"} <span className="sr-only">{s.name}</span>
                </button>
              </td>
              <td>{timeText(s.updatedAt)}</td>
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
    </section>
  );
}
