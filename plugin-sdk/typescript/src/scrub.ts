/**
 * Hiding secret values in the texts a plugin returns and logs: the same rules as the Rust crate
 * `switchyard-scrub` (`plugin-sdk/scrub`) and the Python SDK, checked against the same
 * `plugin-sdk/scrub/vectors.json`.
 *
 * A {@link Scrubber} is built once per call from the secrets of a config (the values its schema
 * marks `x-secret`; a non-string value counts as its JSON text, plus the strings inside it) and
 * the config's other strings. It hides, longest first, as `[REDACTED]`: the value itself; its
 * JSON-string escapes (non-ASCII kept or as `\uXXXX`); percent-encoded (upper and lower hex);
 * form-urlencoded (both the `~`-keeping and the `*`-keeping rule); base64 (standard and URL-safe,
 * padded or not) of the value and of `x:value` / `value:x` for every other string `x` of the
 * config (basic auth); and for an http(s) URL its password, its path with the query, and each
 * long path segment and query value. Values shorter than 4 characters are not hidden.
 *
 * {@link withActive} / {@link scrubActive} keep the scrubbers of the calls in flight, so the log
 * writer hides secrets in any line written while a call runs.
 */

/** What every hidden occurrence becomes. */
export const REDACTED = "[REDACTED]";
/** Secrets shorter than this (in characters) are not hidden. */
export const MIN_SECRET_CHARS = 4;
/** Path segments and query values of a secret URL shorter than this are not hidden alone. */
export const MIN_URL_PART_CHARS = 12;

const UNRESERVED = /[A-Za-z0-9\-._~]/;
const FORM_BASE = /[A-Za-z0-9\-._]/;

function chars(text: string): number {
  return [...text].length;
}

/** The content of the JSON string for `text` (without quotes). */
export function jsonEscaped(text: string, asciiOnly: boolean): string {
  const inner = JSON.stringify(text).slice(1, -1);
  if (!asciiOnly) return inner;
  let out = "";
  for (let i = 0; i < inner.length; i++) {
    const code = inner.charCodeAt(i);
    out += code > 0x7e ? `\\u${code.toString(16).padStart(4, "0")}` : inner[i];
  }
  return out;
}

function percent(text: string, upper: boolean): string {
  let out = "";
  for (const byte of Buffer.from(text, "utf8")) {
    const c = String.fromCharCode(byte);
    if (byte < 0x80 && UNRESERVED.test(c)) out += c;
    else {
      const hex = byte.toString(16).padStart(2, "0");
      out += `%${upper ? hex.toUpperCase() : hex}`;
    }
  }
  return out;
}

function form(text: string, kept: string): string {
  let out = "";
  for (const byte of Buffer.from(text, "utf8")) {
    const c = String.fromCharCode(byte);
    if (byte < 0x80 && (FORM_BASE.test(c) || c === kept)) out += c;
    else if (byte === 0x20) out += "+";
    else out += `%${byte.toString(16).padStart(2, "0").toUpperCase()}`;
  }
  return out;
}

