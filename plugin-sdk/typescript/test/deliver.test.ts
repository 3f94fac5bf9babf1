/**
 * Deliver, TestConnection, GetConnectionOptions and MigrateConfig through the real example
 * plugin over its socket, against a real local HTTP sink: what is sent, how each answer is
 * classified (delivered, Retry-After, retryable, permanent), config problems as in-band
 * diagnostics with JSON Pointers, correlation state, secrets scrubbed from answers and logs
 * even when the receiver echoes them, and the network policy's refusal.
 */

import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";

import { status } from "@grpc/grpc-js";

import { ConfigKind, Outcome } from "../src/gen/switchyard/plugin/v1/plugin.js";
import { call, deliverRequest, HttpSink, startPlugin, testCertificates, TSEXAMPLE, type PluginProcess } from "./kit.js";

const TOKEN = "tok-9f8e7d6c5b4a";
const ALLOW = { SWITCHYARD_NETWORK_ALLOW: "127.0.0.0/8" };

describe("deliver through the example plugin", () => {
  let sink: HttpSink;
  let p: PluginProcess;
  const config = () => ({ url: `${sink.url}/hook`, token: TOKEN, timeoutMs: 5000 });
  const deliver = (req: ReturnType<typeof deliverRequest>) => call(p.plugin, p.plugin.deliver, req);

  before(async () => {
    sink = await HttpSink.start();
    p = await startPlugin(TSEXAMPLE, ALLOW);
  });
  after(async () => {
    await p.close();
    await sink.close();
  });

  it("POSTs the event with the bearer token and returns the receiver's id", async () => {
    const answer = await deliver(deliverRequest("http-post", config()));
    assert.equal(answer.outcome, Outcome.OUTCOME_DELIVERED);
    assert.equal(answer.success, true);
    assert.equal(answer.statusCode, 200);
    const [request] = sink.requests.slice(-1);
    assert.equal(answer.externalId, `ext-${sink.requests.length}`);
    assert.equal(request?.method, "POST");
    assert.equal(request?.path, "/hook");
    assert.equal(request?.headers["authorization"], `Bearer ${TOKEN}`);
    assert.equal(request?.headers["x-delivery-id"], "del-1");
    const body = JSON.parse(request?.body ?? "{}");
    assert.deepEqual(
      { type: body.type, eventId: body.eventId, subscription: body.subscription, severity: body.severity, payload: body.payload },
      { type: "incident.incident.created", eventId: "evt-1", subscription: "Ops", severity: "info", payload: { incidentId: "inc-1", title: "Disk full", systemIds: ["sys-1"] } },
    );
  });

  it("keeps the first delivery's id as correlation state and hands it to the next", async () => {
    const first = await deliver(deliverRequest("http-post", config(), { correlation: { key: "inc-1", earlier: [] } }));
    assert.equal(first.state, first.externalId);
    const earlier = [{ eventType: "incident.incident.created", externalId: first.externalId, state: first.state, delivered: true, endedAt: new Date(), deliveryId: "del-1" }];
    const second = await deliver(deliverRequest("http-post", config(), { correlation: { key: "inc-1", earlier } }));
    assert.equal(second.outcome, Outcome.OUTCOME_DELIVERED);
    assert.equal(second.state, "", "only the thread's first message keeps state");
    const body = JSON.parse(sink.requests[sink.requests.length - 1]?.body ?? "{}");
    assert.equal(body.correlationKey, "inc-1");
    assert.equal(body.replyTo, first.externalId);
  });

  it("is rate-limited by a 429 for as long as its Retry-After says", async () => {
    sink.reply({ status: 429, headers: { "retry-after": "30" }, body: "slow down" });
    const answer = await deliver(deliverRequest("http-post", config()));
    assert.equal(answer.outcome, Outcome.OUTCOME_RATE_LIMITED);
    assert.equal(answer.retryAfterMs, 30_000);
    assert.equal(answer.error, "HTTP 429 Too Many Requests: slow down");
    assert.equal(answer.statusCode, 429);
  });

  it("retries a 500 and gives up on a 404", async () => {
    sink.reply({ status: 500, body: "boom" });
    const retry = await deliver(deliverRequest("http-post", config()));
    assert.equal(retry.outcome, Outcome.OUTCOME_RETRYABLE);
    assert.equal(retry.responseExcerpt, "boom");
    sink.reply({ status: 404, body: "no such hook" });
    const gone = await deliver(deliverRequest("http-post", config()));
    assert.equal(gone.outcome, Outcome.OUTCOME_PERMANENT);
    assert.equal(gone.error, "HTTP 404 Not Found: no such hook");
  });

  it("hides the token when the receiver echoes it, in the answer and in the logs", async () => {
    const basic = Buffer.from(`user:${TOKEN}`).toString("base64");
    sink.reply({ status: 400, body: `you sent Authorization: Bearer ${TOKEN} (also ${encodeURIComponent(TOKEN)} and ${basic})` });
    const answer = await deliver(deliverRequest("http-post", { ...config(), url: `${sink.url}/hook?user=user` }));
    assert.equal(answer.outcome, Outcome.OUTCOME_PERMANENT);
    assert.match(answer.error, /Bearer \[REDACTED\]/);
    assert.equal(answer.error.includes(TOKEN), false, answer.error);
    assert.equal(answer.responseExcerpt.includes(TOKEN), false);
    assert.equal(p.stderr().includes(TOKEN), false, "no log line carries the token");
  });

  it("answers a config that does not match its schema with diagnostics at JSON Pointers", async () => {
    const before = sink.requests.length;
    const answer = await deliver(deliverRequest("http-post", { url: "not a url", timeoutMs: "soon" }));
    assert.equal(answer.outcome, Outcome.OUTCOME_PERMANENT);
    assert.deepEqual(
      answer.diagnostics.map((d) => d.jsonPath),
      ["/timeoutMs", "/token", "/url"],
    );
    assert.equal(answer.diagnostics.find((d) => d.jsonPath === "/token")?.message, "'token' is required");
    assert.match(answer.error, /^invalid config: /);
    assert.equal(sink.requests.length, before, "nothing was sent");
  });

  it("renders the summary template, and a broken one is permanent, naming its field", async () => {
    const requestsBefore = sink.requests.length + 1;
    const ok = await deliver(deliverRequest("http-post", { ...config(), summaryTemplate: "{{ payload.title | upper }} ({{ subscription.name }})" }));
    assert.equal(ok.outcome, Outcome.OUTCOME_DELIVERED);
    assert.equal(JSON.parse(sink.requests[sink.requests.length - 1]?.body ?? "{}").summary, "DISK FULL (Ops)");
    const broken = await deliver(deliverRequest("http-post", { ...config(), summaryTemplate: "{{ payload.title " }));
    assert.equal(broken.outcome, Outcome.OUTCOME_PERMANENT);
    assert.match(broken.error, /^invalid config: \/summaryTemplate: the template does not compile: syntax error/);
    assert.equal(sink.requests.length, requestsBefore, "a broken template sends nothing");
    // Numbers print as minijinja prints them, from the payload's JSON text: 3.0 stays 3.0.
    const floats = await deliver({ ...deliverRequest("http-post", { ...config(), summaryTemplate: "{{ payload.ratio }} {{ payload.big }}" }), event: { ...deliverRequest("http-post", {}).event, payloadJson: '{"ratio": 3.0, "big": 12345678901234567890}' } });
    assert.equal(floats.outcome, Outcome.OUTCOME_DELIVERED);
    assert.equal(JSON.parse(sink.requests[sink.requests.length - 1]?.body ?? "{}").summary, "3.0 12345678901234567890");
    const before = sink.requests.length;
    const missing = await deliver(deliverRequest("http-post", { ...config(), summaryTemplate: "{{ payload.owner | required }}" }));
    assert.match(missing.error, /^the template in \/summaryTemplate failed to render: .*a required value is missing/);
    assert.equal(sink.requests.length, before, "nothing was sent");
  });

  it("validates a config's template when it is saved, and previews the request with the token masked", async () => {
    const validate = (cfg: unknown) => call(p.plugin, p.plugin.validateConfig, { providerId: "http-post", kind: ConfigKind.CONFIG_KIND_PROVIDER, configJson: JSON.stringify(cfg), connectionJson: "" });
    assert.deepEqual((await validate({ ...config(), summaryTemplate: "{{ payload.title }}" })).diagnostics, []);
    const bad = await validate({ ...config(), summaryTemplate: "{% for %}" });
    assert.deepEqual(bad.diagnostics.map((d) => d.jsonPath), ["/summaryTemplate"]);
    assert.match(bad.diagnostics[0]?.message ?? "", /^the template does not compile: syntax error/);
    assert.deepEqual((await validate({ url: 5 })).diagnostics.map((d) => d.jsonPath), ["/token", "/url"]);
    const before = sink.requests.length;
    const preview = await call(p.plugin, p.plugin.preview, { delivery: deliverRequest("http-post", { ...config(), summaryTemplate: "{{ payload.title }}" }) });
    assert.equal(sink.requests.length, before, "a preview sends nothing");
    assert.equal(preview.request?.url, `${sink.url}/hook`);
    assert.deepEqual(preview.request?.headers.find((h) => h.name === "authorization"), { name: "authorization", value: "Bearer [REDACTED]" });
    assert.equal(JSON.parse(preview.request?.body ?? "{}").summary, "Disk full");
    assert.equal(JSON.stringify(preview).includes(TOKEN), false);
  });

  it("answers NOT_FOUND for an unknown provider and INVALID_ARGUMENT for a config that is not JSON", async () => {
    await assert.rejects(deliver(deliverRequest("nope", config())), (e: { code: number }) => e.code === status.NOT_FOUND);
    await assert.rejects(deliver({ ...deliverRequest("http-post", config()), configJson: "{" }), (e: { code: number }) => e.code === status.INVALID_ARGUMENT);
  });

  it("tests a connection, lists resolver options and migrates a version 1 config", async () => {
    const tested = await call(p.plugin, p.plugin.testConnection, { providerId: "http-post", kind: ConfigKind.CONFIG_KIND_PROVIDER, configJson: JSON.stringify(config()), connectionJson: "" });
    assert.deepEqual({ success: tested.success, message: tested.message }, { success: true, message: "the receiver answered" });
    assert.equal(sink.requests[sink.requests.length - 1]?.method, "HEAD");
    const options = await call(p.plugin, p.plugin.getConnectionOptions, { providerId: "http-post", resolverName: "severities", connectionJson: "", contextJson: "{}" });
    assert.deepEqual(options.options.map((o) => o.value), ["info", "warning", "critical"]);
    await assert.rejects(
      call(p.plugin, p.plugin.getConnectionOptions, { providerId: "http-post", resolverName: "nope", connectionJson: "", contextJson: "{}" }),
      (e: { code: number }) => e.code === status.NOT_FOUND,
    );
    const v1 = { endpoint: `${sink.url}/old`, token: TOKEN };
    const migrated = await call(p.plugin, p.plugin.migrateConfig, { providerId: "http-post", kind: ConfigKind.CONFIG_KIND_PROVIDER, fromVersion: 1, configJson: JSON.stringify(v1) });
    assert.equal(migrated.version, 2);
    assert.deepEqual(JSON.parse(migrated.configJson), { token: TOKEN, url: `${sink.url}/old` });
    const broken = await call(p.plugin, p.plugin.migrateConfig, { providerId: "http-post", kind: ConfigKind.CONFIG_KIND_PROVIDER, fromVersion: 1, configJson: "{}" });
    assert.deepEqual(broken.diagnostics.map((d) => d.jsonPath), ["/token", "/url"]);
  });

  it("is cancelled with the host's call while the receiver never answers, and serves the next call", async () => {
    sink.reply({ status: 200, hang: true });
    const seen = sink.waitFor(sink.requests.length + 1);
    let settle: (err: { code: number } | null) => void = () => undefined;
    const settled = new Promise<{ code: number } | null>((done) => (settle = done));
    const pending = p.plugin.deliver(deliverRequest("http-post", config()), (err) => settle(err));
    await seen;
    pending.cancel();
    assert.equal((await settled)?.code, status.CANCELLED);
    const answer = await deliver(deliverRequest("http-post", config()));
    assert.equal(answer.outcome, Outcome.OUTCOME_DELIVERED);
  });
});

