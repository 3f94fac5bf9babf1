/**
 * `@switchyard/plugin-sdk`: write Switchyard provider plugins in TypeScript. The provider type
 * mirrors the platform's `IntegrationProvider`; {@link serve} runs a plugin (handshake, gRPC,
 * health, Shutdown, hclog logs, parent-death exit, OpenTelemetry traces when the host's `OTEL_*`
 * variables ask). Helpers: zod config schemas with the
 * platform's `configString`/`configNumber`, HTTP classification and Retry-After (`http`), the
 * network policy and its `fetch`, templates, secret scrubbing. Guide:
 * `docs/writing-a-plugin-typescript.md`.
 */

export * from "./provider.js";
export * from "./result.js";
export * from "./schema.js";
export { serve, type PluginOptions } from "./serve.js";
export { logger, type IntegrationLogger } from "./log.js";
export { fetch, policyFetch, setPolicy, USER_AGENT, type Fetch, type FetchResponse } from "./fetch.js";
export { NetworkPolicy, NetworkPolicyRefusal, PolicyError, ALLOW_ENV } from "./net-policy.js";
export { Scrubber, REDACTED } from "./scrub.js";
export * as http from "./http.js";
export { SDK_VERSION } from "./version.js";
export * as template from "./template/index.js";
export { cutChars, headline } from "./lifecycle.js";