function base64All(text: string): string[] {
  const bytes = Buffer.from(text, "utf8");
  const std = bytes.toString("base64");
  const url = std.replace(/\+/g, "-").replace(/\//g, "_");
  return [std, std.replace(/=+$/, ""), url, url.replace(/=+$/, "")];
}

function urlParts(value: string): string[] {
  const lower = value.toLowerCase();
  const scheme = ["http://", "https://"].find((s) => lower.startsWith(s));
  if (scheme === undefined) return [];
  const rest = value.slice(scheme.length);
  const cuts = ["/", "?", "#"].map((c) => rest.indexOf(c)).filter((i) => i >= 0);
  const cut = cuts.length ? Math.min(...cuts) : rest.length;
  const authority = rest.slice(0, cut);
  let tail = rest.slice(cut);
  const parts: string[] = [];
  const at = authority.lastIndexOf("@");
  if (at >= 0) {
    const userinfo = authority.slice(0, at);
    const colon = userinfo.indexOf(":");
    if (colon >= 0) parts.push(userinfo.slice(colon + 1));
  }
  tail = tail.split("#", 1)[0] ?? "";
  parts.push(tail);
  const q = tail.indexOf("?");
  const path = q >= 0 ? tail.slice(0, q) : tail;
  const query = q >= 0 ? tail.slice(q + 1) : "";
  parts.push(...path.split("/").filter((s) => chars(s) >= MIN_URL_PART_CHARS));
  const values = query.split("&").map((pair) => {
    const eq = pair.indexOf("=");
    return eq >= 0 ? pair.slice(eq + 1) : pair;
  });
  parts.push(...values.filter((v) => chars(v) >= MIN_URL_PART_CHARS));
  return parts.filter((p) => chars(p) >= MIN_SECRET_CHARS);
}

/** Every form of `secret` to hide; empty when it is too short. */
export function formsOf(secret: string, others: readonly string[]): Set<string> {
  if (chars(secret) < MIN_SECRET_CHARS) return new Set();
  const out = new Set<string>([
    secret,
    jsonEscaped(secret, false),
    jsonEscaped(secret, true),
    percent(secret, true),
    percent(secret, false),
    form(secret, "~"),
    form(secret, "*"),
    ...base64All(secret),
  ]);
  for (const other of others) {
    for (const f of base64All(`${other}:${secret}`)) out.add(f);
    for (const f of base64All(`${secret}:${other}`)) out.add(f);
  }
  for (const part of urlParts(secret)) out.add(part);
  out.delete("");
  return out;
}

function stringsIn(value: unknown, out: string[]): void {
  if (typeof value === "string") out.push(value);
  else if (Array.isArray(value)) value.forEach((v) => stringsIn(v, out));
  else if (value !== null && typeof value === "object") Object.values(value).forEach((v) => stringsIn(v, out));
}

function secretTexts(secret: unknown): string[] {
  if (secret === null || secret === undefined) return [];
  if (typeof secret === "string") return [secret];
  // The JSON text as serde_json writes it: compact, keys in their order.
  const out = [JSON.stringify(secret)];
  stringsIn(secret, out);
  return out;
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/** Replaces the secrets of one config (and their encodings) in texts. */
export class Scrubber {
  private readonly pattern: RegExp | undefined;

  constructor(secrets: Iterable<unknown>, others: Iterable<string> = []) {
    const otherList = [...others];
    const forms = new Set<string>();
    for (const secret of secrets) {
      for (const text of secretTexts(secret)) for (const f of formsOf(text, otherList)) forms.add(f);
    }
    // Longest first: alternation takes the first alternative matching at the leftmost
    // position, so this is leftmost-longest, as the Rust crate's automaton.
    const ordered = [...forms].sort((a, b) => b.length - a.length || (a < b ? -1 : a > b ? 1 : 0));
    this.pattern = ordered.length ? new RegExp(ordered.map(escapeRegExp).join("|"), "g") : undefined;
  }

  /** True when this scrubber changes nothing. */
  get empty(): boolean {
    return this.pattern === undefined;
  }

  /** `text` with every form of every secret replaced by `[REDACTED]`. */
  scrub(text: string): string {
    if (this.pattern === undefined || !text) return text;
    return text.replace(this.pattern, REDACTED);
  }

  toJSON(): string {
    return "Scrubber(...)"; // never the forms: they are the secrets
  }
}

type Path = readonly (string | number)[];
type Json = unknown;

/**
 * Paths of every non-null value of `instance` that `schema` marks `x-secret`: through
 * `properties`, `additionalProperties`, `items`, `prefixItems`, local `$ref`,
 * `allOf`/`anyOf`/`oneOf` and `then`/`else`.
 */
export function secretPaths(schema: Json, instance: Json): Path[] {
  const found = new Map<string, Path>();
  walk(schema, schema, instance, [], found, 0);
  return [...found.values()];
}

function asObject(value: unknown): Record<string, unknown> | undefined {
  return value !== null && typeof value === "object" && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : undefined;
}

function resolveRef(root: Json, ref: string): Json {
  let target: Json = root;
  for (const part of ref.slice(2).split("/")) {
    const obj = asObject(target);
    target = obj ? obj[part.replace(/~1/g, "/").replace(/~0/g, "~")] : undefined;
  }
  return target;
}

function walk(root: Json, schemaValue: Json, inst: Json, path: Path, out: Map<string, Path>, depth: number): void {
  const schema = asObject(schemaValue);
  if (!schema || inst === null || inst === undefined || depth > 48) return;
  if (schema["x-secret"] === true) {
    out.set(JSON.stringify(path), path);
    return;
  }
  const ref = schema["$ref"];
  if (typeof ref === "string" && ref.startsWith("#/")) walk(root, resolveRef(root, ref), inst, path, out, depth + 1);
  for (const kw of ["allOf", "anyOf", "oneOf"]) {
    const branches = schema[kw];
    if (Array.isArray(branches)) for (const b of branches) walk(root, b, inst, path, out, depth + 1);
  }
  for (const kw of ["then", "else"]) walk(root, schema[kw], inst, path, out, depth + 1);
  const obj = asObject(inst);
  if (obj) {
    const props = asObject(schema["properties"]) ?? {};
    for (const [key, value] of Object.entries(obj)) {
      const sub = key in props ? props[key] : schema["additionalProperties"];
      walk(root, sub, value, [...path, key], out, depth + 1);
    }
  } else if (Array.isArray(inst)) {
    const prefix = Array.isArray(schema["prefixItems"]) ? (schema["prefixItems"] as Json[]) : [];
    inst.forEach((value, i) => walk(root, i < prefix.length ? prefix[i] : schema["items"], value, [...path, i], out, depth + 1));
  }
}

function get(value: Json, path: Path): Json {
  let current: Json = value;
  for (const part of path) current = (current as Record<string | number, Json>)[part];
  return current;
}

function others(value: Json, path: Path, secret: Set<string>, out: string[]): void {
  if (secret.has(JSON.stringify(path))) return;
  if (typeof value === "string") out.push(value);
  else if (Array.isArray(value)) value.forEach((item, i) => others(item, [...path, i], secret, out));
  else {
    const obj = asObject(value);
    if (obj) for (const [key, item] of Object.entries(obj)) others(item, [...path, key], secret, out);
  }
}

/** The secret values of `config` per `schema`, and its other strings. */
export function collect(schema: Json, config: Json): { secrets: Json[]; others: string[] } {
  const paths = secretPaths(schema, config);
  const rest: string[] = [];
  others(config, [], new Set(paths.map((p) => JSON.stringify(p))), rest);
  return { secrets: paths.map((p) => get(config, p)), others: rest };
}

const active = new Set<Scrubber>();

/** Runs `body` with `scrubber` registered for the log writer, removing it when `body` settles. */
export async function withActive<T>(scrubber: Scrubber, body: () => Promise<T>): Promise<T> {
  if (scrubber.empty) return body();
  active.add(scrubber);
  try {
    return await body();
  } finally {
    active.delete(scrubber);
  }
}

/** `text` scrubbed with the scrubbers of every call in flight. */
export function scrubActive(text: string): string {
  let out = text;
  for (const s of active) out = s.scrub(out);
  return out;
}
