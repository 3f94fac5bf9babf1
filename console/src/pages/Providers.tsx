/** Providers: every provider of the running plugins, and one provider's documentation. */

import { api } from "../api.js";
import type { Provider } from "../gen/switchyard/coordinator/v1/provider_pb.js";
import { renderMarkdown } from "../markdown.js";
import { ErrorBox, prettyJson, useLoad } from "../ui.js";

function capabilityList(p: Provider): string[] {
  const c = p.capabilities;
  if (!c) return [];
  const names: [boolean, string][] = [
    [c.testConnection, "test connection"],
    [c.connectionOptions, "connection options"],
    [c.migrateConfig, "config migration"],
    [c.validateConfig, "config validation"],
    [c.preview, "preview"],
  ];
  return names.filter(([on]) => on).map(([, n]) => n);
}

function Running({ on }: { on: boolean }) {
  return <span className={on ? "badge ok" : "badge bad"}>{on ? "running" : "not running"}</span>;
}

export function ProvidersPage({ id }: { id: string | undefined }) {
  const list = useLoad(() => api.providers.listProviders({}), []);
  if (id) return <ProviderDetail id={id} />;
  return (
    <section aria-labelledby="providers-title">
      <h1 id="providers-title">Providers</h1>
      <ErrorBox error={list.error} />
      <table>
        <thead>
          <tr>
            <th scope="col">Provider</th>
            <th scope="col">Plugin</th>
            <th scope="col">State</th>
            <th scope="col">Capabilities</th>
          </tr>
        </thead>
        <tbody>
          {list.value?.providers.map((p) => (
            <tr key={p.id}>
              <td>
                <a href={`#/providers/${encodeURIComponent(p.id)}`}>{p.displayName}</a>
                <div className="muted">
                  <code>{p.id}</code> — {p.description}
                </div>
              </td>
              <td>
                {p.pluginId} {p.pluginVersion}
              </td>
              <td>
                <Running on={p.running} />
              </td>
              <td>{capabilityList(p).join(", ") || "—"}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}

function ProviderDetail({ id }: { id: string }) {
  const got = useLoad(() => api.providers.getProvider({ id }), [id]);
  const p = got.value?.provider;
  return (
    <section aria-labelledby="provider-title">
      <p>
        <a href="#/providers">← Providers</a>
      </p>
      <ErrorBox error={got.error} />
      {p && (
        <>
          <h1 id="provider-title">
            {p.displayName} <Running on={p.running} />
          </h1>
          <p>
            <code>{p.id}</code> · plugin {p.pluginId} {p.pluginVersion} · config schema v{p.configSchema?.version}
            {p.connectionSchema && ` · connection schema v${p.connectionSchema.version}`}
          </p>
          <p>{p.description}</p>
          <h2>Capabilities</h2>
          <ul className="chips">
            {capabilityList(p).map((c) => (
              <li key={c}>{c}</li>
            ))}
            {capabilityList(p).length === 0 && <li>none beyond delivering</li>}
          </ul>
          <h2>Event types</h2>
          <p>{p.supportedEvents.length ? p.supportedEvents.join(", ") : "all"}</p>
          <h2>Setup guide</h2>
          <div className="markdown" dangerouslySetInnerHTML={{ __html: renderMarkdown(p.documentation?.setupGuide ?? "") }} />
          {p.documentation?.externalDocsUrl && (
            <p>
              <a href={p.documentation.externalDocsUrl} rel="noreferrer noopener" target="_blank">
                The vendor's documentation
              </a>
            </p>
          )}
          {p.documentation?.examplePayload && (
            <>
              <h2>Example payload</h2>
              <pre className="code">{prettyJson(p.documentation.examplePayload)}</pre>
            </>
          )}
          {!!p.documentation?.headers.length && (
            <>
              <h2>Headers</h2>
              <table>
                <thead>
                  <tr>
                    <th scope="col">Header</th>
                    <th scope="col">What it carries</th>
                  </tr>
                </thead>
                <tbody>
                  {p.documentation.headers.map((h) => (
                    <tr key={h.name}>
                      <td>
                        <code>{h.name}</code>
                      </td>
                      <td dangerouslySetInnerHTML={{ __html: renderMarkdown(h.description) }} />
                    </tr>
                  ))}
                </tbody>
              </table>
            </>
          )}
          <p>
            <a href={`#/subscriptions/new/${encodeURIComponent(p.id)}`}>Create a subscription with this provider</a>
          </p>
        </>
      )}
    </section>
  );
}
