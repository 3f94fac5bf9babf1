/**
 * What `deliver` returns: the seed's result shape (`success`, `externalId`, `error`,
 * `retryAfterMs`) or the same with an explicit `outcome`, and how either becomes a protocol
 * `DeliverResponse`.
 *
 * Without `outcome`, the seed's semantics hold: `success: true` is delivered, `success: false`
 * is retried on the coordinator's schedule (after `retryAfterMs` when given), except when a
 * request of the call failed in a way retrying cannot change (the network policy refused its
 * address, its URL is unusable): that is permanent. A `deliver` that throws is treated the same
 * way, as the platform does: a failure, retried unless it is one of those. With `outcome`, it is what the coordinator acts on (`success` is derived from it).
 * The helpers {@link delivered}, {@link retryable}, {@link rateLimited} and {@link permanent}
 * build explicit results.
 */

import type { Diagnostic } from "./schema.js";
import { DeliverResponse, Outcome as PbOutcome } from "./gen/switchyard/plugin/v1/plugin.js";

/** How a delivery attempt ended; the coordinator's retry logic acts on it. */
export type Outcome = "delivered" | "retryable" | "rate_limited" | "permanent";

/** The seed's `IntegrationDeliveryResult`, plus Switchyard's optional fields. */
export interface IntegrationDeliveryResult {
  success: boolean;
  /** External ID from target system (e.g., Jira issue key). */
  externalId?: string;
  /** Error message if failed. */
  error?: string;
  /** Request retry after this delay. */
  retryAfterMs?: number;
  /** Explicit classification; without it `success` decides (see the module doc). */
  outcome?: Outcome;
  /** HTTP status the external system answered with. */
  statusCode?: number;
  /** Small state (≤ 4 KiB, no secrets) for later deliveries of the same correlation key. */
  state?: string;
  /** The first bytes of the external system's answer, for the attempt log. */
  responseExcerpt?: string;
  /** Problems with the config; the outcome is then permanent. */
  diagnostics?: Diagnostic[];
}

/** The wait when a rate-limited result names none (as the Rust SDK's). */
export const DEFAULT_RATE_LIMIT_DELAY_MS = 60_000;

/** Delivered; `externalId` is the id of the record created, if any. */
export function delivered(externalId?: string, extra: Partial<IntegrationDeliveryResult> = {}): IntegrationDeliveryResult {
  return { ...extra, success: true, outcome: "delivered", ...(externalId ? { externalId } : {}) };
}

/** A transient failure, retried on the normal schedule (or after `retryAfterMs`). */
export function retryable(error: string, retryAfterMs?: number): IntegrationDeliveryResult {
  return { success: false, outcome: "retryable", error, ...(retryAfterMs === undefined ? {} : { retryAfterMs }) };
}

/** The external system asked to slow down; does not use up the retry budget. */
export function rateLimited(error: string, retryAfterMs = DEFAULT_RATE_LIMIT_DELAY_MS): IntegrationDeliveryResult {
  return { success: false, outcome: "rate_limited", error, retryAfterMs };
}

/** A failure retrying cannot fix. */
export function permanent(error: string): IntegrationDeliveryResult {
  return { success: false, outcome: "permanent", error };
}

/** The result for a config that does not match its schema: permanent, nothing sent. */
export function invalidConfig(diagnostics: Diagnostic[]): IntegrationDeliveryResult {
  const summary = diagnostics
    .slice(0, 3)
    .map((d) => `${d.jsonPath || "/"}: ${d.message}`)
    .join("; ");
  return { success: false, outcome: "permanent", error: `invalid config: ${summary}`, diagnostics };
}

const TO_PB: Record<Outcome, PbOutcome> = {
  delivered: PbOutcome.OUTCOME_DELIVERED,
  retryable: PbOutcome.OUTCOME_RETRYABLE,
  rate_limited: PbOutcome.OUTCOME_RATE_LIMITED,
  permanent: PbOutcome.OUTCOME_PERMANENT,
};

/** The outcome a result stands for; `unretryable`: a request of the call could never succeed. */
export function outcomeOf(result: IntegrationDeliveryResult, unretryable: boolean): Outcome {
  if (result.diagnostics?.length) return "permanent";
  if (result.outcome !== undefined && result.outcome in TO_PB) return result.outcome;
  if (result.success) return "delivered";
  return unretryable ? "permanent" : "retryable";
}

function wholeMs(value: number | undefined): number | undefined {
  if (value === undefined || !Number.isFinite(value)) return undefined;
  return Math.max(0, Math.round(value));
}

/** The protocol answer for `result`. Throws a `TypeError` for something that is no result. */
export function toResponse(result: IntegrationDeliveryResult, unretryable: boolean): DeliverResponse {
  if (result === null || typeof result !== "object" || typeof result.success !== "boolean") {
    throw new TypeError("deliver() must return an object with a boolean `success`");
  }
  const outcome = outcomeOf(result, unretryable);
  const ok = outcome === "delivered";
  const after = outcome === "retryable" || outcome === "rate_limited" ? wholeMs(result.retryAfterMs) : undefined;
  return DeliverResponse.fromPartial({
    success: ok,
    externalId: ok ? String(result.externalId ?? "") : "",
    error: ok ? "" : String(result.error ?? "delivery failed"),
    retryAfterMs: outcome === "rate_limited" ? (after ?? DEFAULT_RATE_LIMIT_DELAY_MS) : after,
    outcome: TO_PB[outcome],
    diagnostics: result.diagnostics ?? [],
    statusCode: Math.max(0, Math.trunc(result.statusCode ?? 0)),
    state: ok ? String(result.state ?? "") : "",
    responseExcerpt: String(result.responseExcerpt ?? ""),
  });
}
