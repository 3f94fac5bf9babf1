/**
 * The plugin's own definition, checked once before the handshake so that an author's mistake
 * (a bad id, a duplicate, an unreadable schema, a malformed event name) stops the plugin with a
 * message naming the provider instead of reaching the host, and the protocol's view of each
 * provider (its `Provider` message, JSON schemas and resolver names), computed once.
 */

import { Provider as PbProvider } from "./gen/switchyard/plugin/v1/plugin.js";
import { capabilitiesOf, EVENT_RE, ID_RE, type AnyProvider } from "./provider.js";
import { resolverNames, type Versioned } from "./schema.js";

/** The plugin's definition is wrong: a bug for its author. */
export class PluginDefinitionError extends Error {
  override name = "PluginDefinitionError";
}

/** One provider as the service serves it. */
export interface Registered {
  provider: AnyProvider;
  configSchema: Record<string, unknown>;
  connectionSchema: Record<string, unknown> | undefined;
  resolvers: Set<string>;
  proto: PbProvider;
}

function schemaOf(where: string, name: string, versioned: Versioned<unknown>): Record<string, unknown> {
  if (!Number.isInteger(versioned.version) || versioned.version < 1) {
    throw new PluginDefinitionError(`${where}: ${name}.version must be an integer, 1 or more`);
  }
  try {
    return versioned.jsonSchema();
  } catch (err) {
    throw new PluginDefinitionError(`${where}: ${name} cannot be turned into JSON Schema: ${(err as Error).message}`);
  }
}

function checkDescriptive(where: string, p: AnyProvider): void {
  if (typeof p.displayName !== "string" || !p.displayName.trim()) {
    throw new PluginDefinitionError(`${where}: displayName is required`);
  }
  if (typeof p.deliver !== "function") throw new PluginDefinitionError(`${where}: deliver must be a function`);
  for (const event of p.supportedEvents ?? []) {
    if (!EVENT_RE.test(event)) {
      throw new PluginDefinitionError(`${where}: supported event ${JSON.stringify(event)} must look like incident.incident.created`);
    }
  }
  const example = p.documentation?.examplePayload;
  if (typeof example === "string" && example) {
    try {
      JSON.parse(example);
    } catch (err) {
      throw new PluginDefinitionError(`${where}: documentation.examplePayload is not JSON: ${(err as Error).message}`);
    }
  }
}

function toProto(p: AnyProvider, config: Record<string, unknown>, connection: Record<string, unknown> | undefined): PbProvider {
  const doc = p.documentation ?? {};
  const example = doc.examplePayload;
  const caps = capabilitiesOf(p);
  return PbProvider.fromPartial({
    id: p.id,
    displayName: p.displayName,
    description: p.description ?? "",
    icon: p.icon ?? "",
    configSchema: { version: p.config.version, jsonSchema: JSON.stringify(config) },
    connectionSchema:
      connection && p.connectionSchema
        ? { version: p.connectionSchema.version, jsonSchema: JSON.stringify(connection) }
        : undefined,
    supportedEvents: [...(p.supportedEvents ?? [])],
    documentation: {
      setupGuide: doc.setupGuide ?? "",
      examplePayload: example === undefined ? "" : typeof example === "string" ? example : JSON.stringify(example, null, 2),
      headers: (doc.headers ?? []).map((h) => ({ name: h.name, description: h.description })),
      externalDocsUrl: doc.externalDocsUrl ?? "",
    },
    capabilities: caps,
  });
}

/** Checks `providers` and computes what the service needs; throws {@link PluginDefinitionError}. */
export function register(pluginId: string, providers: readonly AnyProvider[]): Map<string, Registered> {
  if (!ID_RE.test(pluginId)) throw new PluginDefinitionError(`plugin id ${JSON.stringify(pluginId)} must match ${ID_RE}`);
  if (providers.length === 0) throw new PluginDefinitionError(`plugin ${JSON.stringify(pluginId)} serves no provider`);
  const registered = new Map<string, Registered>();
  for (const p of providers) {
    const where = `provider ${JSON.stringify(p.id)}`;
    if (typeof p.id !== "string" || !ID_RE.test(p.id)) throw new PluginDefinitionError(`${where}: id must match ${ID_RE}`);
    if (registered.has(p.id)) throw new PluginDefinitionError(`${where}: id is used twice`);
    if (!p.config || typeof p.config.jsonSchema !== "function") {
      throw new PluginDefinitionError(`${where}: config must be a Versioned({ version, schema })`);
    }
    checkDescriptive(where, p);
    const config = schemaOf(where, "config", p.config);
    const connection = p.connectionSchema ? schemaOf(where, "connectionSchema", p.connectionSchema) : undefined;
    const resolvers = resolverNames(config);
    if (connection) resolverNames(connection, resolvers);
    registered.set(p.id, { provider: p, configSchema: config, connectionSchema: connection, resolvers, proto: toProto(p, config, connection) });
  }
  return registered;
}
