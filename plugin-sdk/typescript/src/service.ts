/**
 * `switchyard.plugin.v1.ProviderPlugin` over the registered providers. Status codes follow
 * `plugin.proto`: NOT_FOUND for an unknown provider or resolver, UNIMPLEMENTED for an undeclared
 * capability, INVALID_ARGUMENT for a malformed request (a missing message, a JSON field that is
 * not JSON), INTERNAL for a provider that threw. A config that does not match its schema is
 * answered in-band with diagnostics, never with a status.
 *
 * Every answer is scrubbed of the call's secrets (the values its schemas mark `x-secret`, and
 * their usual encodings) before it leaves, and the scrubber stays active while the provider
 * runs, so its log lines and HTTP error excerpts hide them too.
 */

import { status, type ServerUnaryCall } from "@grpc/grpc-js";

import {
  ConfigKind,
  DeliverResponse,
  DescribeResponse,
  GetConnectionOptionsResponse,
  MigrateConfigResponse,
  TestConnectionResponse,
  type DeliverRequest,
  type GetConnectionOptionsRequest,
  PreviewResponse,
  ValidateConfigResponse,
  type MigrateConfigRequest,
  type PreviewRequest,
  type ProviderPluginServer,
  type TestConnectionRequest,
  type ValidateConfigRequest,
} from "./gen/switchyard/plugin/v1/plugin.js";
import {
  checkedConfigs,
  correlationOf,
  deliverCaught,
  guarded,
  hasJsonPath,
  kindOf,
  parse,
  RpcFailure,
  scrubberOf,
  scrubDiagnostics,
  signalOf,
  unary,
} from "./calls.js";
import { logger } from "./log.js";
import { inDeliverSpan, tracingEnabled } from "./tracing.js";
import { PAYLOAD_JSON } from "./template/json.js";
import type { IntegrationDeliveryContext, TestConnectionResult } from "./provider.js";
import type { Registered } from "./registry.js";
import { invalidConfig, permanent, toResponse, type IntegrationDeliveryResult } from "./result.js";
import { MigrationError, type Diagnostic, type Versioned } from "./schema.js";

export { RpcFailure } from "./calls.js";

/** The service over `registered`. */
export class ProviderService {
  private readonly describeAnswer: DescribeResponse;

  constructor(
    private readonly registered: Map<string, Registered>,
    pluginId: string,
    pluginVersion: string,
    protocolVersion: number,
  ) {
    this.describeAnswer = DescribeResponse.fromPartial({
      pluginId,
      pluginVersion,
      protocolVersion,
      providers: [...registered.values()].map((r) => r.proto),
    });
  }

  private lookup(id: string): Registered {
    const found = this.registered.get(id);
    if (found) return found;
    const served = [...this.registered.keys()].sort().join(", ") || "none";
    throw new RpcFailure(status.NOT_FOUND, `unknown provider ${JSON.stringify(id)}; this plugin serves: ${served}`);
  }

  private require(reg: Registered, capability: "testConnection" | "connectionOptions" | "migrateConfig" | "validateConfig" | "preview"): void {
    if (!reg.proto.capabilities?.[capability]) {
      throw new RpcFailure(status.UNIMPLEMENTED, `provider ${JSON.stringify(reg.provider.id)} does not declare ${capability}`);
    }
  }

