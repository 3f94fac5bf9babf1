/**
 * The guide's "My Service" and Slack providers, ported with only their imports and
 * registration changed, served by the real seed plugin and delivering to a real local sink.
 * The Slack requests are incoming-webhook calls, which Slack's official Web API spec bundled in
 * tests/vendor-specs does not describe as an operation; the message's fields are the ones of
 * `chat.postMessage` there, so each body is checked against that operation's parameters (every
 * field declared, of the declared type), and answered `200 ok` as incoming webhooks answer.
 */

import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";

import { Outcome } from "../src/gen/switchyard/plugin/v1/plugin.js";
import { call, deliverRequest, HttpSink, SEED, startPlugin, type PluginProcess } from "./kit.js";
import { assertSlackMessage } from "./slack-spec.js";

const KEY = "msk-1a2b3c4d5e6f";

describe("the seed's providers", () => {
  let sink: HttpSink;
  let p: PluginProcess;
  before(async () => {
    sink = await HttpSink.start();
    p = await startPlugin(SEED, { SWITCHYARD_NETWORK_ALLOW: "127.0.0.0/8" });
  });
  after(async () => {
    await p.close();
    await sink.close();
  });

  it("My Service POSTs the guide's body with the API key and returns the receiver's id", async () => {
    const answer = await call(p.plugin, p.plugin.deliver, deliverRequest("myservice", { apiEndpoint: `${sink.url}/events`, apiKey: KEY }));
    assert.equal(answer.outcome, Outcome.OUTCOME_DELIVERED);
    const request = sink.requests[sink.requests.length - 1];
    assert.equal(answer.externalId, `ext-${sink.requests.length}`);
    assert.equal(request?.headers["authorization"], `Bearer ${KEY}`);
    assert.equal(request?.headers["content-type"], "application/json");
    assert.deepEqual(JSON.parse(request?.body ?? "{}"), {
      event_type: "incident.incident.created",
      timestamp: "2026-01-02T03:04:05.000Z",
      delivery_id: "del-1",
      subscription_name: "Ops",
      data: { incidentId: "inc-1", title: "Disk full", systemIds: ["sys-1"] },
    });
  });

  it("My Service's failures keep the guide's semantics: retried, after 60 s on a 429", async () => {
    sink.reply({ status: 429, body: "busy" });
    const limited = await call(p.plugin, p.plugin.deliver, deliverRequest("myservice", { apiEndpoint: `${sink.url}/events`, apiKey: KEY }));
    assert.deepEqual([limited.outcome, limited.retryAfterMs, limited.error], [Outcome.OUTCOME_RETRYABLE, 60_000, "HTTP 429: busy"]);
    const refused = await call(p.plugin, p.plugin.deliver, deliverRequest("myservice", { apiEndpoint: "http://127.0.0.1:1/events", apiKey: KEY }));
    assert.equal(refused.outcome, Outcome.OUTCOME_RETRYABLE);
    assert.deepEqual([refused.retryAfterMs, refused.error], [30_000, "fetch failed: connect ECONNREFUSED 127.0.0.1:1"]);
  });

  it("My Service's timeout and enum are checked by its zod schema, in-band", async () => {
    const answer = await call(p.plugin, p.plugin.deliver, deliverRequest("myservice", { apiEndpoint: `${sink.url}/events`, apiKey: KEY, timeout: 5, priority: "urgent" }));
    assert.equal(answer.outcome, Outcome.OUTCOME_PERMANENT);
    assert.deepEqual(answer.diagnostics.map((d) => d.jsonPath), ["/priority", "/timeout"]);
  });

  it("Slack posts the guide's message to the incoming webhook", async () => {
    sink.reply({ status: 200, headers: { "content-type": "text/html" }, body: "ok" });
    const answer = await call(p.plugin, p.plugin.deliver, deliverRequest("slack", { webhookUrl: `${sink.url}/services/T000/B000/XXXX`, channel: "#ops" }));
    assert.equal(answer.outcome, Outcome.OUTCOME_DELIVERED);
    const request = sink.requests[sink.requests.length - 1];
    assert.equal(request?.method, "POST");
    assert.equal(request?.headers["content-type"], "application/json");
    const body = JSON.parse(request?.body ?? "{}");
    assertSlackMessage(body);
    assert.deepEqual(body, {
      channel: "#ops",
      username: "Checkstack",
      icon_emoji: ":robot_face:",
      text: `*incident.incident.created*\n${JSON.stringify({ incidentId: "inc-1", title: "Disk full", systemIds: ["sys-1"] }, null, 2)}`,
    });
  });

  it("Slack's webhook URL is a secret: hidden when the receiver echoes it", async () => {
    const url = `${sink.url}/services/T000/B000/SECRETPART1234`;
    sink.reply({ status: 404, body: `no_service: ${url}` });
    const answer = await call(p.plugin, p.plugin.deliver, deliverRequest("slack", { webhookUrl: url }));
    assert.equal(answer.outcome, Outcome.OUTCOME_RETRYABLE);
    assert.equal(answer.error, "no_service: [REDACTED]");
    assert.equal(p.stderr().includes("SECRETPART1234"), false);
  });
});
