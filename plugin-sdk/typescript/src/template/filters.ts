/**
 * The filters and tests templates get: the Rust SDK's own (`json_escape`, `mrkdwn_escape`,
 * `markdown_escape`, `html_escape`, `date`, `truncate`, `required`) with its semantics, and the
 * minijinja built-ins providers rely on (`default`/`d`, `tojson`, `upper`, `lower`, `title`,
 * `capitalize`, `trim`, `length`/`count`, `join`, `first`, `last`, `replace`, `string`, `int`,
 * `float`, `abs`, `round`, `list`, `reverse`, `sort`, `items`, `dictsort`, `min`, `max`, `sum`,
 * `unique`, `urlencode`, `escape`/`e`, `safe`). Each is a pure function of its arguments.
 */

import { strftime } from "./strftime.js";
import { equal, isObject, itemsOf, numberOf, RenderProblem, sortedKeys, textOf, truthy } from "./values.js";

/** The format `date` uses without an argument. */
export const DEFAULT_DATE_FORMAT = "%Y-%m-%dT%H:%M:%SZ";
/** What `truncate` appends to a cut text unless told otherwise. */
export const TRUNCATION_MARK = "…";

export type Kwargs = Record<string, unknown>;
export type Filter = (value: unknown, args: unknown[], kwargs: Kwargs) => unknown;

function escapeChars(text: string, table: Record<string, string>): string {
  let out = "";
  for (const c of text) out += table[c] ?? c;
  return out;
}

const HTML = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };
const MARKDOWN_SPECIAL = "\\`*_{}[]()<>#+-.!|~";

function timestampOf(value: unknown): Date {
  if (typeof value === "string") {
    const rfc3339 = /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/;
    const at = rfc3339.test(value) ? Date.parse(value.replace(" ", "T")) : NaN;
    if (Number.isNaN(at)) throw new RenderProblem("invalid operation: date: the value is not an RFC 3339 timestamp");
    return new Date(at);
  }
  if (typeof value === "number" && Number.isInteger(value)) return new Date(value * 1000);
  throw new RenderProblem("invalid operation: date: the value is neither a timestamp nor Unix seconds");
}

function date(value: unknown, args: unknown[]): string {
  const format = args[0] === undefined ? DEFAULT_DATE_FORMAT : textOf(args[0]);
  // The format is checked first, as the Rust SDK does.
  if (strftime(new Date(0), format) === undefined) {
    throw new RenderProblem(`invalid operation: date: ${JSON.stringify(format)} is not a valid strftime format`);
  }
  return strftime(timestampOf(value), format)!;
}

function truncate(value: unknown, args: unknown[], kwargs: Kwargs): string {
  const length = numberOf(args[0] ?? 255, "truncate");
  const end = kwargs["end"] === undefined ? TRUNCATION_MARK : textOf(kwargs["end"]);
  const chars = [...textOf(value)];
  if (chars.length <= length) return chars.join("");
  return chars.slice(0, Math.max(0, length - [...end].length)).join("") + end;
}

