/** Event type patterns as the coordinator reads them (see `Subscription.event_types`). */

/** Whether `pattern` matches the event type id `id`: `*` is one segment, a trailing `*` one or more, `*` alone all. */
export function matches(pattern: string, id: string): boolean {
  if (pattern === "*") return true;
  const p = pattern.split(".");
  const s = id.split(".");
  for (let i = 0; i < p.length; i++) {
    const last = i === p.length - 1;
    if (p[i] === "*" && last) return s.length > i;
    if (i >= s.length) return false;
    if (p[i] !== "*" && p[i] !== s[i]) return false;
  }
  return p.length === s.length;
}

/** A comma- or newline-separated list, trimmed, without empties. */
export function splitList(text: string): string[] {
  return text
    .split(/[,\n]/)
    .map((s) => s.trim())
    .filter(Boolean);
}
