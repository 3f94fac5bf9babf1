/**
 * OpenTelemetry traces, with the Rust, Python and Go SDKs' semantics: on when the host passes
 * `OTEL_EXPORTER_OTLP_ENDPOINT` (or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`, or
 * `OTEL_TRACES_EXPORTER=otlp`; the coordinator hands its plugins its own `OTEL_*` variables),
 * off with `OTEL_SDK_DISABLED=true` or `OTEL_TRACES_EXPORTER=none`, exported over OTLP/gRPC
 * (another `OTEL_EXPORTER_OTLP_PROTOCOL` is refused with a warning and traces stay off, as in
 * the Rust SDK). `service.name` is `switchyard-plugin-<pluginId>` (the executable's name by the
 * project's convention) unless `OTEL_SERVICE_NAME` or `OTEL_RESOURCE_ATTRIBUTES` name one; the
 * batch processor (`OTEL_BSP_*`) and the sampler (`OTEL_TRACES_SAMPLER`) read their own.
 *
 * - each `Deliver` call is a server span (`switchyard.plugin.v1.ProviderPlugin/Deliver`), child
 *   of the `traceparent` the host sent in the call's gRPC metadata — the coordinator's span of
 *   the plugin call, under its delivery attempt — so the plugin's spans join the platform's
 *   trace; it carries the provider, delivery id, attempt and outcome, and fails with the
 *   (scrubbed) error of an answer that is not delivered;
 * - each request of the SDK's {@link fetch} (also `globalThis.fetch` under `serve()`) is a
 *   client span (`POST`…) under the span of the call it runs in, with its method, host, port
 *   and status — never its path or query, which may hold a secret (a Slack webhook URL is one);
 * - log lines written during a traced call carry its `trace_id` (see `log.ts`).
 *
 * The OpenTelemetry packages are imported only when traces are on ({@link startTracing}): a
 * plugin without `OTEL_*` variables loads none of them, and every helper here is then a check
 * of one variable that allocates nothing. The SDK's context manager, tracer provider and W3C
 * propagator are installed globally, so spans a provider makes with `@opentelemetry/api` nest
 * under the call's span too.
 */

import { status, type Metadata } from "@grpc/grpc-js";
import type * as Api from "@opentelemetry/api";
import type { BasicTracerProvider } from "@opentelemetry/sdk-trace-base";

import { Outcome, outcomeToJSON, type DeliverRequest, type DeliverResponse } from "./gen/switchyard/plugin/v1/plugin.js";
import { SDK_VERSION } from "./version.js";

/** The `Deliver` span's name: the RPC's full name, as the host's client span. */
export const DELIVER_SPAN = "switchyard.plugin.v1.ProviderPlugin/Deliver";

/** What is running while traces are on. */
interface On {
  api: typeof Api;
  tracer: Api.Tracer;
  provider: BasicTracerProvider;
}

/** Set by {@link startTracing} once traces are on; never while they are off. */
let on: On | undefined;

/** Whether `env` asks for traces, or why it cannot have them. */
export type Wanted = { wanted: boolean; problem?: undefined } | { wanted: false; problem: string };

/** What `env` asks for (the Rust SDK's rules; see the module's comment). */
export function tracesWanted(env: NodeJS.ProcessEnv): Wanted {
  const get = (name: string) => (env[name] ?? "").trim();
  const exporter = get("OTEL_TRACES_EXPORTER").toLowerCase();
  if (get("OTEL_SDK_DISABLED").toLowerCase() === "true" || exporter === "none") return { wanted: false };
  if (exporter !== "" && exporter !== "otlp") {
    return { wanted: false, problem: `OTEL_TRACES_EXPORTER=${JSON.stringify(exporter)} is not supported: set it to "otlp" or "none"` };
  }
  const asked = exporter === "otlp" || get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") !== "" || get("OTEL_EXPORTER_OTLP_ENDPOINT") !== "";
  if (!asked) return { wanted: false };
  for (const name of ["OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_EXPORTER_OTLP_PROTOCOL"]) {
    const value = get(name);
    if (value !== "" && value !== "grpc") {
      return { wanted: false, problem: `${name}=${JSON.stringify(value)} is not supported: the SDK exports over OTLP/gRPC; set it to "grpc" or unset it` };
    }
  }
  return { wanted: true };
}

