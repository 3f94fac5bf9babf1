/**
 * The filters and tests templates get, with the semantics the shared vectors fix: the Rust
 * SDK's own (`json_escape`, `mrkdwn_escape`, `markdown_escape`, `html_escape`, `date`,
 * `truncate`, `required`) and minijinja's built-ins (`default`/`d`, `tojson`, `escape`/`e`,
 * `safe`, `upper`, `lower`, `title`, `capitalize`, `trim`, `length`/`count`, `join`, `first`,
 * `last`, `replace`, `string`, `int`, `float`, `bool`, `abs`, `round`, `list`, `reverse`,
 * `sort`, `unique`, `items`, `dictsort`, `min`, `max`, `sum`, `map`, `select`, `reject`,
 * `selectattr`, `rejectattr`, `attr`, `split`, `lines`, `batch`, `slice`, `indent`, `format`,
 * `pprint`, `groupby`, `chain`, `zip`). Each is a pure function of its arguments; a missing
 * required argument or an unknown keyword argument is a render error.
 */

import { strftime, type Instant } from "./strftime.js";
import { display, equal, Float, isNumber, isObject, keysOf, kindOf, listOf, lookup, numberOf, pretty, RenderProblem, textOf, toJson, truthy } from "./values.js";

/** The format `date` uses without an argument. */
export const DEFAULT_DATE_FORMAT = "%Y-%m-%dT%H:%M:%SZ";
/** What `truncate` appends to a cut text unless told otherwise. */
export const TRUNCATION_MARK = "…";

export type Kwargs = Record<string, unknown>;
export type Filter = (value: unknown, args: unknown[], kwargs: Kwargs) => unknown;
type Test = (value: unknown, args: unknown[]) => boolean;

const fail = (message: string): never => {
  throw new RenderProblem(`invalid operation: ${message}`);
};

/** Refuses keyword arguments other than `allowed` and more than `max` positional ones. */
function only(name: string, args: unknown[], kwargs: Kwargs, max: number, allowed: string[] = []): void {
  if (args.length > max) fail(`${name}: too many arguments`);
  const unknown = Object.keys(kwargs).find((k) => !allowed.includes(k));
  if (unknown !== undefined) fail(`${name}: unknown keyword argument ${unknown}`);
}

function escapeChars(text: string, table: Record<string, string>): string {
  let out = "";
  for (const c of text) out += table[c] ?? c;
  return out;
}

const HTML = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };
const MINIJINJA_HTML = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#x27;", "/": "&#x2f;" };
const MARKDOWN_SPECIAL = "\\`*_{}[]()<>#+-.!|~";

function daysIn(year: number, month: number): number {
  return new Date(Date.UTC(year, month, 0)).getUTCDate();
}

function rfc3339(text: string): Instant | undefined {
  const m = /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?(?:([Zz])|([+-])(\d{2}):(\d{2}))$/.exec(text);
  if (!m) return undefined;
  const [y, mo, d, h, mi, s] = [m[1], m[2], m[3], m[4], m[5], m[6]].map(Number) as [number, number, number, number, number, number];
  if (mo < 1 || mo > 12 || d < 1 || d > daysIn(y, mo) || h > 23 || mi > 59 || s > 60) return undefined;
  const offset = m[8] ? 0 : (m[9] === "-" ? -1 : 1) * (Number(m[10]) * 60 + Number(m[11])) * 60_000;
  const nanos = Number((m[7] ?? "").slice(0, 9).padEnd(9, "0"));
  return { ms: Date.UTC(y, mo - 1, d, h, mi, Math.min(s, 59)) - offset, nanos };
}

function instantOf(value: unknown): Instant {
  if (typeof value === "string") return rfc3339(value) ?? fail("date: the value is not an RFC 3339 timestamp");
  const seconds = typeof value === "boolean" ? Number(value) : typeof value === "bigint" ? Number(value) : typeof value === "number" ? value : value instanceof Float && Number.isInteger(value.value) ? value.value : undefined;
  if (seconds === undefined || !Number.isFinite(seconds) || Math.abs(seconds) > 8.64e12) fail("date: the value is neither a timestamp nor Unix seconds");
  return { ms: seconds! * 1000, nanos: 0 };
}

