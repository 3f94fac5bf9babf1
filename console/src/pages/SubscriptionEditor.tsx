/**
 * One subscription: create or edit it through the provider's schema form (with a connection
 * picker for connection-based providers, which sets the hidden `connectionId`), Preview what it
 * would send (saved or not), Send test event (saved), enable/disable, delete.
 */

import { create } from "@bufbuild/protobuf";
import { useMemo, useState } from "react";

import { api, messageOf, problemsOf, type Problem } from "../api.js";
import type { EventType } from "../gen/switchyard/coordinator/v1/event_type_pb.js";
import type { Provider } from "../gen/switchyard/coordinator/v1/provider_pb.js";
import { RetryPolicySchema, SubscriptionSchema, type PreviewDeliveryResponse, type Subscription } from "../gen/switchyard/coordinator/v1/subscription_pb.js";
import { SchemaForm } from "../form/SchemaForm.js";
import { parseSchema, wantsConnection } from "../form/xkeys.js";
import { matches, splitList } from "../patterns.js";
import { ErrorBox, Field, Notice, go, prettyJson, useLoad } from "../ui.js";

export function SubscriptionEditorPage({ id, providerId }: { id: string | undefined; providerId: string | undefined }) {
  const providers = useLoad(() => api.providers.listProviders({}), []);
  const eventTypes = useLoad(() => api.eventTypes.listEventTypes({}), []);
  const existing = useLoad(() => (id ? api.subscriptions.getSubscription({ id }).then((r) => r.subscription) : Promise.resolve(undefined)), [id]);
  if (providers.error || eventTypes.error || existing.error) return <ErrorBox error={providers.error ?? eventTypes.error ?? existing.error} />;
  if (!providers.value || !eventTypes.value || existing.loading) return <p>Loading…</p>;
  return <Editor key={id ?? "new"} providers={providers.value.providers} eventTypes={eventTypes.value.eventTypes} initial={existing.value} initialProvider={providerId} />;
}

interface EditorProps {
  providers: Provider[];
  eventTypes: EventType[];
  initial: Subscription | undefined;
  initialProvider: string | undefined;
}

function configOf(s: Subscription | undefined): Record<string, unknown> {
  return s ? (JSON.parse(s.configJson) as Record<string, unknown>) : {};
}