/** The OpenTelemetry modules traces need, imported on first use only. */
async function load() {
  const [api, core, resources, sdk, hooks, otlp] = await Promise.all([
    import("@opentelemetry/api"),
    import("@opentelemetry/core"),
    import("@opentelemetry/resources"),
    import("@opentelemetry/sdk-trace-base"),
    import("@opentelemetry/context-async-hooks"),
    import("@opentelemetry/exporter-trace-otlp-grpc"),
  ]);
  return { api, core, resources, sdk, hooks, otlp };
}

/**
 * Turns traces on if `env` asks, with `serviceName` as `service.name` unless the variables name
 * one. Resolves to whether they are on, and the warning to log when they were asked for but
 * cannot be had (an unsupported variable, packages that will not load, an exporter that cannot
 * be built); the plugin serves either way. `report` gets OpenTelemetry's own errors later (an
 * export that failed: the collector is unreachable…), their message only.
 */
export async function startTracing(env: NodeJS.ProcessEnv, serviceName: string, report: (message: string) => void = () => undefined): Promise<{ on: boolean; warning?: string }> {
  const asked = tracesWanted(env);
  if (asked.problem !== undefined) return { on: false, warning: `traces are off: ${asked.problem}` };
  if (!asked.wanted || on) return { on: on !== undefined };
  let m: Awaited<ReturnType<typeof load>>;
  try {
    m = await load();
  } catch (err) {
    return { on: false, warning: `traces are off: cannot load the OpenTelemetry packages (${(err as Error).message})` };
  }
  const { api, core, resources, sdk, hooks, otlp } = m;
  // Later wins: the SDK's defaults, then our name, then OTEL_SERVICE_NAME / OTEL_RESOURCE_ATTRIBUTES.
  const resource = resources
    .defaultResource()
    .merge(resources.resourceFromAttributes({ "service.name": serviceName }))
    .merge(resources.detectResources({ detectors: [resources.envDetector] }));
  let provider: BasicTracerProvider;
  try {
    provider = new sdk.BasicTracerProvider({ resource, spanProcessors: [new sdk.BatchSpanProcessor(new otlp.OTLPTraceExporter())] });
  } catch (err) {
    return { on: false, warning: `traces are off: cannot set up the OTLP exporter (OTEL_EXPORTER_OTLP_ENDPOINT): ${(err as Error).message}` };
  }
  // Errors only: OpenTelemetry's warnings may quote an OTEL_EXPORTER_OTLP_HEADERS value.
  const quoted = (message: string) => report(message);
  api.diag.setLogger({ error: quoted, warn: quoted, info: quoted, debug: quoted, verbose: quoted }, api.DiagLogLevel.ERROR);
  api.context.setGlobalContextManager(new hooks.AsyncLocalStorageContextManager().enable());
  api.trace.setGlobalTracerProvider(provider);
  api.propagation.setGlobalPropagator(new core.W3CTraceContextPropagator());
  on = { api, provider, tracer: provider.getTracer("@switchyard/plugin-sdk", SDK_VERSION) };
  return { on: true };
}

/** Whether traces are on in this process. */
export function tracingEnabled(): boolean {
  return on !== undefined;
}

/**
 * Exports the spans still queued and stops the exporter, waiting at most `timeoutMs` (the host
 * kills a plugin that takes too long to exit; an unreachable collector must not make it).
 */
export async function stopTracing(timeoutMs: number): Promise<void> {
  const running = on;
  if (!running) return;
  on = undefined;
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<void>((done) => (timer = setTimeout(done, timeoutMs)));
  await Promise.race([running.provider.shutdown().catch(() => undefined), late]);
  clearTimeout(timer);
}

/** Reads a call's gRPC metadata as a propagation carrier. */
const metadataGetter: Api.TextMapGetter<Metadata> = {
  keys: (carrier) => Object.keys(carrier.getMap()),
  get: (carrier, key) => {
    const values = carrier.get(key).filter((v): v is string => typeof v === "string");
    return values.length === 0 ? undefined : values;
  },
};

