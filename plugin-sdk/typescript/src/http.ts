/**
 * HTTP helpers with the Rust SDK's semantics (`plugin-sdk/rust/src/http.rs`): `Retry-After`
 * parsing, classifying a status, and turning a `fetch` answer (or its error) into a delivery
 * result.
 *
 * - 2xx → delivered (external id from the body's JSON `id`, or the keys given);
 * - 429 and 503 → rate-limited, after `Retry-After`, or 60 s when missing or unreadable;
 * - 408 and other 5xx, network errors and timeouts → retryable (with `Retry-After` if given);
 * - a request the network policy refused → permanent, with the policy's explanation;
 * - 410 and every other 4xx (and 1xx/3xx: redirects are not followed) → permanent.
 *
 * Failure texts carry the status and a short excerpt of the body (scrubbed of the secrets of the
 * calls in flight before it is cut), never request headers or the URL.
 */

import { STATUS_CODES } from "node:http";

import { InvalidRequest } from "./fetch.js";
import { NetworkPolicyRefusal } from "./net-policy.js";
import {
  DEFAULT_RATE_LIMIT_DELAY_MS,
  delivered,
  permanent,
  rateLimited,
  retryable,
  type IntegrationDeliveryResult,
} from "./result.js";
import { scrubActive } from "./scrub.js";

/** How many bytes of a response body an error text quotes. */
export const BODY_EXCERPT_BYTES = 256;

/** The outcome class of an HTTP status. */
export type Class = "delivered" | "retryable" | "rate_limited" | "permanent";

/** The delay a `Retry-After` value asks for in ms: delta-seconds or an HTTP date (past → 0). */
export function retryAfterMs(value: string | null | undefined, now: Date = new Date()): number | undefined {
  const text = (value ?? "").trim();
  if (!text) return undefined;
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  // An IMF-fixdate, RFC 850 or asctime date (what httpdate accepts), always GMT.
  if (!/GMT$|^\w{3} \w{3} +\d{1,2} \d{2}:\d{2}:\d{2} \d{4}$/.test(text)) return undefined;
  const at = Date.parse(/GMT$/.test(text) ? text : `${text} GMT`);
  if (Number.isNaN(at)) return undefined;
  return Math.max(0, Math.floor((at - now.getTime()) / 1000) * 1000);
}

/** The class of `status`. */
export function classify(status: number): Class {
  if (status >= 200 && status <= 299) return "delivered";
  if (status === 429 || status === 503) return "rate_limited";
  if (status === 408 || (status >= 500 && status <= 599)) return "retryable";
  return "permanent";
}

/** The first {@link BODY_EXCERPT_BYTES} of a body, scrubbed, as one line (`…` when cut). */
export function bodyExcerpt(body: Uint8Array | string): string {
  const bytes = typeof body === "string" ? Buffer.from(body, "utf8") : Buffer.from(body);
  // Scrubbed over a wider window than it quotes: a secret across the cut is still whole.
  const window = bytes.subarray(0, BODY_EXCERPT_BYTES * 16);
  const scrubbed = Buffer.from(scrubActive(window.toString("utf8")), "utf8");
  let cut = Math.min(scrubbed.length, BODY_EXCERPT_BYTES);
  while (cut > 0 && cut < scrubbed.length && ((scrubbed[cut] ?? 0) & 0xc0) === 0x80) cut--;
  // eslint-disable-next-line no-control-regex
  let text = scrubbed.subarray(0, cut).toString("utf8").replace(/[\u0000-\u001f\u007f-\u009f]/g, " ").trim();
  if (scrubbed.length > cut || bytes.length > window.length) text += "…";
  return text;
}

/** `HTTP 404 Not Found: <first bytes of the body>`. */
export function errorText(status: number, body: Uint8Array | string): string {
  const excerpt = bodyExcerpt(body);
  const reason = STATUS_CODES[status];
  const head = `HTTP ${status}${reason ? ` ${reason}` : ""}`;
  return excerpt ? `${head}: ${excerpt}` : head;
}

/** The failure result of a non-2xx answer: its class, the delay it asks for, the error text. */
export function failure(status: number, headers: Headers, body: Uint8Array | string): IntegrationDeliveryResult {
  let error = errorText(status, body);
  if (status >= 300 && status <= 399) error += " (redirects are not followed: configure the final URL)";
  const after = retryAfterMs(headers.get("retry-after"));
  const klass = classify(status);
  const result =
    klass === "rate_limited"
      ? rateLimited(error, after ?? DEFAULT_RATE_LIMIT_DELAY_MS)
      : klass === "retryable"
        ? retryable(error, after)
        : permanent(error);
  const excerpt = bodyExcerpt(body);
  return { ...result, statusCode: status, ...(excerpt ? { responseExcerpt: excerpt } : {}) };
}

/**
 * The result of a request that got no answer: retryable, or permanent for a policy refusal and
 * a request that cannot be sent at all.
 */
export function networkFailure(error: unknown): IntegrationDeliveryResult {
  if (error instanceof NetworkPolicyRefusal || error instanceof InvalidRequest) return permanent(error.message);
  if (error instanceof Error && (error.name === "TimeoutError" || error.name === "AbortError")) {
    return retryable("request timed out");
  }
  const message = error instanceof Error ? error.message : String(error);
  return retryable(scrubActive(message));
}

/** The first of `keys` at the top of a JSON object body, as a string. */
export function externalIdFromJson(body: string, keys: readonly string[] = ["id"]): string | undefined {
  let doc: unknown;
  try {
    doc = JSON.parse(body);
  } catch {
    return undefined;
  }
  if (doc === null || typeof doc !== "object" || Array.isArray(doc)) return undefined;
  for (const key of keys) {
    const value = (doc as Record<string, unknown>)[key];
    if (typeof value === "string" && value) return value;
    if (typeof value === "number") return String(value);
  }
  return undefined;
}

/**
 * Awaits a `fetch` and classifies its answer: on 2xx `externalId` picks the id out of the body
 * (default: JSON `id`); otherwise see {@link failure}; without an answer {@link networkFailure}.
 */
export async function deliveryResult(
  response: Promise<Response>,
  externalId: (body: string) => string | undefined = (b) => externalIdFromJson(b),
): Promise<IntegrationDeliveryResult> {
  let answer: Response;
  try {
    answer = await response;
  } catch (error) {
    return networkFailure(error);
  }
  let body = "";
  try {
    body = await answer.text();
  } catch {
    // The status is known but the body broke off: judge by the status alone.
  }
  if (answer.status >= 200 && answer.status <= 299) {
    return { ...delivered(externalId(body)), statusCode: answer.status };
  }
  return failure(answer.status, answer.headers, body);
}
