/**
 * What every RPC does around provider code, apart from the RPC's own logic: the status errors
 * (`RpcFailure`) and the adapter that answers them, parsing the request's JSON fields
 * (INVALID_ARGUMENT when they are not JSON), checking configs against their zod schemas, the
 * call's scrubber (from the x-secret fields of the request's configs), running provider code
 * guarded (secrets active, a throw logged scrubbed and answered INTERNAL naming only its type),
 * the call's AbortSignal, and the request's correlation as the provider sees it.
 */

import { status, type ServerUnaryCall, type sendUnaryData } from "@grpc/grpc-js";

import { ConfigKind, type DeliverRequest, type Diagnostic as PbDiagnostic } from "./gen/switchyard/plugin/v1/plugin.js";
import { InvalidRequest, runCall } from "./fetch.js";
import { NetworkPolicyRefusal } from "./net-policy.js";
import { write } from "./log.js";
import type { Correlation, IntegrationDeliveryContext } from "./provider.js";
import type { Registered } from "./registry.js";
import type { IntegrationDeliveryResult } from "./result.js";
import type { Diagnostic } from "./schema.js";
import { collect, Scrubber, withActive } from "./scrub.js";

/** A call answered with a gRPC status instead of a message. */
export class RpcFailure extends Error {
  constructor(
    readonly code: status,
    message: string,
  ) {
    super(message);
  }
}

type Handler<Req, Res> = (request: Req, call: ServerUnaryCall<Req, Res>) => Promise<Res>;

/** Adapts an async handler; an exception from provider code becomes INTERNAL naming its type only. */
export function unary<Req, Res>(name: string, handler: Handler<Req, Res>) {
  return (call: ServerUnaryCall<Req, Res>, callback: sendUnaryData<Res>): void => {
    handler(call.request, call).then(
      (answer) => callback(null, answer),
      (err: unknown) => {
        if (err instanceof RpcFailure) return callback({ code: err.code, details: err.message });
        const kind = err instanceof Error ? err.name : typeof err;
        write("error", "switchyard_plugin", `${name} failed: the provider threw ${kind}`, [err instanceof Error ? err : { thrown: String(err) }]);
        // The status names only the type: an exception's text may quote config values.
        callback({ code: status.INTERNAL, details: `provider threw ${kind} (see the plugin's log)` });
      },
    );
  };
}

export function parse(text: string, what: string, empty: unknown = undefined): unknown {
  if (!text.trim()) {
    if (empty !== undefined) return empty;
    throw new RpcFailure(status.INVALID_ARGUMENT, `${what} is empty; it must be JSON`);
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new RpcFailure(status.INVALID_ARGUMENT, `${what} is not JSON: ${(err as Error).message}`);
  }
}

export function signalOf(call: ServerUnaryCall<unknown, unknown>): AbortSignal {
  const controller = new AbortController();
  call.on("cancelled", () => controller.abort(new DOMException("the host cancelled the call", "AbortError")));
  const deadline = call.getDeadline();
  const at = deadline instanceof Date ? deadline.getTime() : Number(deadline);
  if (Number.isFinite(at) && at > 0) {
    const timer = setTimeout(() => controller.abort(new DOMException("the call's deadline passed", "TimeoutError")), Math.max(0, at - Date.now()));
    timer.unref();
  }
  return controller.signal;
}

export function scrubberOf(pairs: [Record<string, unknown> | undefined, string][]): Scrubber {
  const secrets: unknown[] = [];
  const others: string[] = [];
  for (const [schema, text] of pairs) {
    if (!schema || !text.trim()) continue;
    try {
      const found = collect(schema, JSON.parse(text));
      secrets.push(...found.secrets);
      others.push(...found.others);
    } catch {
      // not JSON: the call is refused before anything could echo it
    }
  }
  return new Scrubber(secrets, others);
}

export function scrubDiagnostics(s: Scrubber, diagnostics: PbDiagnostic[]): PbDiagnostic[] {
  return diagnostics.map((d) => ({ jsonPath: d.jsonPath, message: s.scrub(d.message) }));
}

