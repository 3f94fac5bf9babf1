/**
 * Traces in the TypeScript SDK, with the real example plugin as a child process and a real
 * OTLP/gRPC receiver in this process (`otlp.ts`):
 *
 * - the variables that turn traces on and off (the Rust SDK's rules);
 * - without `OTEL_*` variables the plugin loads no OpenTelemetry package at all (every module
 *   it resolves is recorded by a `node --import` hook), even for a call with a `traceparent`,
 *   nor with a protocol it cannot speak (a warning names the variable);
 * - with the collector unreachable the plugin still delivers, and logs that the export failed;
 * - with them, a `Deliver` call is a server span under the host's `traceparent`, the vendor
 *   request made through the SDK's `fetch` a client span under it (host, port, status; never the
 *   URL's path or the token), and the provider's log line carries the trace id;
 * - the spans still queued are exported on the way out, after Shutdown or SIGTERM;
 * - through a real `switchyard serve` hosting the plugin: one trace from the platform's
 *   `traceparent` on `PublishEvent` through the coordinator's attempt and plugin-call spans to
 *   the plugin's `Deliver` span and its vendor request, across a retry.
 */

import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { after, before, describe, it } from "node:test";

import { Metadata, status } from "@grpc/grpc-js";

import { Outcome } from "../src/gen/switchyard/plugin/v1/plugin.js";
import { DELIVER_SPAN, tracesWanted } from "../src/tracing.js";
import { Coordinator, type Api } from "./coordinator.js";
import { DeliveryStatus, type WatchDeliveriesResponse } from "./gen/switchyard/coordinator/v1/delivery.js";
import { call, deliverRequest, HttpSink, PACKAGE_DIR, startPlugin, TSEXAMPLE, type PluginProcess } from "./kit.js";
import { OtlpReceiver, type ReceivedSpan } from "./otlp.js";

const TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736";
const PARENT_SPAN = "00f067aa0ba902b7";
const TOKEN = "tok-trace-5e4d3c2b1a";
const SERVICE = "switchyard-plugin-tsexample";
const ALLOW = { SWITCHYARD_NETWORK_ALLOW: "127.0.0.0/8" };
/** OTLP's `SPAN_KIND_SERVER` and `SPAN_KIND_CLIENT`, `STATUS_CODE_ERROR`. */
const SERVER = 2;
const CLIENT = 3;
const ERROR = 2;

function traceparent(): Metadata {
  const md = new Metadata();
  md.set("traceparent", `00-${TRACE_ID}-${PARENT_SPAN}-01`);
  return md;
}

/** A scratch directory and the variables that make the plugin record every module it resolves there. */
function moduleLog(): { dir: string; env: Record<string, string>; loaded: () => string[] } {
  const dir = mkdtempSync(join(tmpdir(), "sy-modules-"));
  const file = join(dir, "modules.log");
  const hook = pathToFileURL(join(PACKAGE_DIR, "dist/test/module-log.js")).href;
  return { dir, env: { NODE_OPTIONS: `--import=${hook}`, SY_MODULE_LOG: file }, loaded: () => readFileSync(file, "utf8").split("\n").filter(Boolean) };
}

const OTEL_PACKAGES = "/node_modules/@opentelemetry/";