function Editor({ providers, eventTypes, initial, initialProvider }: EditorProps) {
  const [saved, setSaved] = useState(initial);
  const [providerId, setProviderId] = useState(initial?.providerId ?? initialProvider ?? "");
  const [name, setName] = useState(initial?.name ?? "");
  const [description, setDescription] = useState(initial?.description ?? "");
  const [types, setTypes] = useState(initial?.eventTypes.join(", ") ?? "");
  const [systems, setSystems] = useState(initial?.systemIds.join(", ") ?? "");
  const [retry, setRetry] = useState(initial?.retryPolicy?.retryDelays.join(", ") ?? "");
  const [enabled, setEnabled] = useState(initial?.enabled ?? true);
  const [config, setConfig] = useState(() => configOf(initial));
  const [problems, setProblems] = useState<Problem[]>([]);
  const [error, setError] = useState<string>();
  const [notice, setNotice] = useState<string>();
  const provider = providers.find((p) => p.id === providerId);
  const schema = useMemo(() => parseSchema(provider?.configSchema?.jsonSchema), [provider]);
  const needsConnection = !!provider?.connectionSchema || wantsConnection(schema);
  const connections = useLoad(() => (needsConnection ? api.connections.listConnections({ providerId }) : Promise.resolve(undefined)), [providerId, needsConnection]);
  const connectionId = typeof config.connectionId === "string" ? config.connectionId : "";
  const patterns = splitList(types);
  const chosenTypes = eventTypes.filter((t) => patterns.some((p) => matches(p, t.id)));
  const payloadPaths = useMemo(() => [...new Set(chosenTypes.flatMap((t) => t.payloadPaths))].sort(), [chosenTypes.map((t) => t.id).join()]);

  const subscription = () =>
    create(SubscriptionSchema, {
      id: saved?.id ?? "",
      name,
      description,
      providerId,
      configJson: JSON.stringify(config),
      eventTypes: patterns,
      systemIds: splitList(systems),
      retryPolicy: retry.trim() ? create(RetryPolicySchema, { retryDelays: splitList(retry) }) : undefined,
      enabled,
    });
  const fail = (err: unknown) => {
    setProblems(problemsOf(err));
    setError(messageOf(err));
  };
  const begin = () => {
    setError(undefined);
    setNotice(undefined);
    setProblems([]);
  };
  const save = async () => {
    begin();
    try {
      const r = saved ? await api.subscriptions.updateSubscription({ subscription: subscription() }) : await api.subscriptions.createSubscription({ subscription: subscription() });
      const s = r.subscription!;
      setSaved(s);
      setConfig(configOf(s));
      setEnabled(s.enabled);
      setNotice(`Saved "${s.name}".`);
      if (!saved) window.history.replaceState(null, "", `#/subscriptions/${encodeURIComponent(s.id)}`);
    } catch (err) {
      fail(err);
    }
  };
  const toggle = async () => {
    if (!saved) return;
    begin();
    try {
      const s = saved.enabled ? (await api.subscriptions.disableSubscription({ id: saved.id })).subscription! : (await api.subscriptions.enableSubscription({ id: saved.id })).subscription!;
      setSaved(s);
      setEnabled(s.enabled);
      setNotice(s.enabled ? "Enabled." : "Disabled.");
    } catch (err) {
      fail(err);
    }
  };
  const remove = async () => {
    if (!saved || !window.confirm(`Delete the subscription "${saved.name}"?`)) return;
    try {
      await api.subscriptions.deleteSubscription({ id: saved.id });
      go("subscriptions");
    } catch (err) {
      fail(err);
    }
  };

  return (
    <section aria-labelledby="sub-title">
      <p>
        <a href="#/subscriptions">← Subscriptions</a>
      </p>
      <h1 id="sub-title">{saved ? `Subscription "${saved.name}"` : "New subscription"}</h1>
      {saved?.disabledReason && <p className="error">Disabled by the coordinator: {saved.disabledReason}</p>}
      <div className="grid">
        <Field label="Name" id="sub-name">
          <input id="sub-name" value={name} maxLength={200} required onChange={(e) => setName(e.target.value)} />
        </Field>
        <Field label="Provider" id="sub-provider">
          <select
            id="sub-provider"
            value={providerId}
            disabled={!!saved}
            onChange={(e) => {
              setProviderId(e.target.value);
              setConfig({});
              setProblems([]);
            }}
          >
            <option value="">Choose a provider…</option>
            {providers.map((p) => (
              <option key={p.id} value={p.id}>
                {p.displayName} ({p.id})
              </option>
            ))}
          </select>
        </Field>
        <Field label="Event types" id="sub-event-types" hint="Comma-separated ids or patterns (incident.*); the registered types they match are listed above.">
          <input id="sub-event-types" list="sub-event-type-list" value={types} onChange={(e) => setTypes(e.target.value)} />
          <datalist id="sub-event-type-list">
            {eventTypes.map((t) => (
              <option key={t.id} value={t.id}>
                {t.displayName}
              </option>
            ))}
          </datalist>
          <small data-testid="matched-types">{chosenTypes.length ? chosenTypes.map((t) => t.id).join(", ") : "no registered event type"}</small>
        </Field>
        <Field label="System ids (optional)" id="sub-systems" hint="Comma-separated; empty for every system.">
          <input id="sub-systems" value={systems} onChange={(e) => setSystems(e.target.value)} />
        </Field>
        <Field label="Retry delays (optional)" id="sub-retry" hint="e.g. 1m, 5m, 15m; empty for the coordinator's default.">
          <input id="sub-retry" value={retry} onChange={(e) => setRetry(e.target.value)} />
        </Field>
        <div className="field checkbox">
          <input id="sub-enabled" type="checkbox" checked={enabled} onChange={(e) => setEnabled(e.target.checked)} />
          <label htmlFor="sub-enabled">Enabled</label>
        </div>
      </div>
      <Field label="Description (optional)" id="sub-description">
        <textarea id="sub-description" value={description} maxLength={4000} rows={2} onChange={(e) => setDescription(e.target.value)} />
      </Field>
      {needsConnection && (
        <Field label="Connection" id="sub-connection">
          <select id="sub-connection" value={connectionId} onChange={(e) => setConfig({ ...config, connectionId: e.target.value || undefined })}>
            <option value="">Choose a connection…</option>
            {connections.value?.connections.map((c) => (
              <option key={c.id} value={c.id}>
                {c.name}
              </option>
            ))}
          </select>
        </Field>
      )}
      {problems.filter((p) => p.path === "/connectionId").map((p) => (
        <p key={p.message} className="error">
          {p.message}
        </p>
      ))}
      {provider ? (
        <SchemaForm
          idPrefix="cfg"
          schema={schema}
          value={config}
          context={{ providerId, connectionId, needsConnection, payloadPaths }}
          problems={problems}
          onChange={setConfig}
          onSubmit={() => void save()}
        >
          <div className="buttons">
            <button type="submit" className="primary">
              {saved ? "Save subscription" : "Create subscription"}
            </button>
            {saved && (
              <button type="button" onClick={() => void toggle()}>
                {saved.enabled ? "Disable" : "Enable"}
              </button>
            )}
            {saved && (
              <button type="button" className="danger" onClick={() => void remove()}>
                Delete
              </button>
            )}
          </div>
        </SchemaForm>
      ) : (
        <p>Choose a provider to configure.</p>
      )}
      <Notice text={notice} />
      <ErrorBox error={error} />
      {provider && <Try provider={provider} saved={saved} config={config} connectionId={connectionId} types={chosenTypes} onProblems={setProblems} />}
    </section>
  );
}

