/**
 * End to end: the guide's "My Service" and Slack providers, ported with only their imports and
 * registration changed, deliver through a real `switchyard serve` that starts the seed plugin:
 * an event published on the platform API reaches the local receiver through both (the guide's
 * body with the decrypted API key; the Slack message at the secret webhook URL), both
 * deliveries succeed, and neither secret is in any log line. And the example plugin follows a
 * correlated lifecycle: the "resolved" of an alert gets the id its "created" returned.
 */

import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";

import { DeliveryStatus, type WatchDeliveriesResponse } from "./gen/switchyard/coordinator/v1/delivery.js";
import { call, HttpSink, SEED, TSEXAMPLE } from "./kit.js";
import { Coordinator, type Api } from "./coordinator.js";
import { assertSlackMessage } from "./slack-spec.js";

const KEY = "e2e-key-7a6b5c4d3e";

describe("the seed's providers through switchyard serve", () => {
  let coordinator: Coordinator;
  let sink: HttpSink;
  let api: Api;
  before(async () => {
    sink = await HttpSink.start();
    coordinator = await Coordinator.start([SEED, TSEXAMPLE]);
    api = coordinator.clients();
  });
  after(async () => {
    Object.values(api).forEach((c) => c.close());
    await coordinator.stop();
    await sink.close();
  });

  it("delivers a published event through My Service and Slack, and both deliveries succeed", async () => {
    await call(api.eventTypes, api.eventTypes.registerEventType, {
      eventType: { id: "incident.incident.created", displayName: "Incident created", description: "", category: "", payloadSchemaJson: "", payloadPaths: [], createdAt: undefined, updatedAt: undefined, correlationPath: "" },
    });
    const subscribe = async (name: string, providerId: string, config: unknown) => {
      const created = await call(api.subscriptions, api.subscriptions.createSubscription, {
        subscription: {
          id: "", name, description: "", providerId, configVersion: 0, eventTypes: ["incident.*"], systemIds: [], enabled: true, disabledReason: "",
          configJson: JSON.stringify(config), createdAt: undefined, updatedAt: undefined, retryPolicy: undefined, rateLimit: undefined, circuitBreaker: undefined,
        },
      });
      return created.subscription?.id ?? "";
    };
    const myService = await subscribe("ops", "seed.myservice", { apiEndpoint: `${sink.url}/events`, apiKey: KEY, priority: "high" });
    const slack = await subscribe("chat", "seed.slack", { webhookUrl: `${sink.url}/services/T000/B000/XXXXSECRET`, channel: "#ops" });
    const watch = api.deliveries.watchDeliveries({ subscriptionId: "", eventId: "" });
    // The response headers come once the coordinator has subscribed the stream.
    await new Promise((ready) => watch.once("metadata", ready));
    const published = await call(api.events, api.events.publishEvent, {
      eventType: "incident.incident.created", payloadJson: JSON.stringify({ incidentId: "inc-1", title: "Disk full" }), idempotencyKey: "", timestamp: undefined,
    });
    assert.equal(published.deliveries.length, 2);
    const ended = new Map<string, WatchDeliveriesResponse>();
    for await (const change of watch as AsyncIterable<WatchDeliveriesResponse>) {
      const s = change.delivery?.status;
      if (s === DeliveryStatus.DELIVERY_STATUS_SUCCEEDED || s === DeliveryStatus.DELIVERY_STATUS_FAILED) ended.set(change.delivery?.subscriptionId ?? "", change);
      if (ended.size === 2) break;
    }
    watch.cancel();
    for (const id of [myService, slack]) {
      const delivery = ended.get(id)?.delivery;
      assert.equal(delivery?.status, DeliveryStatus.DELIVERY_STATUS_SUCCEEDED, delivery?.lastError);
    }
    const requests = await sink.waitFor(2);
    const toMyService = requests.find((r) => r.path === "/events");
    assert.equal(toMyService?.headers["authorization"], `Bearer ${KEY}`);
    const body = JSON.parse(toMyService?.body ?? "{}");
    assert.equal(body.event_type, "incident.incident.created");
    assert.equal(body.subscription_name, "ops");
    assert.deepEqual(body.data, { incidentId: "inc-1", title: "Disk full" });
    const ours = published.deliveries.find((d) => d.subscriptionId === myService);
    assert.equal(body.delivery_id, ours?.id);
    const attempts = await call(api.deliveries, api.deliveries.listDeliveryAttempts, { deliveryId: ours?.id ?? "" });
    assert.match(attempts.attempts[0]?.externalId ?? "", /^ext-[12]$/);
    const toSlack = requests.find((r) => r.path === "/services/T000/B000/XXXXSECRET");
    const message = JSON.parse(toSlack?.body ?? "{}");
    assertSlackMessage(message);
    assert.equal(message.channel, "#ops");
    assert.match(message.text, /^\*incident\.incident\.created\*\n/);
    const log = coordinator.stderr();
    assert.equal(log.includes(KEY) || log.includes("XXXXSECRET"), false, "no secret in any log line");
  });

  it("hands a correlated delivery what the earlier one of its key left behind", async () => {
    for (const [id, name] of [["alert.alert.created", "Alert created"], ["alert.alert.resolved", "Alert resolved"]]) {
      await call(api.eventTypes, api.eventTypes.registerEventType, {
        eventType: { id, displayName: name, description: "", category: "", payloadSchemaJson: "", payloadPaths: [], createdAt: undefined, updatedAt: undefined, correlationPath: "/alertId" },
      });
    }
    const created = await call(api.subscriptions, api.subscriptions.createSubscription, {
      subscription: {
        id: "", name: "alerts", description: "", providerId: "tsexample.http-post", configVersion: 0, eventTypes: ["alert.*"], systemIds: [], enabled: true, disabledReason: "",
        configJson: JSON.stringify({ url: `${sink.url}/alerts`, token: "alert-token-1234" }), createdAt: undefined, updatedAt: undefined, retryPolicy: undefined, rateLimit: undefined, circuitBreaker: undefined,
      },
    });
    const subscriptionId = created.subscription?.id ?? "";
    const watch = api.deliveries.watchDeliveries({ subscriptionId, eventId: "" });
    await new Promise((ready) => watch.once("metadata", ready));
    const publish = (eventType: string) =>
      call(api.events, api.events.publishEvent, { eventType, payloadJson: JSON.stringify({ alertId: "a-1", title: "CPU" }), idempotencyKey: "", timestamp: undefined });
    await publish("alert.alert.created");
    await publish("alert.alert.resolved");
    let succeeded = 0;
    for await (const change of watch as AsyncIterable<WatchDeliveriesResponse>) {
      const s = change.delivery?.status;
      assert.notEqual(s, DeliveryStatus.DELIVERY_STATUS_FAILED, change.delivery?.lastError);
      if (s === DeliveryStatus.DELIVERY_STATUS_SUCCEEDED && ++succeeded === 2) break;
    }
    watch.cancel();
    const [first, second] = sink.requests.filter((r) => r.path === "/alerts").map((r) => JSON.parse(r.body));
    assert.deepEqual([first.type, first.correlationKey, first.replyTo], ["alert.alert.created", "a-1", undefined]);
    const firstId = sink.requests.findIndex((r) => r.path === "/alerts") + 1;
    assert.deepEqual([second.type, second.correlationKey, second.replyTo], ["alert.alert.resolved", "a-1", `ext-${firstId}`]);
  });
});