describe("tracesWanted: the same variables as the Rust, Python and Go SDKs", () => {
  it("is on for an OTLP endpoint or OTEL_TRACES_EXPORTER=otlp, off without, or when disabled", () => {
    assert.deepEqual(tracesWanted({}), { wanted: false });
    assert.deepEqual(tracesWanted({ OTEL_EXPORTER_OTLP_ENDPOINT: " " }), { wanted: false });
    assert.deepEqual(tracesWanted({ OTEL_EXPORTER_OTLP_ENDPOINT: "http://127.0.0.1:4317" }), { wanted: true });
    assert.deepEqual(tracesWanted({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: "http://127.0.0.1:4317" }), { wanted: true });
    assert.deepEqual(tracesWanted({ OTEL_TRACES_EXPORTER: "otlp" }), { wanted: true });
    assert.deepEqual(tracesWanted({ OTEL_EXPORTER_OTLP_ENDPOINT: "http://x:4317", OTEL_SDK_DISABLED: "TRUE" }), { wanted: false });
    assert.deepEqual(tracesWanted({ OTEL_EXPORTER_OTLP_ENDPOINT: "http://x:4317", OTEL_TRACES_EXPORTER: "none" }), { wanted: false });
  });

  it("names the variable it cannot honour", () => {
    assert.match(tracesWanted({ OTEL_TRACES_EXPORTER: "zipkin" }).problem ?? "", /^OTEL_TRACES_EXPORTER="zipkin" is not supported/);
    const http = tracesWanted({ OTEL_EXPORTER_OTLP_ENDPOINT: "http://x:4318", OTEL_EXPORTER_OTLP_PROTOCOL: "http/protobuf" });
    assert.equal(http.wanted, false);
    assert.match(http.problem ?? "", /^OTEL_EXPORTER_OTLP_PROTOCOL="http\/protobuf" is not supported.*"grpc"/);
    assert.deepEqual(tracesWanted({ OTEL_EXPORTER_OTLP_ENDPOINT: "http://x:4317", OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: "grpc" }), { wanted: true });
  });
});

describe("traces off", () => {
  it("loads no OpenTelemetry package, even for a call that carries a traceparent", async () => {
    const sink = await HttpSink.start();
    const modules = moduleLog();
    const p = await startPlugin(TSEXAMPLE, { ...ALLOW, ...modules.env, SWITCHYARD_LOG_LEVEL: "debug" });
    try {
      const answer = await call(p.plugin, p.plugin.deliver, deliverRequest("http-post", { url: `${sink.url}/hook`, token: TOKEN }), 20_000, traceparent());
      assert.equal(answer.outcome, Outcome.OUTCOME_DELIVERED, answer.error);
    } finally {
      await p.close();
      await sink.close();
    }
    const loaded = modules.loaded();
    rmSync(modules.dir, { recursive: true, force: true });
    assert.ok(loaded.some((url) => url.includes("/node_modules/@grpc/grpc-js/")), `the hook records the packages loaded: ${loaded.join("\n")}`);
    assert.deepEqual(loaded.filter((url) => url.includes(OTEL_PACKAGES)), []);
    assert.equal(p.stderr().includes("trace_id"), false, p.stderr());
  });

  it("with a protocol it cannot speak: a warning naming the variable, and still no OpenTelemetry package", async () => {
    const modules = moduleLog();
    const otel = { OTEL_EXPORTER_OTLP_ENDPOINT: "http://127.0.0.1:4318", OTEL_EXPORTER_OTLP_PROTOCOL: "http/protobuf" };
    const p = await startPlugin(TSEXAMPLE, { ...ALLOW, ...otel, ...modules.env });
    await p.close();
    const loaded = modules.loaded();
    rmSync(modules.dir, { recursive: true, force: true });
    assert.equal((await p.exited).code, 0);
    assert.match(p.stderr(), /traces are off: OTEL_EXPORTER_OTLP_PROTOCOL=\\"http\/protobuf\\" is not supported/);
    assert.deepEqual(loaded.filter((url) => url.includes(OTEL_PACKAGES)), []);
  });
});

/** Resolves once the plugin has written a stderr line that `matches`. */
function stderrLine(p: PluginProcess, matches: (line: string) => boolean): Promise<string> {
  return new Promise((done) => {
    const check = () => {
      const line = p.stderr().split("\n").find(matches);
      if (line === undefined) return false;
      p.child.stderr?.off("data", check);
      done(line);
      return true;
    };
    if (!check()) p.child.stderr?.on("data", check);
  });
}

