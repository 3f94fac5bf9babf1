/**
 * The SDK's pure helpers, with the Rust SDK's semantics: the scrubber against the vectors shared
 * with the Rust crate and the Python SDK, Retry-After, HTTP classification and failure texts,
 * network-policy classification and refusal text, schemas from zod with x-keys, diagnostics,
 * the seed result shape → outcome mapping.
 */

import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";

import { z } from "zod";

import { Outcome } from "../src/gen/switchyard/plugin/v1/plugin.js";
import { classify as classifyStatus, failure, retryAfterMs } from "../src/http.js";
import { classify, NetworkPolicy, parseAddress, formatAddress } from "../src/net-policy.js";
import { toResponse } from "../src/result.js";
import { configNumber, configString, Versioned } from "../src/schema.js";
import { collect, Scrubber } from "../src/scrub.js";
import { REPO_DIR } from "./kit.js";

interface Vector {
  name: string;
  secrets: unknown[];
  others: string[];
  input: string;
  expected: string;
}

describe("scrub", () => {
  const vectors = JSON.parse(readFileSync(join(REPO_DIR, "plugin-sdk/scrub/vectors.json"), "utf8")) as Vector[];
  it("has the shared vectors", () => assert.ok(vectors.length >= 10));
  for (const v of vectors) {
    it(v.name, () => assert.equal(new Scrubber(v.secrets, v.others).scrub(v.input), v.expected));
  }
  it("finds secrets by the schema's x-secret, nested and through $ref", () => {
    const schema = {
      type: "object",
      properties: { auth: { $ref: "#/$defs/auth" }, url: { type: "string" } },
      $defs: { auth: { type: "object", properties: { token: { type: "string", "x-secret": true } } } },
    };
    const found = collect(schema, { auth: { token: "abcd-1234" }, url: "https://x.example" });
    assert.deepEqual(found, { secrets: ["abcd-1234"], others: ["https://x.example"] });
  });
});

describe("http", () => {
  const now = new Date("2026-10-21T07:28:00Z");
  it("reads Retry-After as seconds or an HTTP date", () => {
    assert.equal(retryAfterMs("120", now), 120_000);
    assert.equal(retryAfterMs("Wed, 21 Oct 2026 07:28:30 GMT", now), 30_000);
    assert.equal(retryAfterMs("Wed, 21 Oct 2026 07:00:00 GMT", now), 0);
    assert.equal(retryAfterMs("soon", now), undefined);
    assert.equal(retryAfterMs(null, now), undefined);
    assert.equal(retryAfterMs("-5", now), undefined);
  });
  it("classifies statuses as the Rust SDK does", () => {
    const cases: [number, string][] = [[200, "delivered"], [204, "delivered"], [429, "rate_limited"], [503, "rate_limited"], [408, "retryable"], [500, "retryable"], [502, "retryable"], [400, "permanent"], [410, "permanent"], [302, "permanent"], [101, "permanent"]];
    for (const [code, klass] of cases) assert.equal(classifyStatus(code), klass, String(code));
  });
  it("defaults a rate limit without Retry-After to 60 s and says a redirect is not followed", () => {
    assert.equal(failure(429, new Headers(), "").retryAfterMs, 60_000);
    assert.equal(failure(302, new Headers(), "").error, "HTTP 302 Found (redirects are not followed: configure the final URL)");
    const long = failure(500, new Headers(), "x".repeat(1000));
    assert.equal(long.error, `HTTP 500 Internal Server Error: ${"x".repeat(256)}…`);
  });
});