  /** The context of a Deliver (or Preview) request, or the response for a request that cannot be delivered. */
  private contextOf(reg: Registered, request: DeliverRequest, call: ServerUnaryCall<unknown, unknown>): IntegrationDeliveryContext<unknown, unknown> | IntegrationDeliveryResult {
    const { event, subscription } = request;
    if (!event || !subscription) throw new RpcFailure(status.INVALID_ARGUMENT, "DeliverRequest needs both event and subscription");
    const payload = parse(event.payloadJson, "event.payload_json", {});
    const checked = checkedConfigs(reg, request.configJson, request.connectionJson);
    if ("diagnostics" in checked) return invalidConfig(checked.diagnostics);
    const supported = reg.provider.supportedEvents;
    if (supported?.length && !supported.includes(event.eventType)) {
      return permanent(`provider ${JSON.stringify(reg.provider.id)} does not handle ${JSON.stringify(event.eventType)}`);
    }
    const seen = {
      eventId: event.eventType,
      eventType: event.eventType,
      id: event.eventId,
      payload: (payload ?? {}) as Record<string, unknown>,
      timestamp: (event.timestamp ?? new Date(0)).toISOString(),
      deliveryId: event.deliveryId,
      attempt: event.attempt,
    };
    // Kept for templates, which tell `3.0` from `3` and keep big integers exact.
    Object.defineProperty(seen, PAYLOAD_JSON, { value: event.payloadJson });
    return {
      event: seen,
      subscription: { id: subscription.id, name: subscription.name },
      providerConfig: checked.config,
      connection: checked.connection,
      correlation: correlationOf(request),
      logger: logger(`provider.${reg.provider.id}`),
      signal: signalOf(call),
    };
  }

  async deliver(request: DeliverRequest, call: ServerUnaryCall<DeliverRequest, DeliverResponse>): Promise<DeliverResponse> {
    const reg = this.lookup(request.providerId);
    const context = this.contextOf(reg, request, call as ServerUnaryCall<unknown, unknown>);
    if (!("event" in context)) return toResponse(context, false);
    const secrets = scrubberOf([
      [reg.configSchema, request.configJson],
      [reg.connectionSchema, request.connectionJson],
    ]);
    const { value, state } = await guarded(secrets, "Deliver", () => deliverCaught(reg, context));
    const answer = toResponse(value, state.unretryable);
    return DeliverResponse.fromPartial({
      ...answer,
      error: secrets.scrub(answer.error),
      externalId: secrets.scrub(answer.externalId),
      responseExcerpt: secrets.scrub(answer.responseExcerpt),
      state: secrets.scrub(answer.state),
      diagnostics: scrubDiagnostics(secrets, answer.diagnostics),
    });
  }

  async validateConfig(request: ValidateConfigRequest): Promise<ValidateConfigResponse> {
    const reg = this.lookup(request.providerId);
    this.require(reg, "validateConfig");
    const kind = kindOf(request.kind);
    const versioned: Versioned<unknown> | undefined = kind === ConfigKind.CONFIG_KIND_PROVIDER ? reg.provider.config : reg.provider.connectionSchema;
    if (!versioned) throw new RpcFailure(status.INVALID_ARGUMENT, `provider ${JSON.stringify(reg.provider.id)} has no connection schema`);
    const checked = versioned.check(parse(request.configJson, "config_json"));
    if (!checked.ok) return ValidateConfigResponse.fromPartial({ diagnostics: checked.diagnostics });
    // The provider's own checks are of provider configs; a connection config has only its schema's.
    if (kind === ConfigKind.CONFIG_KIND_CONNECTION) return ValidateConfigResponse.fromPartial({ diagnostics: [] });
    let connection: unknown;
    if (reg.provider.connectionSchema && request.connectionJson.trim()) connection = parse(request.connectionJson, "connection_json");
    const secrets = scrubberOf([[reg.configSchema, request.configJson], [reg.connectionSchema, request.connectionJson]]);
    const validate = reg.provider.validateConfig!.bind(reg.provider);
    const { value } = await guarded(secrets, "ValidateConfig", () => validate(checked.value, { connection }));
    return ValidateConfigResponse.fromPartial({ diagnostics: scrubDiagnostics(secrets, value) });
  }

