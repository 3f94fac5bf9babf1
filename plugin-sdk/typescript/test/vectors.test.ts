/**
 * The shared vectors at the repository's `tests/vectors/`, which the Rust and Python SDKs run
 * too, so all three provably agree: `templates.json` (a template, its context and limits → the
 * output or the kind of error, with words its message must hold; one-line fields) and
 * `net_policy.json` (an address under an allow-list → allowed, or refused with its category and
 * embedding; the exact refusal texts; how allow-lists parse). Every vector runs; a failure
 * lists all that disagree.
 */

import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";

import { formatAddress, formatSubnet, NetworkPolicy, NetworkPolicyRefusal, parseAddress, PolicyError } from "../src/net-policy.js";
import { DEFAULT_LIMITS, Template, TemplateCache, TemplateError, type Limits } from "../src/template/index.js";
import { parseTemplateJson } from "../src/template/json.js";
import { REPO_DIR } from "./kit.js";

type Json = Record<string, unknown>;

/** A vectors file; its numbers as templates see them (`3.0` a float, big integers exact). */
function vectors(name: string): Json {
  return parseTemplateJson(readFileSync(join(REPO_DIR, "tests/vectors", name), "utf8")) as Json;
}

function report(failures: string[], total: number, what: string): void {
  assert.ok(total > 0, `no ${what} vectors ran`);
  assert.equal(failures.length, 0, `${failures.length} of ${total} ${what} vectors disagree:\n${failures.join("\n")}`);
}

const KIND: Record<TemplateError["kind"], string> = { compile: "compile", "too-long": "too_long", render: "render" };

function limitsOf(c: Json): Limits {
  const given = (c["limits"] ?? {}) as Json;
  const n = (k: string, d: number) => (typeof given[k] === "number" ? (given[k] as number) : d);
  return { maxSourceBytes: n("max_source_bytes", DEFAULT_LIMITS.maxSourceBytes), maxOutputBytes: n("max_output_bytes", DEFAULT_LIMITS.maxOutputBytes), fuel: n("fuel", DEFAULT_LIMITS.fuel), maxDepth: n("max_depth", DEFAULT_LIMITS.maxDepth) };
}

function checkTemplate(doc: Json, c: Json): string | undefined {
  const path = typeof c["path"] === "string" ? c["path"] : "/template";
  const contexts = doc["contexts"] as Record<string, Json>;
  const context = typeof c["context"] === "string" ? contexts[c["context"]]! : ((c["context"] as Json | undefined) ?? contexts["default"]!);
  try {
    const out = Template.compile(path, c["template"] as string, limitsOf(c)).render(context);
    if (typeof c["output"] === "string") return out === c["output"] ? undefined : `rendered ${JSON.stringify(out)}, want ${JSON.stringify(c["output"])}`;
    return `rendered ${JSON.stringify(out)}, want a ${String(c["error"])} error`;
  } catch (err) {
    if (!(err instanceof TemplateError)) return `threw ${String(err)}`;
    if (typeof c["error"] !== "string") return `failed: ${err.message}`;
    if (KIND[err.kind] !== c["error"]) return `a ${KIND[err.kind]} error (${err.message}), want ${c["error"]}`;
    if (err.path !== path || err.diagnostic().jsonPath !== path) return `the error names ${err.path}, want ${path}`;
    const missing = ((c["message_contains"] ?? []) as string[]).find((w) => !err.message.includes(w));
    return missing === undefined ? undefined : `error ${JSON.stringify(err.message)} lacks ${JSON.stringify(missing)}`;
  }
}

