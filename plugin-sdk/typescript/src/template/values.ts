/**
 * How template values behave, as in minijinja with the Rust SDK's settings (the shared vectors
 * in `tests/vectors/templates.json` decide): a missing value is `undefined` and chains
 * (`missing.deeper` is `undefined` too), `null` is none. Numbers keep minijinja's two kinds:
 * a JS `number` (or a `bigint` past 2^53) is an integer, a {@link Float} is a float, so `3.0`
 * stays `3.0` and `7 / 2` is `3.5`. Printing (`{{ x }}`, {@link textOf}): none and undefined as
 * nothing, booleans as `True`/`False`, lists and maps as compact JSON with sorted keys. Converting
 * to text (`~`, `| string`, {@link display}) is minijinja's display: `None`, and containers as
 * `["a", True]`. Only own properties of plain data are reachable, so a template cannot reach a
 * prototype or a function.
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

/** A float (minijinja keeps floats and integers apart; JS numbers do not). */
export class Float {
  constructor(readonly value: number) {}
}

export function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === "object" && !Array.isArray(value) && !(value instanceof Float);
}

/** True for an integer or a float. */
export function isNumber(value: unknown): value is number | bigint | Float {
  return typeof value === "number" || typeof value === "bigint" || value instanceof Float;
}

/** The float text minijinja prints: `3.0`, `0.1`, `1e+20` past 2^53 in JSON, `inf`, `NaN`. */
export function floatText(value: number, json = false): string {
  if (Number.isNaN(value)) return "NaN";
  if (!Number.isFinite(value)) return value > 0 ? "inf" : "-inf";
  if (json && Math.abs(value) >= 1e16) return value.toExponential();
  if (Number.isInteger(value)) return Math.abs(value) < 1e21 ? `${BigInt(value)}.0` : value.toExponential();
  return String(value);
}

/** Keys of a map in the order templates see them: sorted. */
export function keysOf(value: Record<string, unknown>): string[] {
  return Object.keys(value).sort();
}

/** Compact JSON with sorted keys (how lists and maps print), floats and big integers kept. */
export function toJson(value: unknown, indent = 0, depth = 0): string {
  if (value === undefined || value === null) return "null";
  if (value instanceof Float) return Number.isFinite(value.value) ? floatText(value.value, true) : "null";
  if (typeof value === "bigint") return String(value);
  if (typeof value !== "object") return JSON.stringify(value) ?? "null";
  const pad = indent ? "\n" + " ".repeat(indent * (depth + 1)) : "";
  const end = indent ? "\n" + " ".repeat(indent * depth) : "";
  const sep = indent ? ": " : ":";
  const items = Array.isArray(value)
    ? value.map((v) => toJson(v, indent, depth + 1))
    : keysOf(value as Record<string, unknown>).map((k) => JSON.stringify(k) + sep + toJson((value as Record<string, unknown>)[k], indent, depth + 1));
  const [open, close] = Array.isArray(value) ? ["[", "]"] : ["{", "}"];
  return items.length ? open + pad + items.join("," + pad) + end + close : open + close;
}

/** minijinja's display of a value inside a container: strings quoted. */
function repr(value: unknown): string {
  return typeof value === "string" ? JSON.stringify(value) : display(value);
}

/** minijinja's display: what `~` and `| string` make of a value. */
export function display(value: unknown): string {
  if (value === undefined) return "";
  if (value === null) return "None";
  if (value === true) return "True";
  if (value === false) return "False";
  if (value instanceof Float) return floatText(value.value);
  if (typeof value === "string") return value;
  if (typeof value === "number" || typeof value === "bigint") return String(value);
  if (Array.isArray(value)) return `[${value.map(repr).join(", ")}]`;
  if (isObject(value)) return `{${keysOf(value).map((k) => `${JSON.stringify(k)}: ${repr(value[k])}`).join(", ")}}`;
  return String(value);
}

/** The text of a value as `{{ … }}` prints it. */
export function textOf(value: unknown): string {
  if (value === undefined || value === null) return "";
  if (Array.isArray(value) || isObject(value)) return toJson(value);
  return display(value);
}

/** minijinja's `pprint`: containers over several lines, four spaces deep, trailing commas. */
export function pretty(value: unknown, depth = 0): string {
  const inner = "    ".repeat(depth + 1);
  const outer = "    ".repeat(depth);
  if (Array.isArray(value)) return value.length ? `[\n${value.map((v) => `${inner}${pretty(v, depth + 1)},\n`).join("")}${outer}]` : "[]";
  if (isObject(value)) {
    const keys = keysOf(value);
    return keys.length ? `{\n${keys.map((k) => `${inner}${JSON.stringify(k)}: ${pretty(value[k], depth + 1)},\n`).join("")}${outer}}` : "{}";
  }
  return repr(value);
}

/** Jinja truthiness: none, undefined, false, 0, "" and empty lists and maps are false. */
export function truthy(value: unknown): boolean {
  if (value === undefined || value === null) return false;
  if (value instanceof Float) return value.value !== 0;
  if (Array.isArray(value)) return value.length > 0;
  if (isObject(value)) return Object.keys(value).length > 0;
  return Boolean(value);
}

/** Structural equality of plain data (an integer equals the float of the same value). */
export function equal(a: unknown, b: unknown): boolean {
  if (isNumber(a) && isNumber(b)) return numeric(a) === numeric(b);
  if (a === b) return true;
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((x, i) => equal(x, b[i]));
  if (isObject(a) && isObject(b)) {
    const ka = Object.keys(a);
    return ka.length === Object.keys(b).length && ka.every((k) => Object.hasOwn(b, k) && equal(a[k], b[k]));
  }
  return false;
}

/** The JS number of an integer or float. */
export function numeric(value: number | bigint | Float): number {
  return value instanceof Float ? value.value : Number(value);
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

/** What a `for` loop iterates: list items, map keys (sorted), string characters; missing → nothing. */
export function itemsOf(value: unknown): unknown[] {
  if (value === undefined || value === null) return [];
  return listOf(value, "for");
}

/** A value as a list, for filters: missing and scalar values are an error. */
export function listOf(value: unknown, what: string): unknown[] {
  if (Array.isArray(value)) return value;
  if (typeof value === "string") return [...value];
  if (isObject(value)) return keysOf(value);
  throw new RenderProblem(`invalid operation: ${what}: ${kindOf(value)} is not iterable`);
}

/** The kind of a value, for messages. */
export function kindOf(value: unknown): string {
  if (value === undefined) return "undefined";
  if (value === null) return "none";
  if (value instanceof Float) return "float";
  if (Array.isArray(value)) return "sequence";
  if (isObject(value)) return "map";
  return typeof value === "bigint" ? "number" : typeof value;
}

/** The JS number of a value for arithmetic (booleans count as 0 and 1), or a render problem. */
export function numberOf(value: unknown, what: string): number {
  if (typeof value === "number") return value;
  if (value instanceof Float) return value.value;
  if (typeof value === "bigint") return Number(value);
  if (typeof value === "boolean") return value ? 1 : 0;
  throw new RenderProblem(`invalid operation: ${what} needs numbers, not ${kindOf(value)}`);
}