function date(value: unknown, args: unknown[], kwargs: Kwargs): string {
  only("date", args, kwargs, 1);
  const format = args[0] === undefined ? DEFAULT_DATE_FORMAT : textOf(args[0]);
  // The format is checked first, as the Rust SDK does.
  if (strftime({ ms: 0, nanos: 0 }, format) === undefined) fail(`date: ${JSON.stringify(format)} is not a valid strftime format`);
  return strftime(instantOf(value), format)!;
}

function truncate(value: unknown, args: unknown[], kwargs: Kwargs): string {
  only("truncate", args, kwargs, 1, ["end"]);
  if (args[0] === undefined) fail("truncate: missing argument length");
  const length = numberOf(args[0], "truncate");
  const end = kwargs["end"] === undefined ? TRUNCATION_MARK : textOf(kwargs["end"]);
  const chars = [...textOf(value)];
  if (chars.length <= length) return chars.join("");
  return chars.slice(0, Math.max(0, length - [...end].length)).join("") + end;
}

/** minijinja's `tojson`: JSON safe inside HTML too (`<`, `>`, `&`, `'` as `\uXXXX`). */
function tojson(value: unknown, args: unknown[], kwargs: Kwargs): string {
  only("tojson", args, kwargs, 1, ["indent"]);
  const indent = kwargs["indent"] ?? args[0];
  const text = toJson(value, typeof indent === "number" ? indent : 0);
  return text.replace(/[<>&']/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
}

/** Sort order of values: numbers by value, booleans as numbers, text case-insensitively unless told. */
function compareValues(a: unknown, b: unknown, caseSensitive = false): number {
  const key = (v: unknown) => (typeof v === "boolean" ? Number(v) : isNumber(v) ? numberOf(v, "sort") : v);
  const [x, y] = [key(a), key(b)];
  if (typeof x === "number" && typeof y === "number") return x - y;
  let [s, t] = [display(x), display(y)];
  if (!caseSensitive) [s, t] = [s.toLowerCase(), t.toLowerCase()];
  return s < t ? -1 : s > t ? 1 : 0;
}

function attribute(item: unknown, path: unknown): unknown {
  return String(path)
    .split(".")
    .reduce((v, part) => lookup(v, /^\d+$/.test(part) ? Number(part) : part), item);
}

function applyTest(name: string, value: unknown, args: unknown[]): boolean {
  const t = test(name);
  if (!t) throw new RenderProblem(`unknown test: test ${name} is unknown`);
  return t(value, args);
}

function selecting(keep: boolean, byAttribute: boolean): Filter {
  return (value, args) => {
    const [first, ...rest] = args;
    return listOf(value, "select").filter((item) => {
      const subject = byAttribute ? attribute(item, first) : item;
      const name = byAttribute ? rest[0] : first;
      const passed = name === undefined ? truthy(subject) : applyTest(String(name), subject, byAttribute ? rest.slice(1) : rest);
      return passed === keep;
    });
  };
}

function map(value: unknown, args: unknown[], kwargs: Kwargs): unknown[] {
  const items = listOf(value, "map");
  if (kwargs["attribute"] !== undefined) return items.map((i) => attribute(i, kwargs["attribute"]) ?? kwargs["default"]);
  const [name, ...rest] = args;
  const f = filter(String(name));
  if (!f) throw new RenderProblem(`unknown filter: filter ${String(name)} is unknown`);
  return items.map((i) => f(i, rest, {}));
}

function sort(value: unknown, args: unknown[], kwargs: Kwargs): unknown[] {
  only("sort", args, kwargs, 0, ["reverse", "case_sensitive", "attribute"]);
  const by = kwargs["attribute"];
  const key = (v: unknown) => (by === undefined ? v : attribute(v, by));
  const sorted = [...listOf(value, "sort")].sort((a, b) => compareValues(key(a), key(b), kwargs["case_sensitive"] === true));
  return kwargs["reverse"] === true ? sorted.reverse() : sorted;
}

function unique(value: unknown, _a: unknown[], kwargs: Kwargs): unknown[] {
  const fold = (v: unknown) => (typeof v === "string" && kwargs["case_sensitive"] !== true ? v.toLowerCase() : v);
  const out: unknown[] = [];
  for (const item of listOf(value, "unique")) if (!out.some((seen) => equal(fold(seen), fold(item)))) out.push(item);
  return out;
}

function dictsort(value: unknown, _a: unknown[], kwargs: Kwargs): unknown[] {
  if (!isObject(value)) fail(`dictsort: ${kindOf(value)} is not a map`);
  const map = value as Record<string, unknown>;
  const byValue = kwargs["by"] === "value";
  const pairs = keysOf(map).map((k) => [k, map[k]] as [string, unknown]);
  pairs.sort((a, b) => compareValues(byValue ? a[1] : a[0], byValue ? b[1] : b[0], kwargs["case_sensitive"] === true));
  return kwargs["reverse"] === true ? pairs.reverse() : pairs;
}

function round(value: unknown, args: unknown[], kwargs: Kwargs): unknown {
  only("round", args, kwargs, 1, ["precision"]);
  const precision = numberOf(args[0] ?? kwargs["precision"] ?? 0, "round");
  if ((typeof value === "number" || typeof value === "bigint") && precision === 0) return value;
  const n = numberOf(value, "round");
  const f = 10 ** precision;
  // Half away from zero, as Rust's f64::round.
  return new Float((Math.sign(n) * Math.round(Math.abs(n) * f)) / f);
}

function split(value: unknown, args: unknown[]): string[] {
  const text = textOf(value);
  const [sep, max] = [args[0] ?? null, args[1] === undefined ? -1 : numberOf(args[1], "split")];
  const parts: string[] = [];
  let rest = sep === null ? text.trimStart() : text;
  while (rest !== "" || (sep !== null && parts.length === 0)) {
    if (max >= 0 && parts.length === max) {
      parts.push(rest);
      break;
    }
    const at = sep === null ? rest.search(/\s/) : rest.indexOf(String(sep));
    if (at < 0) {
      parts.push(rest);
      break;
    }
    parts.push(rest.slice(0, at));
    rest = sep === null ? rest.slice(at).trimStart() : rest.slice(at + String(sep).length);
    if (sep !== null && rest === "") parts.push("");
  }
  return parts;
}

function chunks(value: unknown, size: number, fill: unknown): unknown[][] {
  const items = listOf(value, "batch");
  const out: unknown[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  const last = out[out.length - 1];
  if (fill !== undefined && last) while (last.length < size) last.push(fill);
  return out;
}

function sliced(value: unknown, args: unknown[]): unknown[][] {
  const items = listOf(value, "slice");
  const count = numberOf(args[0], "slice");
  const per = Math.floor(items.length / count);
  const extra = items.length % count;
  const out: unknown[][] = [];
  let at = 0;
  for (let i = 0; i < count; i++) {
    const take = per + (i < extra ? 1 : 0);
    const slice = items.slice(at, at + take);
    if (args[1] !== undefined && i >= extra && extra > 0) slice.push(args[1]);
    out.push(slice);
    at += take;
  }
  return out;
}

function indent(value: unknown, args: unknown[], kwargs: Kwargs): string {
  const width = args[0] ?? kwargs["width"] ?? 4;
  const pad = typeof width === "string" ? width : " ".repeat(numberOf(width, "indent"));
  const [first, blank] = [truthy(args[1] ?? kwargs["first"]), truthy(args[2] ?? kwargs["blank"])];
  return textOf(value)
    .split("\n")
    .map((line, i) => ((i > 0 || first) && (blank || line.trim() !== "") ? pad + line : line))
    .join("\n");
}

function format(value: unknown, args: unknown[]): string {
  let i = 0;
  return textOf(value).replace(/%([%sdifr])/g, (_m, c: string) => {
    if (c === "%") return "%";
    const arg = args[i++];
    if (c === "s") return display(arg);
    if (c === "r") return JSON.stringify(display(arg));
    const n = numberOf(arg, "format");
    return c === "f" ? n.toFixed(6) : String(Math.trunc(n));
  });
}

function groupby(value: unknown, args: unknown[], kwargs: Kwargs): unknown[] {
  const by = args[0] ?? kwargs["attribute"];
  const groups: { grouper: unknown; list: unknown[] }[] = [];
  for (const item of listOf(value, "groupby")) {
    const key = attribute(item, by);
    const group = groups.find((g) => equal(g.grouper, key));
    if (group) group.list.push(item);
    else groups.push({ grouper: key, list: [item] });
  }
  return groups.sort((a, b) => compareValues(a.grouper, b.grouper));
}

function int(v: unknown): unknown {
  if (typeof v === "string") {
    const n = Number.parseInt(v.trim(), 10);
    return Number.isNaN(n) ? fail("int: the value is not a number") : n;
  }
  if (typeof v === "bigint") return v;
  return Math.trunc(numberOf(v, "int"));
}

function float(v: unknown): Float {
  const n = typeof v === "string" ? Number(v.trim()) : numberOf(v, "float");
  return Number.isNaN(n) ? fail("float: the value is not a number") : new Float(n);
}

function sum(v: unknown): unknown {
  const items = listOf(v, "sum");
  const total = items.reduce((acc: number, x) => acc + numberOf(x, "sum"), 0);
  return items.some((x) => x instanceof Float) ? new Float(total) : total;
}

const present = (name: string, v: unknown) => (v === undefined ? fail(`${name}: the value is undefined`) : v);

const FILTERS: Record<string, Filter> = {
  json_escape: (v) => JSON.stringify(textOf(v)).slice(1, -1),
  mrkdwn_escape: (v) => escapeChars(textOf(v), { "&": "&amp;", "<": "&lt;", ">": "&gt;" }),
  markdown_escape: (v) => [...textOf(v)].map((c) => (MARKDOWN_SPECIAL.includes(c) ? `\\${c}` : c)).join(""),
  html_escape: (v) => escapeChars(textOf(v), HTML),
  escape: (v) => escapeChars(textOf(v), MINIJINJA_HTML),
  e: (v) => escapeChars(textOf(v), MINIJINJA_HTML),
  safe: (v) => v,
  date,
  truncate,
  required: (v) => (v === undefined || v === null ? fail("a required value is missing") : v),
  default: (v, a, k) => (v === undefined || ((k["boolean"] === true || a[1] === true) && !truthy(v)) ? (a[0] ?? k["default_value"] ?? "") : v),
  tojson,
  upper: (v) => textOf(v).toUpperCase(),
  lower: (v) => textOf(v).toLowerCase(),
  title: (v) => textOf(v).toLowerCase().replace(/(^|[^\p{L}\p{N}])(\p{L})/gu, (_m, a: string, b: string) => a + b.toUpperCase()),
  capitalize: (v) => {
    const t = textOf(v).toLowerCase();
    return t.charAt(0).toUpperCase() + t.slice(1);
  },
  trim: (v, a) => {
    if (a[0] === undefined) return textOf(v).trim();
    const set = new Set(textOf(a[0]));
    const chars = [...textOf(v)];
    while (chars.length && set.has(chars[0]!)) chars.shift();
    while (chars.length && set.has(chars[chars.length - 1]!)) chars.pop();
    return chars.join("");
  },
  length: (v) => (typeof v === "string" ? [...v].length : listOf(present("length", v), "length").length),
  count: (v) => (typeof v === "string" ? [...v].length : listOf(present("count", v), "count").length),
  join: (v, a, k) => (v === undefined || v === null ? [] : listOf(v, "join")).map((x) => display(k["attribute"] === undefined ? x : attribute(x, k["attribute"]))).join(a[0] === undefined ? "" : textOf(a[0])),
  first: (v) => listOf(present("first", v), "first")[0],
  last: (v) => listOf(present("last", v), "last").at(-1),
  replace: (v, a, k) => {
    only("replace", a, k, 2);
    return textOf(v).split(textOf(a[0])).join(textOf(a[1]));
  },
  string: (v) => display(v),
  int,
  float,
  bool: (v) => truthy(v),
  abs: (v) => (v instanceof Float ? new Float(Math.abs(v.value)) : typeof v === "bigint" ? (v < 0n ? -v : v) : Math.abs(numberOf(v, "abs"))),
  round,
  list: (v) => [...listOf(v, "list")],
  reverse: (v) => (typeof v === "string" ? [...v].reverse().join("") : [...listOf(v, "reverse")].reverse()),
  sort,
  unique,
  items: (v) => (isObject(v) ? keysOf(v).map((key) => [key, v[key]]) : fail(`items: ${kindOf(v)} is not a map`)),
  dictsort,
  min: (v) => [...listOf(v, "min")].sort((a, b) => compareValues(a, b, true))[0],
  max: (v) => [...listOf(v, "max")].sort((a, b) => compareValues(a, b, true)).at(-1),
  sum,
  map,
  select: selecting(true, false),
  reject: selecting(false, false),
  selectattr: selecting(true, true),
  rejectattr: selecting(false, true),
  attr: (v, a) => lookup(v, a[0]),
  split,
  lines: (v) => textOf(v).split(/\r?\n/).filter((line, i, all) => i < all.length - 1 || line !== ""),
  batch: (v, a) => chunks(v, numberOf(a[0], "batch"), a[1]),
  slice: (v, a) => sliced(v, a),
  indent,
  format,
  pprint: (v) => pretty(v),
  groupby,
  chain: (v, a) => [listOf(v, "chain"), ...a.map((x) => listOf(x, "chain"))].flat(),
  zip: (v, a) => {
    const lists = [listOf(v, "zip"), ...a.map((x) => listOf(x, "zip"))];
    const n = Math.min(...lists.map((l) => l.length));
    return Array.from({ length: n }, (_x, i) => lists.map((l) => l[i]));
  },
};
FILTERS["d"] = FILTERS["default"]!;

/** The filter `name`, or undefined. */
export function filter(name: string): Filter | undefined {
  return Object.hasOwn(FILTERS, name) ? FILTERS[name] : undefined;
}

const TESTS: Record<string, Test> = {
  defined: (v) => v !== undefined,
  undefined: (v) => v === undefined,
  none: (v) => v === null,
  string: (v) => typeof v === "string",
  number: (v) => isNumber(v),
  integer: (v) => typeof v === "number" || typeof v === "bigint",
  float: (v) => v instanceof Float,
  boolean: (v) => typeof v === "boolean",
  mapping: (v) => isObject(v),
  sequence: (v) => Array.isArray(v) || typeof v === "string",
  iterable: (v) => Array.isArray(v) || typeof v === "string" || isObject(v),
  true: (v) => v === true,
  false: (v) => v === false,
  odd: (v) => isNumber(v) && Math.abs(numberOf(v, "odd") % 2) === 1,
  even: (v) => isNumber(v) && numberOf(v, "even") % 2 === 0,
  divisibleby: (v, a) => isNumber(v) && numberOf(v, "divisibleby") % numberOf(a[0], "divisibleby") === 0,
  eq: (v, a) => equal(v, a[0]),
  equalto: (v, a) => equal(v, a[0]),
  "==": (v, a) => equal(v, a[0]),
  ne: (v, a) => !equal(v, a[0]),
  lt: (v, a) => compareValues(v, a[0], true) < 0,
  gt: (v, a) => compareValues(v, a[0], true) > 0,
  lower: (v) => typeof v === "string" && v === v.toLowerCase(),
  upper: (v) => typeof v === "string" && v === v.toUpperCase(),
  startingwith: (v, a) => typeof v === "string" && v.startsWith(textOf(a[0])),
  endingwith: (v, a) => typeof v === "string" && v.endsWith(textOf(a[0])),
  in: (v, a) => listOf(a[0], "in").some((x) => equal(x, v)),
};

/** The test `name`, or undefined. */
export function test(name: string): Test | undefined {
  return Object.hasOwn(TESTS, name) ? TESTS[name] : undefined;
}