describe("network policy", () => {
  const category = (ip: string) => classify(parseAddress(ip)!)?.category;
  it("classifies every non-public range", () => {
    const cases: [string, string][] = [
      ["127.0.0.1", "loopback"], ["10.1.2.3", "private"], ["172.31.255.255", "private"], ["192.168.1.1", "private"],
      ["169.254.1.1", "link_local"], ["169.254.169.254", "metadata"], ["100.64.0.1", "cgnat"], ["224.0.0.1", "multicast"],
      ["0.1.2.3", "unspecified"], ["240.0.0.1", "reserved"], ["198.18.0.1", "reserved"], ["::1", "loopback"], ["::", "unspecified"],
      ["fe80::1", "link_local"], ["fd12:3456::1", "unique_local"], ["fd00:ec2::254", "metadata"], ["ff02::1", "multicast"],
      ["2001:db8::1", "reserved"], ["::ffff:127.0.0.1", "loopback"], ["64:ff9b::a9fe:a9fe", "metadata"], ["2002:0a00:0001::1", "private"],
      ["2001:0:1:2::80ff:fffe", "loopback"],
    ];
    for (const [ip, expected] of cases) assert.equal(category(ip), expected, ip);
    for (const ip of ["8.8.8.8", "172.32.0.1", "100.128.0.1", "2606:4700::1111", "::ffff:8.8.8.8", "2002:808:808::1"]) assert.equal(category(ip), undefined, ip);
  });
  it("allows listed subnets, also for the IPv4 address an IPv6 form carries", () => {
    const policy = NetworkPolicy.parse(" 127.0.0.0/8, ,fd00::/8,10.0.0.5");
    policy.check(parseAddress("127.0.0.1")!);
    policy.check(parseAddress("::ffff:127.0.0.1")!);
    policy.check(parseAddress("10.0.0.5")!);
    assert.throws(() => policy.check(parseAddress("10.0.0.6")!), /refused 10\.0\.0\.6: it is a private address/);
  });
  it("names the embedded form and the subnet to allow", () => {
    assert.throws(
      () => new NetworkPolicy().check(parseAddress("::ffff:10.0.0.5")!, "intranet.example"),
      { message: "the network policy refused intranet.example (resolved to ::ffff:10.0.0.5): it is an IPv4-mapped form of 10.0.0.5, a private address (10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16). Only public addresses are allowed unless the operator adds the subnet (e.g. 10.0.0.5/32) to the coordinator's `[plugins] network_allow`, which plugins receive in SWITCHYARD_NETWORK_ALLOW" },
    );
    assert.equal(formatAddress(parseAddress("2001:db8:0:0:1:0:0:1")!), "2001:db8::1:0:0:1");
  });
  it("refuses an unreadable entry, naming its position", () => {
    assert.throws(() => NetworkPolicy.parse("10.0.0.0/8,10.0.0.0/33"), /entry 2 \("10\.0\.0\.0\/33"\) is not a subnet/);
  });
});

describe("schemas and results", () => {
  const versioned = new Versioned({
    version: 1,
    schema: z.object({
      apiKey: configString({ "x-secret": true }).describe("API key"),
      project: configString({ "x-options-resolver": "projects", "x-depends-on": ["apiKey"], "x-searchable": true }),
      timeout: configNumber({}).min(1000).default(10_000),
      nested: z.object({ level: z.enum(["low", "high"]) }).optional(),
    }),
  });
  it("keeps the x-keys and leaves fields with defaults optional", () => {
    const schema = versioned.jsonSchema() as { properties: Record<string, Record<string, unknown>>; required: string[] };
    assert.equal(schema.properties["apiKey"]?.["x-secret"], true);
    assert.equal(schema.properties["apiKey"]?.["description"], "API key");
    assert.deepEqual(schema.properties["project"]?.["x-depends-on"], ["apiKey"]);
    assert.equal(schema.properties["timeout"]?.["default"], 10_000);
    assert.deepEqual(schema.required, ["apiKey", "project"]);
  });
  it("reports problems at JSON Pointers and applies defaults", () => {
    const bad = versioned.check({ apiKey: 5, timeout: 10, nested: { level: "mid" } });
    assert.equal(bad.ok, false);
    const paths = bad.ok ? [] : bad.diagnostics.map((d) => d.jsonPath);
    assert.deepEqual(paths, ["/apiKey", "/nested/level", "/project", "/timeout"]);
    const good = versioned.check({ apiKey: "k", project: "OPS" });
    assert.deepEqual(good.ok && good.value, { apiKey: "k", project: "OPS", timeout: 10_000 });
  });
  it("maps the seed's result shape and explicit outcomes", () => {
    assert.equal(toResponse({ success: true, externalId: "x" }, false).outcome, Outcome.OUTCOME_DELIVERED);
    const failed = toResponse({ success: false, error: "nope", retryAfterMs: 30_000 }, false);
    assert.deepEqual([failed.outcome, failed.retryAfterMs, failed.error], [Outcome.OUTCOME_RETRYABLE, 30_000, "nope"]);
    assert.equal(toResponse({ success: false, error: "refused" }, true).outcome, Outcome.OUTCOME_PERMANENT);
    assert.equal(toResponse({ success: false, outcome: "rate_limited", error: "slow" }, false).retryAfterMs, 60_000);
    assert.equal(toResponse({ success: true, outcome: "permanent", error: "x" }, false).success, false);
    assert.throws(() => toResponse(undefined as never, false), TypeError);
  });
});