  async preview(request: PreviewRequest, call: ServerUnaryCall<PreviewRequest, PreviewResponse>): Promise<PreviewResponse> {
    if (!request.delivery) throw new RpcFailure(status.INVALID_ARGUMENT, "PreviewRequest.delivery is required");
    const reg = this.lookup(request.delivery.providerId);
    this.require(reg, "preview");
    const context = this.contextOf(reg, request.delivery, call as ServerUnaryCall<unknown, unknown>);
    if (!("event" in context)) {
      const diagnostics = context.diagnostics?.length ? context.diagnostics : [{ jsonPath: "", message: context.error ?? "cannot be delivered" }];
      return PreviewResponse.fromPartial({ diagnostics });
    }
    const secrets = scrubberOf([[reg.configSchema, request.delivery.configJson], [reg.connectionSchema, request.delivery.connectionJson]]);
    const render = reg.provider.preview!.bind(reg.provider);
    const { value } = await guarded(secrets, "Preview", () => render(context));
    // A provider that forgot to mask a secret does not leak it through here.
    return PreviewResponse.fromPartial({
      request: {
        method: secrets.scrub(String(value.method)),
        url: secrets.scrub(String(value.url)),
        headers: (value.headers ?? []).map((h) => ({ name: String(h.name), value: secrets.scrub(String(h.value)) })),
        body: secrets.scrub(String(value.body ?? "")),
      },
    });
  }

  async testConnection(request: TestConnectionRequest): Promise<TestConnectionResponse> {
    const reg = this.lookup(request.providerId);
    this.require(reg, "testConnection");
    const kind = kindOf(request.kind);
    const versioned: Versioned<unknown> | undefined = kind === ConfigKind.CONFIG_KIND_PROVIDER ? reg.provider.config : reg.provider.connectionSchema;
    if (!versioned) throw new RpcFailure(status.INVALID_ARGUMENT, `provider ${JSON.stringify(reg.provider.id)} has no connection schema`);
    const checked = versioned.check(parse(request.configJson, "config_json"));
    if (!checked.ok) return TestConnectionResponse.fromPartial({ success: false, message: "the config is invalid", diagnostics: checked.diagnostics });
    const schema = kind === ConfigKind.CONFIG_KIND_PROVIDER ? reg.configSchema : reg.connectionSchema;
    const secrets = scrubberOf([[schema, request.configJson]]);
    const p = reg.provider;
    const tester = kind === ConfigKind.CONFIG_KIND_PROVIDER ? p.testConnection?.bind(p) : p.testConnectionConfig?.bind(p);
    if (!tester) {
      const which = kind === ConfigKind.CONFIG_KIND_PROVIDER ? "provider configs (it defines testConnectionConfig only)" : "connection configs (it defines testConnection only)";
      return TestConnectionResponse.fromPartial({ success: false, message: `this provider does not test ${which}; the config matches its schema` });
    }
    const { value } = await guarded(secrets, "TestConnection", async (): Promise<TestConnectionResult> => tester(checked.value));
    return TestConnectionResponse.fromPartial({
      success: value.success === true,
      message: secrets.scrub(String(value.message ?? "")),
      detailsJson: value.details === undefined ? "" : secrets.scrub(JSON.stringify(value.details)),
    });
  }

