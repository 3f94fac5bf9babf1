/**
 * The coordinator's JSON log lines about a delivery carry its delivery, subscription and trace
 * ids, including a warning the happy path never writes: a real `switchyard serve` with JSON logs
 * hosts the example plugin, whose `http-post` keeps a correlated delivery's external id as its
 * correlation state; the local receiver answers with an id over the coordinator's 4 KiB state
 * bound, so the coordinator drops the state and says so, in a line that names the delivery.
 */

import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";

import { Metadata } from "@grpc/grpc-js";

import { Coordinator, type Api } from "./coordinator.js";
import { DeliveryStatus, type WatchDeliveriesResponse } from "./gen/switchyard/coordinator/v1/delivery.js";
import { call, HttpSink, TSEXAMPLE } from "./kit.js";

const TRACE_ID = "0af7651916cd43dd8448eb211c80319c";
const DROPPED = "the plugin returned correlation state over the limit; it is not kept";

describe("coordinator log lines about a delivery", () => {
  let sink: HttpSink;
  let coordinator: Coordinator;
  let api: Api;
  before(async () => {
    sink = await HttpSink.start();
    coordinator = await Coordinator.start([TSEXAMPLE], { SWITCHYARD_LOG__FORMAT: "json", SWITCHYARD_LOG__LEVEL: "info,switchyard=debug" });
    api = coordinator.clients();
  });
  after(async () => {
    Object.values(api).forEach((c) => c.close());
    await coordinator.stop();
    await sink.close();
  });

  it("carry its delivery, subscription and trace ids, the dropped-state warning too", async () => {
    await call(api.eventTypes, api.eventTypes.registerEventType, {
      eventType: { id: "alert.alert.created", displayName: "Alert created", description: "", category: "", payloadSchemaJson: "", payloadPaths: [], createdAt: undefined, updatedAt: undefined, correlationPath: "/alertId" },
    });
    const created = await call(api.subscriptions, api.subscriptions.createSubscription, {
      subscription: {
        id: "", name: "alerts", description: "", providerId: "tsexample.http-post", configVersion: 0, eventTypes: ["alert.*"], systemIds: [], enabled: true, disabledReason: "",
        configJson: JSON.stringify({ url: `${sink.url}/alerts`, token: "log-token-1234" }), createdAt: undefined, updatedAt: undefined, retryPolicy: undefined, rateLimit: undefined, circuitBreaker: undefined,
      },
    });
    const subscriptionId = created.subscription?.id ?? "";
    sink.reply({ status: 200, headers: { "content-type": "application/json" }, body: JSON.stringify({ id: "x".repeat(5000) }) });
    const watch = api.deliveries.watchDeliveries({ subscriptionId, eventId: "" });
    await new Promise((ready) => watch.once("metadata", ready));
    const md = new Metadata();
    md.set("traceparent", `00-${TRACE_ID}-b7ad6b7169203331-01`);
    const event = { eventType: "alert.alert.created", payloadJson: JSON.stringify({ alertId: "a-1", title: "CPU" }), idempotencyKey: "", timestamp: undefined };
    const published = await call(api.events, api.events.publishEvent, event, 20_000, md);
    const id = published.deliveries[0]?.id ?? "";
    for await (const change of watch as AsyncIterable<WatchDeliveriesResponse>) {
      if (change.delivery?.id === id && change.delivery.status === DeliveryStatus.DELIVERY_STATUS_SUCCEEDED) break;
    }
    watch.cancel();

    const log = coordinator.stderr();
    const about = log
      .split("\n")
      .filter((l) => l.startsWith("{"))
      .map((l) => JSON.parse(l) as { fields?: Record<string, unknown> })
      .filter((l) => l.fields?.["delivery"] === id);
    const messages = about.map((l) => l.fields?.["message"]);
    assert.ok(messages.includes(DROPPED), `the warning about the dropped state, among ${JSON.stringify(messages)}\n${log}`);
    assert.ok(messages.includes("delivered"), JSON.stringify(messages));
    for (const line of about) {
      assert.equal(line.fields?.["subscription"], subscriptionId, JSON.stringify(line));
      assert.equal(line.fields?.["trace_id"], TRACE_ID, JSON.stringify(line));
    }
  });
});