/** minijinja's `tojson`: JSON safe inside HTML too (`<`, `>`, `&`, `'` as `\uXXXX`). */
function tojson(value: unknown, args: unknown[], kwargs: Kwargs): string {
  const indent = kwargs["indent"] ?? args[0];
  const text = JSON.stringify(sortedKeys(value === undefined ? null : value), null, typeof indent === "number" ? indent : undefined) ?? "null";
  return text.replace(/[<>&']/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
}

function sortKey(a: unknown, b: unknown): number {
  if (typeof a === "number" && typeof b === "number") return a - b;
  const [x, y] = [textOf(a), textOf(b)];
  return x < y ? -1 : x > y ? 1 : 0;
}

function listOf(value: unknown): unknown[] {
  return itemsOf(value);
}

const FILTERS: Record<string, Filter> = {
  json_escape: (v) => JSON.stringify(textOf(v)).slice(1, -1),
  mrkdwn_escape: (v) => escapeChars(textOf(v), { "&": "&amp;", "<": "&lt;", ">": "&gt;" }),
  markdown_escape: (v) => [...textOf(v)].map((c) => (MARKDOWN_SPECIAL.includes(c) ? `\\${c}` : c)).join(""),
  html_escape: (v) => escapeChars(textOf(v), HTML),
  escape: (v) => escapeChars(textOf(v), HTML),
  e: (v) => escapeChars(textOf(v), HTML),
  safe: (v) => v,
  date: (v, a) => date(v, a),
  truncate,
  required: (v) => {
    if (v === undefined || v === null) throw new RenderProblem("invalid operation: a required value is missing");
    return v;
  },
  default: (v, a, k) => (v === undefined || ((k["boolean"] === true || a[1] === true) && !truthy(v)) ? (a[0] ?? k["default_value"] ?? "") : v),
  tojson,
  upper: (v) => textOf(v).toUpperCase(),
  lower: (v) => textOf(v).toLowerCase(),
  title: (v) => textOf(v).toLowerCase().replace(/(^|[^\p{L}\p{N}'])(\p{L})/gu, (_m, a: string, b: string) => a + b.toUpperCase()),
  capitalize: (v) => {
    const t = textOf(v).toLowerCase();
    return t.charAt(0).toUpperCase() + t.slice(1);
  },
  trim: (v, a) => (a[0] === undefined ? textOf(v).trim() : textOf(v).replace(new RegExp(`^[${escapeClass(textOf(a[0]))}]+|[${escapeClass(textOf(a[0]))}]+$`, "g"), "")),
  length: (v) => (typeof v === "string" ? [...v].length : listOf(v).length),
  count: (v) => (typeof v === "string" ? [...v].length : listOf(v).length),
  join: (v, a) => listOf(v).map(textOf).join(a[0] === undefined ? "" : textOf(a[0])),
  first: (v) => listOf(v)[0],
  last: (v) => listOf(v).at(-1),
  replace: (v, a) => textOf(v).split(textOf(a[0])).join(textOf(a[1])),
  string: (v) => textOf(v),
  int: (v) => {
    const n = typeof v === "string" ? Number.parseInt(v, 10) : Math.trunc(numberOf(v, "int"));
    if (Number.isNaN(n)) throw new RenderProblem("invalid operation: int: the value is not a number");
    return n;
  },
  float: (v) => {
    const n = typeof v === "string" ? Number.parseFloat(v) : numberOf(v, "float");
    if (Number.isNaN(n)) throw new RenderProblem("invalid operation: float: the value is not a number");
    return n;
  },
  abs: (v) => Math.abs(numberOf(v, "abs")),
  round: (v, a, k) => {
    const precision = numberOf(a[0] ?? k["precision"] ?? 0, "round");
    const f = 10 ** precision;
    return Math.round(numberOf(v, "round") * f) / f;
  },
  list: (v) => [...listOf(v)],
  reverse: (v) => (typeof v === "string" ? [...v].reverse().join("") : [...listOf(v)].reverse()),
  sort: (v, _a, k) => {
    const sorted = [...listOf(v)].sort(sortKey);
    return k["reverse"] === true ? sorted.reverse() : sorted;
  },
  items: (v) => (isObject(v) ? Object.keys(v).sort().map((key) => [key, v[key]]) : []),
  dictsort: (v) => (isObject(v) ? Object.keys(v).sort().map((key) => [key, v[key]]) : []),
  min: (v) => [...listOf(v)].sort(sortKey)[0],
  max: (v) => [...listOf(v)].sort(sortKey).at(-1),
  sum: (v) => listOf(v).reduce((acc: number, x) => acc + numberOf(x, "sum"), 0),
  unique: (v) => listOf(v).filter((x, i, all) => all.findIndex((y) => equal(x, y)) === i),
  urlencode: (v) => encodeURIComponent(textOf(v)),
};
FILTERS["d"] = FILTERS["default"]!;

function escapeClass(chars: string): string {
  return chars.replace(/[\]\\^-]/g, "\\$&");
}

/** The filter `name`, or undefined. */
export function filter(name: string): Filter | undefined {
  return Object.hasOwn(FILTERS, name) ? FILTERS[name] : undefined;
}

type Test = (value: unknown, args: unknown[]) => boolean;

const TESTS: Record<string, Test> = {
  defined: (v) => v !== undefined,
  undefined: (v) => v === undefined,
  none: (v) => v === null,
  string: (v) => typeof v === "string",
  number: (v) => typeof v === "number",
  integer: (v) => typeof v === "number" && Number.isInteger(v),
  float: (v) => typeof v === "number" && !Number.isInteger(v),
  boolean: (v) => typeof v === "boolean",
  mapping: (v) => isObject(v),
  sequence: (v) => Array.isArray(v) || typeof v === "string",
  iterable: (v) => Array.isArray(v) || typeof v === "string" || isObject(v),
  true: (v) => v === true,
  false: (v) => v === false,
  odd: (v) => typeof v === "number" && Math.abs(v % 2) === 1,
  even: (v) => typeof v === "number" && v % 2 === 0,
  divisibleby: (v, a) => typeof v === "number" && v % numberOf(a[0], "divisibleby") === 0,
  eq: (v, a) => equal(v, a[0]),
  equalto: (v, a) => equal(v, a[0]),
  ne: (v, a) => !equal(v, a[0]),
  lower: (v) => typeof v === "string" && v === v.toLowerCase(),
  upper: (v) => typeof v === "string" && v === v.toUpperCase(),
  startingwith: (v, a) => typeof v === "string" && v.startsWith(textOf(a[0])),
  endingwith: (v, a) => typeof v === "string" && v.endsWith(textOf(a[0])),
  in: (v, a) => itemsOf(a[0]).some((x) => equal(x, v)),
};

/** The test `name`, or undefined. */
export function test(name: string): Test | undefined {
  return Object.hasOwn(TESTS, name) ? TESTS[name] : undefined;
}