describe("traces on, the collector unreachable", () => {
  it("serves and delivers, and says in its log that the export failed", async () => {
    const sink = await HttpSink.start();
    // Nothing listens on port 1: the connection is refused.
    const otel = { OTEL_EXPORTER_OTLP_ENDPOINT: "http://127.0.0.1:1", OTEL_BSP_SCHEDULE_DELAY: "50" };
    const p = await startPlugin(TSEXAMPLE, { ...ALLOW, ...otel });
    try {
      const answer = await call(p.plugin, p.plugin.deliver, deliverRequest("http-post", { url: `${sink.url}/hook`, token: TOKEN }), 20_000, traceparent());
      assert.equal(answer.outcome, Outcome.OUTCOME_DELIVERED, answer.error);
      const line = JSON.parse(await stderrLine(p, (l) => l.includes("traces: "))) as Record<string, unknown>;
      assert.equal(line["@level"], "warn");
      assert.equal(String(line["@message"]).includes(TOKEN), false);
    } finally {
      await p.close();
      await sink.close();
    }
  });
});

describe("traces on, the plugin called directly", () => {
  let receiver: OtlpReceiver;
  let sink: HttpSink;
  let p: PluginProcess;
  const modules = moduleLog();
  const deliver = async (deliveryId: string) => {
    const request = deliverRequest("http-post", { url: `${sink.url}/hook/${TOKEN}`, token: TOKEN });
    request.event.deliveryId = deliveryId;
    return call(p.plugin, p.plugin.deliver, request, 20_000, traceparent());
  };

  before(async () => {
    receiver = await OtlpReceiver.start();
    sink = await HttpSink.start();
    const otel = { OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint, OTEL_BSP_SCHEDULE_DELAY: "50" };
    p = await startPlugin(TSEXAMPLE, { ...ALLOW, ...otel, ...modules.env, SWITCHYARD_LOG_LEVEL: "debug" });
  });
  after(async () => {
    await p.close();
    await sink.close();
    await receiver.close();
    rmSync(modules.dir, { recursive: true, force: true });
  });

  it("makes the Deliver call a server span under the traceparent and the vendor request a client span under it", async () => {
    sink.reply({ status: 500, body: "boom" });
    assert.equal((await deliver("del-500")).outcome, Outcome.OUTCOME_RETRYABLE);
    assert.equal((await deliver("del-200")).outcome, Outcome.OUTCOME_DELIVERED);
    const ours = (spans: ReceivedSpan[]) => spans.filter((s) => s.traceId === TRACE_ID && s.service === SERVICE);
    const spans = ours(await receiver.waitFor("two Deliver spans and two POST spans", (all) => ours(all).length === 4));
    const port = String(new URL(sink.url).port);
    for (const [deliveryId, status, outcome] of [["del-500", "500", "OUTCOME_RETRYABLE"], ["del-200", "200", "OUTCOME_DELIVERED"]] as const) {
      const served = spans.find((s) => s.name === DELIVER_SPAN && s.attribute("switchyard.delivery.id") === deliveryId);
      assert.ok(served, `the Deliver span of ${deliveryId}`);
      assert.equal(served.parentId, PARENT_SPAN, "the host's span is the parent");
      assert.equal(served.span.kind, SERVER);
      assert.deepEqual(
        ["rpc.system", "rpc.service", "rpc.method", "switchyard.provider", "switchyard.attempt", "switchyard.outcome"].map((k) => served.attribute(k)),
        ["grpc", "switchyard.plugin.v1.ProviderPlugin", "Deliver", "http-post", "1", outcome],
      );
      const post = spans.find((s) => s.name === "POST" && s.parentId === served.spanId);
      assert.ok(post, `the POST span under the Deliver span of ${deliveryId}`);
      assert.equal(post.span.kind, CLIENT);
      assert.deepEqual(
        ["http.request.method", "server.address", "server.port", "http.response.status_code"].map((k) => post.attribute(k)),
        ["POST", "127.0.0.1", port, status],
      );
      const failed = status === "500";
      assert.equal(served.span.status?.code === ERROR, failed, JSON.stringify(served.span.status));
      assert.equal(post.span.status?.code === ERROR, failed, JSON.stringify(post.span.status));
      if (failed) assert.equal(post.span.status?.message, "HTTP 500");
    }
    const texts = JSON.stringify(spans.map((s) => [s.name, s.attributes(), s.span.status]));
    assert.equal(texts.includes(TOKEN) || texts.includes("/hook"), false, `no path or token in a span: ${texts}`);
  });

  it("puts the trace id on the lines the provider logs during the call", async () => {
    await deliver("del-log");
    const lines = p
      .stderr()
      .split("\n")
      .filter((l) => l.includes('"delivering"') && l.includes("del-log"))
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.equal(lines.length, 1, p.stderr());
    assert.equal(lines[0]?.["trace_id"], TRACE_ID);
  });

  it("fails the span of a call answered with a status, naming the status only", async () => {
    const request = deliverRequest("no-such-provider", {});
    request.event.deliveryId = "del-unknown";
    await assert.rejects(call(p.plugin, p.plugin.deliver, request, 20_000, traceparent()), (err: { code?: number }) => err.code === status.NOT_FOUND);
    const find = (all: ReceivedSpan[]) => all.find((s) => s.attribute("switchyard.delivery.id") === "del-unknown");
    const served = find(await receiver.waitFor("the failed call's span", (all) => find(all) !== undefined));
    assert.equal(served?.parentId, PARENT_SPAN);
    assert.deepEqual([served?.span.status?.code, served?.span.status?.message], [ERROR, "NOT_FOUND"]);
  });

  it("loaded the OTLP exporter", () => {
    assert.ok(modules.loaded().some((url) => url.includes(`${OTEL_PACKAGES}exporter-trace-otlp-grpc/`)));
  });
});

