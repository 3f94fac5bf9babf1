/**
 * The provider type a plugin author implements: the seed's `IntegrationProvider` (`id`,
 * `displayName`, `description`, `icon`, `config`, `connectionSchema`, `supportedEvents`,
 * `documentation`, `deliver`, `testConnection?`, `getConnectionOptions?`), with the contexts
 * its methods get. `deliver` gets the seed's context (`event`, `subscription`,
 * `providerConfig`, `logger`) plus what the plugin protocol adds: the resolved connection, the
 * correlation of the event (its key and what earlier deliveries of that key left behind), and
 * an `AbortSignal` that fires when the host gives up on the call.
 *
 * Capabilities are derived from what a provider defines: `testConnection` (provider configs)
 * or `testConnectionConfig` (connection configs) → test_connection, `getConnectionOptions` → connection_options, migrations in `config` →
 * migrate_config, and Switchyard's `validateConfig` → validate_config, `preview` → preview.
 */

import type { IntegrationLogger } from "./log.js";
import type { IntegrationDeliveryResult } from "./result.js";
import type { Diagnostic, Versioned } from "./schema.js";

/** The event as a provider sees it in one delivery attempt. */
export interface IntegrationEvent {
  /** Fully qualified event type, e.g. "incident.incident.created" (the seed's name for it). */
  eventId: string;
  /** The same as `eventId`. */
  eventType: string;
  /** The id of the published event: the same in its deliveries to every subscription. */
  id: string;
  /** Event data. */
  payload: Record<string, unknown>;
  /** ISO timestamp of when the event happened. */
  timestamp: string;
  /** The same for every attempt of one delivery: receivers dedupe on it. */
  deliveryId: string;
  /** Attempt number, starting at 1. */
  attempt: number;
}

/** One earlier delivery of the same subscription and correlation key. */
export interface CorrelatedDelivery {
  eventType: string;
  /** What its successful attempt returned as external id. */
  externalId?: string;
  /** What its successful attempt returned as `state`. */
  state?: string;
  /** False when it failed or was cancelled. */
  delivered: boolean;
  endedAt?: Date;
  deliveryId: string;
}

/** The events of one thing on the platform (an incident's created, updated, resolved). */
export interface Correlation {
  key: string;
  /** Most recent first, at most 20; only deliveries that ended. */
  earlier: CorrelatedDelivery[];
  /** The oldest earlier delivery that was delivered (typically the "created"). */
  origin(): CorrelatedDelivery | undefined;
  /** The most recent earlier delivery that was delivered. */
  latest(): CorrelatedDelivery | undefined;
}

/** The seed's `IntegrationDeliveryContext`, plus connection, correlation and cancellation. */
export interface IntegrationDeliveryContext<TConfig, TConnection = undefined> {
  event: IntegrationEvent;
  subscription: { id: string; name: string };
  /** Validated, defaults applied, secrets decrypted. Never log it. */
  providerConfig: TConfig;
  /** The resolved connection config, when the provider has a connection schema. */
  connection: TConnection | undefined;
  /** Present when the event type declares a correlation path and the payload has a key. */
  correlation: Correlation | undefined;
  logger: IntegrationLogger;
  /** Aborted when the host cancels the call or its deadline passes. */
  signal: AbortSignal;
}

/** The verdict of a connection test. */
export interface TestConnectionResult {
  success: boolean;
  message: string;
  details?: unknown;
}

/** One choice of a resolver field. */
export interface ConnectionOption {
  value: string;
  label: string;
  description?: string;
}

/** What `getConnectionOptions` gets (the seed's `GetConnectionOptionsParams`). */
export interface GetConnectionOptionsParams<TConnection = unknown> {
  /** The form's `connectionId`, when it has one. */
  connectionId: string;
  resolverName: string;
  /** The form's current values. */
  context: Record<string, unknown> | undefined;
  /** The connection the host resolved for this call (whatever the id), or undefined. */
  getConnectionWithCredentials(connectionId: string): Promise<{ id: string; config: TConnection } | undefined>;
  logger: IntegrationLogger;
}

