/**
 * Connections: a provider's shared credentials. List (by provider), create and edit through
 * the connection schema's form, delete, and Test connection — of the form as it stands (saved
 * or not: secrets left blank are taken from the saved connection) or of a saved one.
 */

import { useState } from "react";

import { api, messageOf, problemsOf, type Problem } from "../api.js";
import { ConfigKind, type Connection, type TestConnectionResponse } from "../gen/switchyard/coordinator/v1/connection_pb.js";
import type { Provider } from "../gen/switchyard/coordinator/v1/provider_pb.js";
import { SchemaForm } from "../form/SchemaForm.js";
import { parseSchema } from "../form/xkeys.js";
import { ErrorBox, Field, Notice, timeText, useLoad } from "../ui.js";

function TestResult({ result }: { result: TestConnectionResponse | undefined }) {
  if (!result) return null;
  return (
    <div className={result.success ? "notice" : "error"} role="status" data-testid="test-result">
      <strong>{result.success ? "Connection works" : "Connection failed"}:</strong> {result.message}
      {result.problems.map((p) => (
        <div key={p.jsonPath + p.message}>
          {p.jsonPath || "(config)"}: {p.message}
        </div>
      ))}
    </div>
  );
}

export function ConnectionsPage() {
  const providers = useLoad(() => api.providers.listProviders({}), []);
  const [filter, setFilter] = useState("");
  const list = useLoad(() => api.connections.listConnections({ providerId: filter }), [filter]);
  // `session` keys the editor: a new one for each New/Edit, the same one across its saves.
  const [editing, setEditing] = useState<{ provider: Provider; connection?: Connection; session: number } | null>(null);
  const [newProvider, setNewProvider] = useState("");
  const [results, setResults] = useState<Record<string, TestConnectionResponse | string>>({});
  const withConnections = providers.value?.providers.filter((p) => p.connectionSchema) ?? [];
  const providerOf = (id: string) => providers.value?.providers.find((p) => p.id === id);

  const test = async (c: Connection) => {
    try {
      const r = await api.connections.testConnection({ providerId: c.providerId, kind: ConfigKind.CONNECTION, connectionId: c.id });
      setResults((s) => ({ ...s, [c.id]: r }));
    } catch (err) {
      setResults((s) => ({ ...s, [c.id]: messageOf(err) }));
    }
  };
  const remove = async (c: Connection) => {
    if (!window.confirm(`Delete the connection "${c.name}"?`)) return;
    try {
      await api.connections.deleteConnection({ id: c.id });
      list.reload();
    } catch (err) {
      setResults((s) => ({ ...s, [c.id]: messageOf(err) }));
    }
  };

  return (
    <section aria-labelledby="connections-title">
      <h1 id="connections-title">Connections</h1>
      <ErrorBox error={providers.error ?? list.error} />
      <div className="toolbar">
        <Field label="Provider" id="conn-filter">
          <select id="conn-filter" value={filter} onChange={(e) => setFilter(e.target.value)}>
            <option value="">All providers</option>
            {withConnections.map((p) => (
              <option key={p.id} value={p.id}>
                {p.displayName}
              </option>
            ))}
          </select>
        </Field>
        <Field label="New connection for" id="conn-new-provider">
          <select id="conn-new-provider" value={newProvider} onChange={(e) => setNewProvider(e.target.value)}>
            <option value="">Choose a provider…</option>
            {withConnections.map((p) => (
              <option key={p.id} value={p.id}>
                {p.displayName}
              </option>
            ))}
          </select>
        </Field>
        <button
          type="button"
          disabled={!newProvider}
          onClick={() => {
            const p = providerOf(newProvider);
            if (p) setEditing({ provider: p, session: Date.now() });
          }}
        >
          New connection
        </button>
      </div>
      {editing && (
        <ConnectionEditor
          key={editing.session}
          provider={editing.provider}
          connection={editing.connection}
          onSaved={(c) => {
            setEditing({ ...editing, connection: c });
            list.reload();
          }}
          onClose={() => setEditing(null)}
        />
      )}
      <table>
        <thead>
          <tr>
            <th scope="col">Name</th>
            <th scope="col">Provider</th>
            <th scope="col">Updated</th>
            <th scope="col">Actions</th>
          </tr>
        </thead>
        <tbody>
          {list.value?.connections.map((c) => {
            const r = results[c.id];
            return (
              <tr key={c.id}>
                <td>
                  {c.name}
                  <div className="muted">
                    <code>{c.id}</code>
                  </div>
                  {c.migrationError && <p className="error">{c.migrationError}</p>}
                </td>
                <td>{providerOf(c.providerId)?.displayName ?? c.providerId}</td>
                <td>{timeText(c.updatedAt)}</td>
                <td>
                  <div className="actions">
                  <button
                    type="button"
                    onClick={() => {
                      const p = providerOf(c.providerId);
                      if (p) setEditing({ provider: p, connection: c, session: Date.now() });
                    }}
                  >
                    Edit <span className="sr-only">{c.name}</span>
                  </button>
                  <button type="button" onClick={() => void test(c)} disabled={!providerOf(c.providerId)?.capabilities?.testConnection}>
                    Test <span className="sr-only">{c.name}</span>
                  </button>
                  <button type="button" className="danger" onClick={() => void remove(c)}>
                    Delete <span className="sr-only">{c.name}</span>
                  </button>
                  </div>
                  {typeof r === "string" ? <ErrorBox error={r} /> : <TestResult result={r} />}
                </td>
              </tr>
            );
          })}
          {list.value?.connections.length === 0 && (
            <tr>
              <td colSpan={4}>No connections yet.</td>
            </tr>
          )}
        </tbody>
      </table>
    </section>
  );
}