describe("shared template vectors", () => {
  const doc = vectors("templates.json");
  it("renders every case as specified", () => {
    const cases = doc["cases"] as Json[];
    const failures = cases.flatMap((c) => {
      const f = checkTemplate(doc, c);
      return f === undefined ? [] : [`${String(c["name"])}: ${f}`];
    });
    report(failures, cases.length, "template");
  });

  it("gives every one-line field", () => {
    const cases = doc["lines"] as Json[];
    const cache = new TemplateCache();
    const failures = cases.flatMap((c) => {
      const event = { eventId: c["event_type"] as string, eventType: c["event_type"] as string, id: "evt-1", payload: c["payload"] as Json, timestamp: "1970-01-01T00:00:00.000Z", deliveryId: "del-1", attempt: 1 };
      const ctx = { event, subscription: { id: "sub-1", name: "Ops" }, providerConfig: undefined, connection: undefined, correlation: undefined, signal: new AbortController().signal, logger: { trace() {}, debug() {}, info() {}, warn() {}, error() {} } };
      try {
        const got = cache.line("/summary", (c["template"] as string | null) ?? undefined, ctx, c["limit"] as number);
        return got === c["output"] ? [] : [`${String(c["name"])}: got ${JSON.stringify(got)}, want ${JSON.stringify(c["output"])}`];
      } catch (err) {
        return [`${String(c["name"])}: failed: ${String(err)}`];
      }
    });
    report(failures, cases.length, "line");
  });
});

describe("shared network policy vectors", () => {
  const doc = vectors("net_policy.json");
  const judge = (c: Json): NetworkPolicyRefusal | undefined => {
    try {
      NetworkPolicy.parse(c["allow"] as string).check(parseAddress(c["address"] as string)!, c["host"] as string | undefined);
      return undefined;
    } catch (err) {
      if (err instanceof NetworkPolicyRefusal) return err;
      throw err;
    }
  };

  it("gives every address its verdict", () => {
    const cases = doc["cases"] as Json[];
    const failures = cases.flatMap((c) => {
      const refusal = judge(c);
      const got: Json = refusal ? { verdict: "refused", category: refusal.verdict.category } : { verdict: "allowed" };
      if (refusal?.verdict.embedded) Object.assign(got, { embedding: refusal.verdict.embedded.form, embedded: formatAddress(refusal.verdict.embedded.v4) });
      const want: Json = { verdict: c["verdict"] };
      for (const k of ["category", "embedding", "embedded"]) if (c[k] !== undefined && c[k] !== null) want[k] = c[k];
      return JSON.stringify(got) === JSON.stringify(want) ? [] : [`${String(c["address"])} under ${JSON.stringify(c["allow"])}: got ${JSON.stringify(got)}, want ${JSON.stringify(want)}`];
    });
    report(failures, cases.length, "address");
  });

  it("refuses with every text word for word", () => {
    const cases = doc["messages"] as Json[];
    const failures = cases.flatMap((c) => {
      const got = judge(c)?.message;
      return got === c["message"] ? [] : [`${String(c["address"])}: got ${JSON.stringify(got)}`];
    });
    report(failures, cases.length, "refusal text");
  });

  it("parses every allow-list as specified", () => {
    const cases = doc["allow_lists"] as Json[];
    const failures = cases.flatMap((c) => {
      let got: Json;
      try {
        got = { subnets: NetworkPolicy.parse(c["allow"] as string).allow.map(formatSubnet) };
      } catch (err) {
        if (!(err instanceof PolicyError)) throw err;
        got = { error: { position: err.position, entry: err.entry, message: err.message } };
      }
      const want: Json = {};
      if (c["subnets"] !== undefined) want["subnets"] = c["subnets"];
      if (c["error"] !== undefined) want["error"] = { message: (got["error"] as Json | undefined)?.["message"], ...(c["error"] as Json) };
      const norm = (v: Json) => JSON.stringify(v, Object.keys({ ...v, ...(v["error"] as Json ?? {}) }).sort());
      return norm(got) === norm(want) ? [] : [`${JSON.stringify(c["allow"])}: got ${JSON.stringify(got)}, want ${JSON.stringify(want)}`];
    });
    report(failures, cases.length, "allow-list");
  });
});