describe("over HTTPS", () => {
  const certs = testCertificates();
  it("delivers to an HTTPS receiver whose certificate the plugin trusts", { skip: !certs && "openssl is not installed" }, async () => {
    const sink = await HttpSink.start({ key: certs!.key, cert: certs!.cert });
    const dir = mkdtempSync(join(tmpdir(), "sy-ca-"));
    writeFileSync(join(dir, "ca.pem"), certs!.ca);
    // Node reads extra CAs at start: the plugin trusts the test CA, and nothing else changes.
    const p = await startPlugin(TSEXAMPLE, { ...ALLOW, NODE_EXTRA_CA_CERTS: join(dir, "ca.pem") });
    try {
      const answer = await call(p.plugin, p.plugin.deliver, deliverRequest("http-post", { url: `${sink.url}/secure`, token: TOKEN }));
      assert.equal(answer.outcome, Outcome.OUTCOME_DELIVERED, answer.error);
      assert.equal(sink.requests[0]?.headers["authorization"], `Bearer ${TOKEN}`);
    } finally {
      await p.close();
      await sink.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("refuses a receiver whose certificate it does not trust, retryably", { skip: !certs && "openssl is not installed" }, async () => {
    const sink = await HttpSink.start({ key: certs!.key, cert: certs!.cert });
    const p = await startPlugin(TSEXAMPLE, ALLOW);
    try {
      const answer = await call(p.plugin, p.plugin.deliver, deliverRequest("http-post", { url: `${sink.url}/secure`, token: TOKEN }));
      assert.equal(answer.outcome, Outcome.OUTCOME_RETRYABLE);
      assert.match(answer.error, /^fetch failed: .*certificate/);
      assert.equal(sink.requests.length, 0);
    } finally {
      await p.close();
      await sink.close();
    }
  });
});

describe("the network policy", () => {
  it("refuses a loopback receiver unless the operator allows it, permanently, naming address and setting", async () => {
    const sink = await HttpSink.start();
    const p = await startPlugin(TSEXAMPLE);
    try {
      const answer = await call(p.plugin, p.plugin.deliver, deliverRequest("http-post", { url: `${sink.url}/hook`, token: TOKEN }));
      assert.equal(answer.outcome, Outcome.OUTCOME_PERMANENT);
      assert.match(answer.error, /^the network policy refused 127\.0\.0\.1: it is a loopback address \(127\.0\.0\.0\/8, ::1\)\. Only public addresses are allowed unless the operator adds the subnet \(e\.g\. 127\.0\.0\.1\/32\) to the coordinator's `\[plugins\] network_allow`, which plugins receive in SWITCHYARD_NETWORK_ALLOW$/);
      assert.equal(sink.requests.length, 0, "no connection was made");
    } finally {
      await p.close();
      await sink.close();
    }
  });

  it("refuses a host name that resolves to a private address", async () => {
    const p = await startPlugin(TSEXAMPLE);
    try {
      const answer = await call(p.plugin, p.plugin.deliver, deliverRequest("http-post", { url: "http://localhost:9/hook", token: TOKEN }));
      assert.equal(answer.outcome, Outcome.OUTCOME_PERMANENT);
      assert.match(answer.error, /^the network policy refused localhost \(resolved to (127\.0\.0\.1|::1)\): it is a loopback address/);
    } finally {
      await p.close();
    }
  });
});

describe("a connection-based provider (channel-post)", () => {
  const API_TOKEN = "api-tok-77aa88bb99";
  let sink: HttpSink;
  let p: PluginProcess;
  const connection = () => JSON.stringify({ baseUrl: `${sink.url}/api`, apiToken: API_TOKEN });
  const options = (resolverName: string, form: unknown = {}) =>
    call(p.plugin, p.plugin.getConnectionOptions, { providerId: "channel-post", resolverName, connectionJson: connection(), contextJson: JSON.stringify(form) });

  before(async () => {
    sink = await HttpSink.start();
    p = await startPlugin(TSEXAMPLE, ALLOW);
  });
  after(async () => {
    await p.close();
    await sink.close();
  });

  it("delivers with the connection's credentials to the chosen channel", async () => {
    const answer = await call(p.plugin, p.plugin.deliver, { ...deliverRequest("channel-post", { connectionId: "conn-1", channel: "C 1", mention: "alice" }), connectionJson: connection() });
    assert.equal(answer.outcome, Outcome.OUTCOME_DELIVERED);
    const request = sink.requests[sink.requests.length - 1];
    assert.equal(request?.path, "/api/channels/C%201/messages");
    assert.equal(request?.headers["authorization"], `Bearer ${API_TOKEN}`);
    const body = JSON.parse(request?.body ?? "{}");
    assert.deepEqual([body.text, body.mention, body.event.id], ["[incident.incident.created] Disk full", "alice", "del-1"]);
  });

  it("fills the dropdowns from the API, the members once a channel is chosen", async () => {
    sink.reply({ status: 200, headers: { "content-type": "application/json" }, body: JSON.stringify([{ id: "C1", name: "ops" }, { id: "C2" }]) });
    const channels = await options("channels");
    assert.deepEqual(channels.options.map((o) => [o.value, o.label]), [["C1", "ops"], ["C2", "C2"]]);
    assert.equal(sink.requests[sink.requests.length - 1]?.path, "/api/channels");
    assert.deepEqual((await options("members")).options, []);
    sink.reply({ status: 200, body: JSON.stringify([{ id: "u1", name: "Alice" }]) });
    const members = await options("members", { channel: "C1" });
    assert.deepEqual(members.options.map((o) => o.label), ["Alice"]);
    assert.equal(sink.requests[sink.requests.length - 1]?.path, "/api/channels/C1/members");
  });

  it("tests a connection config; a provider config it cannot test is said so", async () => {
    sink.reply({ status: 200, body: JSON.stringify([{ id: "C1" }]) });
    const test = (kind: ConfigKind, configJson: string) => call(p.plugin, p.plugin.testConnection, { providerId: "channel-post", kind, configJson, connectionJson: "" });
    const ok = await test(ConfigKind.CONFIG_KIND_CONNECTION, connection());
    assert.deepEqual([ok.success, ok.message, JSON.parse(ok.detailsJson)], [true, "connected: 1 channel(s) visible", { channels: 1 }]);
    sink.reply({ status: 403 });
    const refused = await test(ConfigKind.CONFIG_KIND_CONNECTION, connection());
    assert.deepEqual([refused.success, refused.message], [false, "the API refused the token (HTTP 403)"]);
    const invalid = await test(ConfigKind.CONFIG_KIND_CONNECTION, JSON.stringify({ baseUrl: `${sink.url}/api` }));
    assert.deepEqual(invalid.diagnostics.map((d) => d.jsonPath), ["/apiToken"]);
    const provider = await test(ConfigKind.CONFIG_KIND_PROVIDER, JSON.stringify({ connectionId: "c", channel: "C1" }));
    assert.equal(provider.success, false);
    assert.match(provider.message, /does not test provider configs/);
  });

  it("answers a refused token in-band, at the connection's field", async () => {
    sink.reply({ status: 401, body: `bad token ${API_TOKEN}` });
    const refused = await options("channels");
    assert.deepEqual(refused.diagnostics, [{ jsonPath: "/apiToken", message: "the API refused the token (HTTP 401)" }]);
  });

  it("checks the connection config against its schema, in-band", async () => {
    const answer = await call(p.plugin, p.plugin.deliver, {
      ...deliverRequest("channel-post", { connectionId: "conn-1", channel: "C1" }),
      connectionJson: JSON.stringify({ baseUrl: "nope" }),
    });
    assert.equal(answer.outcome, Outcome.OUTCOME_PERMANENT);
    assert.deepEqual(answer.diagnostics.map((d) => [d.jsonPath, d.message.startsWith("connection: ")]), [["/apiToken", true], ["/baseUrl", true]]);
  });

  it("hides the connection's token when the API echoes it", async () => {
    sink.reply({ status: 403, body: `token ${API_TOKEN} may not post here` });
    const answer = await call(p.plugin, p.plugin.deliver, { ...deliverRequest("channel-post", { connectionId: "conn-1", channel: "C1" }), connectionJson: connection() });
    assert.equal(answer.outcome, Outcome.OUTCOME_PERMANENT);
    assert.equal(answer.error, "HTTP 403 Forbidden: token [REDACTED] may not post here");
    assert.equal(p.stderr().includes(API_TOKEN), false);
  });
});