function ConnectionEditor({ provider, connection, onSaved, onClose }: { provider: Provider; connection?: Connection; onSaved(c: Connection): void; onClose(): void }) {
  const schema = parseSchema(provider.connectionSchema?.jsonSchema);
  const [name, setName] = useState(connection?.name ?? "");
  const [value, setValue] = useState<Record<string, unknown>>(() => (connection ? (JSON.parse(connection.configJson) as Record<string, unknown>) : {}));
  const [problems, setProblems] = useState<Problem[]>([]);
  const [error, setError] = useState<string>();
  const [saved, setSaved] = useState<string>();
  const [result, setResult] = useState<TestConnectionResponse>();

  const save = async (config: Record<string, unknown>) => {
    setError(undefined);
    setSaved(undefined);
    setProblems([]);
    try {
      const configJson = JSON.stringify(config);
      const r = connection
        ? await api.connections.updateConnection({ id: connection.id, name, configJson })
        : await api.connections.createConnection({ providerId: provider.id, name, configJson });
      const c = r.connection!;
      setValue(JSON.parse(c.configJson) as Record<string, unknown>);
      setSaved(`Saved "${c.name}".`);
      onSaved(c);
    } catch (err) {
      setProblems(problemsOf(err));
      setError(messageOf(err));
    }
  };
  const test = async () => {
    setResult(undefined);
    setError(undefined);
    try {
      setResult(await api.connections.testConnection({ providerId: provider.id, kind: ConfigKind.CONNECTION, configJson: JSON.stringify(value), connectionId: connection?.id ?? "" }));
    } catch (err) {
      setError(messageOf(err));
    }
  };

  return (
    <div className="panel" role="region" aria-labelledby="conn-editor-title">
      <h2 id="conn-editor-title">
        {connection ? `Edit connection "${connection.name}"` : "New connection"} — {provider.displayName}
      </h2>
      <Field label="Name" id="conn-name">
        <input id="conn-name" value={name} required maxLength={200} onChange={(e) => setName(e.target.value)} />
      </Field>
      <SchemaForm
        idPrefix="conn"
        schema={schema}
        value={value}
        context={{ providerId: provider.id, connectionId: connection?.id ?? "", needsConnection: false, payloadPaths: [] }}
        problems={problems}
        onChange={setValue}
        onSubmit={(v) => void save(v)}
      >
        <div className="buttons">
          <button type="submit" className="primary">
            {connection ? "Save connection" : "Create connection"}
          </button>
          {provider.capabilities?.testConnection && (
            <button type="button" onClick={() => void test()}>
              Test connection
            </button>
          )}
          <button type="button" onClick={onClose}>
            Close
          </button>
        </div>
      </SchemaForm>
      <Notice text={saved} />
      <ErrorBox error={error} />
      <TestResult result={result} />
    </div>
  );
}