/**
 * Runs the `Deliver` call `body` in its server span (child of the host's `traceparent` in
 * `metadata`) while traces are on; records the answer's outcome, or the failure of a call that
 * threw (answered with a gRPC status). While off, just `body()`.
 */
export async function inDeliverSpan(metadata: Metadata, request: DeliverRequest, body: () => Promise<DeliverResponse>): Promise<DeliverResponse> {
  if (!on) return body();
  const { api, tracer } = on;
  const parent = api.propagation.extract(api.ROOT_CONTEXT, metadata, metadataGetter);
  const span = tracer.startSpan(
    DELIVER_SPAN,
    {
      kind: api.SpanKind.SERVER,
      attributes: {
        "rpc.system": "grpc",
        "rpc.service": "switchyard.plugin.v1.ProviderPlugin",
        "rpc.method": "Deliver",
        "switchyard.provider": request.providerId,
        "switchyard.delivery.id": request.event?.deliveryId ?? "",
        "switchyard.attempt": request.event?.attempt ?? 0,
      },
    },
    parent,
  );
  try {
    const answer = await api.context.with(api.trace.setSpan(parent, span), body);
    span.setAttribute("switchyard.outcome", outcomeToJSON(answer.outcome));
    // The error text is already scrubbed of the call's secrets (service.ts).
    if (answer.outcome !== Outcome.OUTCOME_DELIVERED) span.setStatus({ code: api.SpanStatusCode.ERROR, message: answer.error });
    return answer;
  } catch (err) {
    // The status the host gets (calls.ts: an RpcFailure's code, else INTERNAL), never the text.
    span.setStatus({ code: api.SpanStatusCode.ERROR, message: statusName(err) });
    throw err;
  } finally {
    span.end();
  }
}

/** The gRPC status name a `Deliver` that threw is answered with (`NOT_FOUND`, `INTERNAL`…). */
function statusName(err: unknown): string {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === "number" && status[code] !== undefined ? status[code] : "INTERNAL";
}

/** The text a failed request's span gets: its kind, never its message (which may name the URL). */
function requestFailure(err: unknown): string {
  const name = err instanceof Error ? err.name : "";
  if (name === "TimeoutError") return "request timed out";
  if (name === "AbortError") return "request aborted";
  if (name === "NetworkPolicyRefusal") return "refused by the network policy";
  return "request failed";
}

/**
 * Runs the vendor request `send` (`method` to `url`) in a client span under the current one
 * while traces are on: `http.request.method`, `server.address`, `server.port` and
 * `http.response.status_code`, failed on a 4xx/5xx status or an error. While off, `send()`.
 */
export async function inClientSpan<R extends { status: number }>(method: string, url: URL, send: () => Promise<R>): Promise<R> {
  if (!on) return send();
  const { api, tracer } = on;
  const port = url.port !== "" ? Number(url.port) : url.protocol === "https:" ? 443 : 80;
  const span = tracer.startSpan(method, {
    kind: api.SpanKind.CLIENT,
    attributes: { "http.request.method": method, "server.address": url.hostname.replace(/^\[|\]$/g, ""), "server.port": port },
  });
  try {
    const response = await api.context.with(api.trace.setSpan(api.context.active(), span), send);
    span.setAttribute("http.response.status_code", response.status);
    if (response.status >= 400) span.setStatus({ code: api.SpanStatusCode.ERROR, message: `HTTP ${response.status}` });
    return response;
  } catch (err) {
    span.setStatus({ code: api.SpanStatusCode.ERROR, message: requestFailure(err) });
    throw err;
  } finally {
    span.end();
  }
}

/** The 32-hex-digit trace id of the span the caller runs in, if traces are on and there is one. */
export function currentTraceId(): string | undefined {
  if (!on) return undefined;
  const context = on.api.trace.getSpan(on.api.context.active())?.spanContext();
  return context && on.api.isSpanContextValid(context) ? context.traceId : undefined;
}