describe("traces on: the spans still queued are exported on the way out", () => {
  for (const how of ["Shutdown", "SIGTERM"] as const) {
    it(`after ${how}`, async () => {
      const receiver = await OtlpReceiver.start();
      const sink = await HttpSink.start();
      // Nothing is exported on the batch's schedule before the plugin is told to stop.
      const otel = { OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint, OTEL_BSP_SCHEDULE_DELAY: "600000" };
      const p = await startPlugin(TSEXAMPLE, { ...ALLOW, ...otel });
      try {
        await call(p.plugin, p.plugin.deliver, deliverRequest("http-post", { url: `${sink.url}/hook`, token: TOKEN }), 20_000, traceparent());
        assert.equal(receiver.spans.length, 0, "nothing exported yet");
        if (how === "SIGTERM") p.child.kill("SIGTERM");
        await p.close();
        assert.equal((await p.exited).code, 0);
        const spans = await receiver.waitFor("the queued spans", (all) => all.filter((s) => s.traceId === TRACE_ID).length === 2);
        assert.deepEqual(spans.map((s) => s.name).sort(), ["POST", DELIVER_SPAN]);
      } finally {
        await p.close();
        await sink.close();
        await receiver.close();
      }
    });
  }
});

describe("traces on, through switchyard serve", () => {
  const COORDINATOR = "switchyard";
  const PUBLISH = "switchyard.coordinator.v1.EventService/PublishEvent";
  const ATTEMPT = "delivery attempt";
  let receiver: OtlpReceiver;
  let sink: HttpSink;
  let coordinator: Coordinator;
  let api: Api;
  const named = (spans: ReceivedSpan[], service: string, name: string) => spans.filter((s) => s.traceId === TRACE_ID && s.service === service && s.name === name);
  const parentOf = (child: ReceivedSpan, candidates: ReceivedSpan[]) => {
    const found = candidates.filter((c) => c.spanId === child.parentId);
    assert.equal(found.length, 1, `the parent of ${child.service}'s ${child.name} (${child.parentId}) among ${candidates.map((c) => c.spanId).join(", ")}`);
    return found[0]!;
  };

  before(async () => {
    receiver = await OtlpReceiver.start();
    sink = await HttpSink.start();
    coordinator = await Coordinator.start([TSEXAMPLE], { OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint, OTEL_BSP_SCHEDULE_DELAY: "50" });
    api = coordinator.clients();
  });
  after(async () => {
    Object.values(api).forEach((c) => c.close());
    await coordinator.stop();
    await sink.close();
    await receiver.close();
  });

  it("makes one trace from the platform's traceparent to the plugin's vendor request, across a retry", async () => {
    await call(api.eventTypes, api.eventTypes.registerEventType, {
      eventType: { id: "incident.incident.created", displayName: "Incident created", description: "", category: "", payloadSchemaJson: "", payloadPaths: [], createdAt: undefined, updatedAt: undefined, correlationPath: "" },
    });
    await call(api.subscriptions, api.subscriptions.createSubscription, {
      subscription: {
        id: "", name: "traced", description: "", providerId: "tsexample.http-post", configVersion: 0, eventTypes: ["incident.*"], systemIds: [], enabled: true, disabledReason: "",
        configJson: JSON.stringify({ url: `${sink.url}/hook`, token: TOKEN }), createdAt: undefined, updatedAt: undefined, retryPolicy: undefined, rateLimit: undefined, circuitBreaker: undefined,
      },
    });
    sink.reply({ status: 500, body: "boom" });
    const watch = api.deliveries.watchDeliveries({ subscriptionId: "", eventId: "" });
    await new Promise((ready) => watch.once("metadata", ready));
    const event = { eventType: "incident.incident.created", payloadJson: JSON.stringify({ incidentId: "inc-t", title: "Disk full" }), idempotencyKey: "", timestamp: undefined };
    const published = await call(api.events, api.events.publishEvent, event, 20_000, traceparent());
    const id = published.deliveries[0]?.id ?? "";
    for await (const change of watch as AsyncIterable<WatchDeliveriesResponse>) {
      const d = change.delivery;
      if (d?.id !== id) continue;
      assert.notEqual(d.status, DeliveryStatus.DELIVERY_STATUS_FAILED, d.lastError);
      if (d.status === DeliveryStatus.DELIVERY_STATUS_SUCCEEDED) {
        assert.equal(d.attempts, 2);
        break;
      }
    }
    watch.cancel();

    const complete = (spans: ReceivedSpan[]) =>
      named(spans, COORDINATOR, PUBLISH).length === 1 &&
      named(spans, COORDINATOR, ATTEMPT).length === 2 &&
      named(spans, COORDINATOR, DELIVER_SPAN).length === 2 &&
      named(spans, SERVICE, DELIVER_SPAN).length === 2 &&
      named(spans, SERVICE, "POST").length === 2;
    const spans = await receiver.waitFor("the delivery's whole trace", complete);
    const [publish] = named(spans, COORDINATOR, PUBLISH);
    assert.equal(publish?.parentId, PARENT_SPAN, "the platform's span is the parent");
    const attempts = named(spans, COORDINATOR, ATTEMPT);
    attempts.forEach((a) => assert.equal(a.parentId, publish?.spanId, "an attempt under the publish"));
    const calls = named(spans, COORDINATOR, DELIVER_SPAN);
    calls.forEach((c) => parentOf(c, attempts));
    const served = named(spans, SERVICE, DELIVER_SPAN);
    // The plugin's span is under the coordinator's span of the call, itself under its attempt.
    const byAttempt = served.map((s) => [parentOf(parentOf(s, calls), attempts).attribute("switchyard.attempt"), s.attribute("switchyard.attempt"), s.attribute("switchyard.delivery.id")]);
    assert.deepEqual(byAttempt.sort(), [["1", "1", id], ["2", "2", id]]);
    const statuses = named(spans, SERVICE, "POST").map((post) => {
      parentOf(post, served);
      return post.attribute("http.response.status_code");
    });
    assert.deepEqual(statuses.sort(), ["200", "500"]);
  });
});