interface TryProps {
  provider: Provider;
  saved: Subscription | undefined;
  config: Record<string, unknown>;
  connectionId: string;
  types: EventType[];
  onProblems(problems: Problem[]): void;
}

/** Preview (of the form as it stands) and Send test event (of the saved subscription). */
function Try({ provider, saved, config, connectionId, types, onProblems }: TryProps) {
  const [eventType, setEventType] = useState("");
  const [payload, setPayload] = useState("");
  const [preview, setPreview] = useState<PreviewDeliveryResponse>();
  const [error, setError] = useState<string>();
  const [sent, setSent] = useState<{ id: string; text: string }>();
  const chosen = eventType || types[0]?.id || "";

  const doPreview = async () => {
    setError(undefined);
    setPreview(undefined);
    try {
      // The saved subscription as stored (its secrets included), or the form as it stands.
      const unchanged = saved && JSON.stringify(configOf(saved)) === JSON.stringify(config);
      const target = unchanged ? { subscriptionId: saved.id } : { providerId: provider.id, configJson: JSON.stringify(config), connectionId };
      setPreview(await api.subscriptions.previewDelivery({ ...target, eventType: chosen, payloadJson: payload.trim() }));
    } catch (err) {
      onProblems(problemsOf(err));
      setError(messageOf(err));
    }
  };
  const doSend = async () => {
    if (!saved) return;
    setError(undefined);
    setSent(undefined);
    try {
      const r = await api.subscriptions.sendTestEvent({ subscriptionId: saved.id, eventType: chosen, payloadJson: payload.trim() });
      setSent({ id: r.delivery!.id, text: `Test event sent: delivery ${r.delivery!.id}.` });
    } catch (err) {
      setError(messageOf(err));
    }
  };

  return (
    <div className="panel" role="region" aria-labelledby="try-title">
      <h2 id="try-title">Try it</h2>
      <div className="grid">
        <Field label="Event type to try" id="try-event-type">
          <select id="try-event-type" value={chosen} onChange={(e) => setEventType(e.target.value)}>
            {types.length === 0 && <option value="">Pick event types above first</option>}
            {types.map((t) => (
              <option key={t.id} value={t.id}>
                {t.id}
              </option>
            ))}
          </select>
        </Field>
        <Field label="Payload (optional JSON)" id="try-payload" hint="Empty: an example made from the event type's schema.">
          <textarea id="try-payload" rows={3} value={payload} onChange={(e) => setPayload(e.target.value)} />
        </Field>
      </div>
      <div className="buttons">
        <button type="button" disabled={!provider.capabilities?.preview || !chosen} onClick={() => void doPreview()} title={provider.capabilities?.preview ? "" : "This provider has no preview"}>
          Preview
        </button>
        <button type="button" disabled={!saved || !chosen} onClick={() => void doSend()} title={saved ? "" : "Save the subscription first"}>
          Send test event
        </button>
      </div>
      <ErrorBox error={error} />
      {sent && (
        <p className="notice" role="status">
          {sent.text} <a href={`#/deliveries/${encodeURIComponent(sent.id)}`}>Follow it</a>
        </p>
      )}
      {preview?.request && (
        <div data-testid="preview">
          <h3>
            {preview.request.method} {preview.request.url}
          </h3>
          <table>
            <tbody>
              {preview.request.headers.map((h, i) => (
                <tr key={i}>
                  <th scope="row">{h.name}</th>
                  <td>{h.value}</td>
                </tr>
              ))}
            </tbody>
          </table>
          <pre className="code">{prettyJson(preview.request.body)}</pre>
          <p className="muted">
            {preview.eventType}, {preview.examplePayload ? "example payload" : "your payload"}
          </p>
        </div>
      )}
    </div>
  );
}
