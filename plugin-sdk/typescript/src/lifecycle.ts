/**
 * What providers say about an event in one line, as the Rust SDK's `lifecycle` does: the
 * event's {@link headline} (the payload's `title` or `name`, its `status` in parentheses, else
 * the event type) and {@link cutChars}, which cuts a text to a vendor's limit in characters.
 */

function text(payload: Record<string, unknown>, key: string): string | undefined {
  const value = payload[key];
  return typeof value === "string" && value !== "" ? value : undefined;
}

/** "Checkout API down (investigating)": title (or name) and status; the event type without either. */
export function headline(eventType: string, payload: Record<string, unknown>): string {
  const title = text(payload, "title") ?? text(payload, "name") ?? eventType;
  const status = text(payload, "status");
  return status === undefined ? title : `${title} (${status})`;
}

/** `value` cut to at most `limit` characters, ending in `…` when cut. */
export function cutChars(value: string, limit: number): string {
  const chars = [...value];
  if (chars.length <= limit) return value;
  return limit > 0 ? chars.slice(0, limit - 1).join("") + "…" : "";
}