  async getConnectionOptions(request: GetConnectionOptionsRequest): Promise<GetConnectionOptionsResponse> {
    const reg = this.lookup(request.providerId);
    this.require(reg, "connectionOptions");
    if (!reg.resolvers.has(request.resolverName)) {
      const known = [...reg.resolvers].sort().join(", ") || "none";
      throw new RpcFailure(status.NOT_FOUND, `unknown resolver ${JSON.stringify(request.resolverName)}; known: ${known}`);
    }
    let connection: unknown;
    if (reg.provider.connectionSchema) {
      const checked = reg.provider.connectionSchema.check(parse(request.connectionJson, "connection_json", {}));
      if (!checked.ok) return GetConnectionOptionsResponse.fromPartial({ diagnostics: checked.diagnostics });
      connection = checked.value;
    }
    const form = parse(request.contextJson, "context_json", {});
    const context = form !== null && typeof form === "object" && !Array.isArray(form) ? (form as Record<string, unknown>) : {};
    const connectionId = typeof context["connectionId"] === "string" ? context["connectionId"] : "";
    const secrets = scrubberOf([[reg.connectionSchema, request.connectionJson]]);
    const resolve = reg.provider.getConnectionOptions!.bind(reg.provider);
    try {
      const { value } = await guarded(
        secrets,
        "GetConnectionOptions",
        () =>
          resolve({
            connectionId,
            resolverName: request.resolverName,
            context,
            getConnectionWithCredentials: async (id: string) => (connection === undefined ? undefined : { id, config: connection }),
            logger: logger(`provider.${reg.provider.id}`),
          }),
        hasJsonPath,
      );
      const options = value.map((o) => ({ value: secrets.scrub(o.value), label: secrets.scrub(o.label), description: secrets.scrub(o.description ?? "") }));
      return GetConnectionOptionsResponse.fromPartial({ options });
    } catch (err) {
      if (hasJsonPath(err)) {
        return GetConnectionOptionsResponse.fromPartial({ diagnostics: [{ jsonPath: err.jsonPath, message: secrets.scrub(err.message) }] });
      }
      throw err;
    }
  }

  async migrateConfig(request: MigrateConfigRequest): Promise<MigrateConfigResponse> {
    const reg = this.lookup(request.providerId);
    this.require(reg, "migrateConfig");
    const kind = kindOf(request.kind);
    const versioned: Versioned<unknown> | undefined = kind === ConfigKind.CONFIG_KIND_CONNECTION ? reg.provider.connectionSchema : reg.provider.config;
    if (!versioned) throw new RpcFailure(status.INVALID_ARGUMENT, `provider ${JSON.stringify(reg.provider.id)} has no connection schema`);
    const refuse = (diagnostics: Diagnostic[]) => MigrateConfigResponse.fromPartial({ version: request.fromVersion, diagnostics });
    if (request.fromVersion < 1) return refuse([{ jsonPath: "", message: `from_version ${request.fromVersion} is not a version (versions start at 1)` }]);
    if (request.fromVersion > versioned.version) {
      return refuse([{ jsonPath: "", message: `version ${request.fromVersion} is newer than this provider's current version ${versioned.version}` }]);
    }
    const stored = parse(request.configJson, "config_json");
    const schema = kind === ConfigKind.CONFIG_KIND_CONNECTION ? reg.connectionSchema : reg.configSchema;
    const secrets = scrubberOf([[schema, request.configJson]]);
    let migrated: unknown;
    try {
      ({ value: migrated } = await guarded(secrets, "MigrateConfig", async () => versioned.migrate(request.fromVersion, stored), (e) => e instanceof MigrationError));
    } catch (err) {
      if (err instanceof MigrationError) return refuse([{ jsonPath: err.jsonPath, message: secrets.scrub(err.message) }]);
      throw err;
    }
    const checked = versioned.check(migrated);
    if (!checked.ok) return refuse(checked.diagnostics);
    return MigrateConfigResponse.fromPartial({ version: versioned.version, configJson: JSON.stringify(migrated) });
  }

  /** The grpc-js implementation. */
  implementation(): ProviderPluginServer {
    return {
      describe: unary("Describe", async () => this.describeAnswer),
      // While traces are off not even the span's closure is made.
      deliver: unary("Deliver", (req, call) => (tracingEnabled() ? inDeliverSpan(call.metadata, req, () => this.deliver(req, call)) : this.deliver(req, call))),
      testConnection: unary("TestConnection", (req) => this.testConnection(req)),
      getConnectionOptions: unary("GetConnectionOptions", (req) => this.getConnectionOptions(req)),
      migrateConfig: unary("MigrateConfig", (req) => this.migrateConfig(req)),
      validateConfig: unary("ValidateConfig", (req) => this.validateConfig(req)),
      preview: unary("Preview", (req, call) => this.preview(req, call)),
    };
  }
}