/** The request a delivery would send, as `preview` renders it (every secret as `[REDACTED]`). */
export interface RenderedRequest {
  method: string;
  url: string;
  /** In the order they are sent; a name may repeat. */
  headers: { name: string; value: string }[];
  body?: string;
}

/**
 * Throw from `getConnectionOptions` when the options cannot be listed because of the user's
 * input (a rejected token, an unreachable base URL): answered in-band as a diagnostic at
 * `jsonPath` in the connection config or the form.
 */
export class OptionsError extends Error {
  constructor(
    message: string,
    readonly jsonPath = "",
  ) {
    super(message);
    this.name = "OptionsError";
  }
}

/** One HTTP header a provider sends, for receivers to rely on. */
export interface HeaderDoc {
  name: string;
  description: string;
}

/** Documentation shown to users who configure the provider. */
export interface ProviderDocumentation {
  /** Markdown. */
  setupGuide?: string;
  /** An example of what the provider sends (a JSON value, or JSON text). */
  examplePayload?: unknown;
  headers?: HeaderDoc[];
  externalDocsUrl?: string;
}

/** The seed's `IntegrationProvider`. */
export interface IntegrationProvider<TConfig, TConnection = undefined> {
  /** Local identifier: lowercase letters, digits and `-`. */
  id: string;
  displayName: string;
  description?: string;
  /** Lucide icon name. */
  icon?: string;
  /** Per-subscription configuration schema. */
  config: Versioned<TConfig>;
  /** Optional site-wide connection schema (shared credentials). */
  connectionSchema?: Versioned<TConnection>;
  /** Events this provider can handle (undefined = all). */
  supportedEvents?: string[];
  documentation?: ProviderDocumentation;
  deliver(context: IntegrationDeliveryContext<TConfig, TConnection>): Promise<IntegrationDeliveryResult>;
  testConnection?(config: TConfig): Promise<TestConnectionResult>;
  /** Switchyard: checks a connection config (shared credentials) against the external system. */
  testConnectionConfig?(connection: TConnection): Promise<TestConnectionResult>;
  getConnectionOptions?(params: GetConnectionOptionsParams<TConnection>): Promise<ConnectionOption[]>;
  /**
   * Switchyard: checks a provider config being saved for what its schema cannot express (a
   * template that does not compile, settings that clash); one diagnostic per problem, each at
   * its JSON Pointer. The coordinator refuses the save when any is returned. Contacts nothing.
   */
  validateConfig?(config: TConfig, context: { connection: TConnection | undefined }): Promise<Diagnostic[]>;
  /**
   * Switchyard: renders exactly the request `deliver` would send, and sends nothing; every
   * secret as `[REDACTED]` (the SDK also scrubs what you forget). Build the request in one
   * function both call, so they cannot drift.
   */
  preview?(context: IntegrationDeliveryContext<TConfig, TConnection>): Promise<RenderedRequest>;
}

/** Any provider, whatever its config types (what a plugin registers). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyProvider = IntegrationProvider<any, any>;

/** Plugin and provider ids: lowercase letters, digits and `-`, starting with a letter. */
export const ID_RE = /^[a-z][a-z0-9-]*$/;
/** Event types: at least three lowercase dot-separated segments. */
export const EVENT_RE = /^[a-z][a-z0-9_-]*(\.[a-z][a-z0-9_-]*){2,}$/;

/** Which optional calls a provider answers. */
export interface Capabilities {
  testConnection: boolean;
  connectionOptions: boolean;
  migrateConfig: boolean;
  validateConfig: boolean;
  preview: boolean;
}

/** The capabilities `provider` declares by what it defines. */
export function capabilitiesOf(provider: AnyProvider): Capabilities {
  const migrations = [provider.config, provider.connectionSchema].some((v) => v !== undefined && v.migrations.length > 0);
  return {
    testConnection: typeof provider.testConnection === "function" || typeof provider.testConnectionConfig === "function",
    connectionOptions: typeof provider.getConnectionOptions === "function",
    migrateConfig: migrations,
    validateConfig: typeof provider.validateConfig === "function",
    preview: typeof provider.preview === "function",
  };
}