export function correlationOf(request: DeliverRequest): Correlation | undefined {
  const c = request.correlation;
  if (!c) return undefined;
  const earlier = c.earlier.map((e) => ({
    eventType: e.eventType,
    ...(e.externalId ? { externalId: e.externalId } : {}),
    ...(e.state ? { state: e.state } : {}),
    delivered: e.delivered,
    ...(e.endedAt ? { endedAt: e.endedAt } : {}),
    deliveryId: e.deliveryId,
  }));
  return {
    key: c.key,
    earlier,
    origin: () => [...earlier].reverse().find((e) => e.delivered),
    latest: () => earlier.find((e) => e.delivered),
  };
}

/** The provider config and connection of a request, checked; or their problems. */
export function checkedConfigs(
  reg: Registered,
  configJson: string,
  connectionJson: string,
): { config: unknown; connection: unknown } | { diagnostics: Diagnostic[] } {
  const config = reg.provider.config.check(parse(configJson, "config_json"));
  const diagnostics = config.ok ? [] : [...config.diagnostics];
  let connection: unknown;
  if (reg.provider.connectionSchema && connectionJson.trim()) {
    const checked = reg.provider.connectionSchema.check(parse(connectionJson, "connection_json"));
    if (checked.ok) connection = checked.value;
    else diagnostics.push(...checked.diagnostics.map((d) => ({ jsonPath: d.jsonPath, message: `connection: ${d.message}` })));
  }
  if (diagnostics.length || !config.ok) return { diagnostics };
  return { config: config.value, connection };
}

/**
 * Runs provider code as one call with the call's secrets active, so that its log lines, and
 * the log line of an error it throws, are scrubbed. `expected` errors (answered in-band by the
 * caller) pass through untouched.
 */
export async function guarded<T>(secrets: Scrubber, name: string, body: () => Promise<T>, expected: (err: unknown) => boolean = () => false) {
  return withActive(secrets, async () => {
    try {
      return await runCall(body);
    } catch (err) {
      if (expected(err)) throw err;
      const kind = err instanceof Error ? err.name : typeof err;
      write("error", "switchyard_plugin", `${name} failed: the provider threw ${kind}`, [err instanceof Error ? err : { thrown: String(err) }]);
      // The status names only the type: an exception's text may quote config values.
      // Already logged (scrubbed); the answer names only the type.
      throw new RpcFailure(status.INTERNAL, `provider threw ${kind} (see the plugin's log)`);
    }
  });
}

/** `deliver`, with a thrown error turned into a failure naming it (as the platform treats it). */
export async function deliverCaught(reg: Registered, context: IntegrationDeliveryContext<unknown, unknown>): Promise<IntegrationDeliveryResult> {
  try {
    return await reg.provider.deliver(context);
  } catch (err) {
    const kind = err instanceof Error ? err.name : typeof err;
    const message = err instanceof Error ? err.message : String(err);
    context.logger.error(`deliver threw ${kind}`, err instanceof Error ? err : { thrown: message });
    const permanentCause = err instanceof NetworkPolicyRefusal || err instanceof InvalidRequest;
    return { success: false, error: `deliver threw ${kind}: ${message}`, ...(permanentCause ? { outcome: "permanent" as const } : {}) };
  }
}

/** A request's config kind, or INVALID_ARGUMENT. */
export function kindOf(kind: ConfigKind): ConfigKind.CONFIG_KIND_PROVIDER | ConfigKind.CONFIG_KIND_CONNECTION {
  if (kind !== ConfigKind.CONFIG_KIND_PROVIDER && kind !== ConfigKind.CONFIG_KIND_CONNECTION) {
    throw new RpcFailure(status.INVALID_ARGUMENT, "kind must be CONFIG_KIND_PROVIDER or CONFIG_KIND_CONNECTION");
  }
  return kind;
}

/** An error a provider throws to report a problem with the user's input at a JSON Pointer. */
export function hasJsonPath(err: unknown): err is Error & { jsonPath: string } {
  return err instanceof Error && typeof (err as { jsonPath?: unknown }).jsonPath === "string";
}
