/**
 * How template values behave, as in minijinja with the Rust SDK's settings: a missing value is
 * `undefined` and chains (`missing.deeper` is `undefined` too), `null` is none; both print as
 * nothing. Objects and lists print as JSON with their keys sorted (the Rust SDK's payloads are
 * serde_json maps, which keep keys sorted), booleans as `true`/`false`. Only own properties of
 * plain data are reachable, so a template cannot reach a prototype or a function.
 */

/** A render failure with its line (the renderer fills the line in). */
export class RenderProblem extends Error {
  constructor(
    message: string,
    public line = 0,
  ) {
    super(message);
  }
}

export function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

/** The value with every object's keys sorted, recursively. */
export function sortedKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortedKeys);
  if (!isObject(value)) return value;
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(value).sort()) out[key] = sortedKeys(value[key]);
  return out;
}

/** JSON text as the Rust SDK prints objects and lists (compact, keys sorted). */
export function toJson(value: unknown): string {
  return JSON.stringify(sortedKeys(value === undefined ? null : value)) ?? "null";
}

/** The text of a value as a template prints it. */
export function textOf(value: unknown): string {
  if (value === undefined || value === null) return "";
  if (typeof value === "string") return value;
  if (typeof value === "number" || typeof value === "boolean") return String(value);
  return toJson(value);
}

/** Jinja truthiness: none, undefined, false, 0, "" and empty lists and maps are false. */
export function truthy(value: unknown): boolean {
  if (value === undefined || value === null) return false;
  if (Array.isArray(value)) return value.length > 0;
  if (isObject(value)) return Object.keys(value).length > 0;
  return Boolean(value);
}

/** Structural equality of plain data. */
export function equal(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((x, i) => equal(x, b[i]));
  if (isObject(a) && isObject(b)) {
    const ka = Object.keys(a);
    return ka.length === Object.keys(b).length && ka.every((k) => Object.hasOwn(b, k) && equal(a[k], b[k]));
  }
  return false;
}

/** `obj.name` / `obj[key]`: own data only; anything else is undefined. */
export function lookup(obj: unknown, key: unknown): unknown {
  if (Array.isArray(obj) || typeof obj === "string") {
    if (typeof key !== "number" || !Number.isInteger(key)) return undefined;
    const index = key < 0 ? obj.length + key : key;
    return index >= 0 && index < obj.length ? obj[index] : undefined;
  }
  if (isObject(obj) && (typeof key === "string" || typeof key === "number") && Object.hasOwn(obj, String(key))) {
    const found = obj[String(key)];
    return typeof found === "function" ? undefined : found;
  }
  return undefined;
}

/** What iterating a value gives: list items, map keys, string characters; missing → nothing. */
export function itemsOf(value: unknown): unknown[] {
  if (value === undefined || value === null) return [];
  if (Array.isArray(value)) return value;
  if (typeof value === "string") return [...value];
  if (isObject(value)) return Object.keys(value);
  throw new RenderProblem(`invalid operation: ${typeof value} is not iterable`);
}

/** The number of a value for arithmetic, or a render problem. */
export function numberOf(value: unknown, what: string): number {
  if (typeof value === "number") return value;
  if (typeof value === "boolean") return value ? 1 : 0;
  throw new RenderProblem(`invalid operation: ${what} needs numbers, not ${value === undefined ? "undefined" : value === null ? "none" : typeof value}`);
}
