/**
 * End to end: the guide's "My Service" provider, ported with only its imports and registration
 * changed, delivers through a real `switchyard serve` that starts the seed plugin: an event
 * published on the platform API reaches the local receiver with the guide's body and the
 * decrypted API key, and the delivery succeeds with the receiver's id; the key is in no log.
 */

import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";

import { DeliveryStatus, type WatchDeliveriesResponse } from "./gen/switchyard/coordinator/v1/delivery.js";
import { call, HttpSink, SEED } from "./kit.js";
import { Coordinator, type Api } from "./coordinator.js";

const KEY = "e2e-key-7a6b5c4d3e";

describe("the seed's My Service through switchyard serve", () => {
  let coordinator: Coordinator;
  let sink: HttpSink;
  let api: Api;
  before(async () => {
    sink = await HttpSink.start();
    coordinator = await Coordinator.start([SEED]);
    api = coordinator.clients();
  });
  after(async () => {
    Object.values(api).forEach((c) => c.close());
    await coordinator.stop();
    await sink.close();
  });

  it("delivers a published event to the receiver and the delivery succeeds", async () => {
    await call(api.eventTypes, api.eventTypes.registerEventType, {
      eventType: { id: "incident.incident.created", displayName: "Incident created", description: "", category: "", payloadSchemaJson: "", payloadPaths: [], createdAt: undefined, updatedAt: undefined, correlationPath: "" },
    });
    const created = await call(api.subscriptions, api.subscriptions.createSubscription, {
      subscription: {
        id: "", name: "ops", description: "", providerId: "seed.myservice", configVersion: 0, eventTypes: ["incident.*"], systemIds: [], enabled: true, disabledReason: "",
        configJson: JSON.stringify({ apiEndpoint: `${sink.url}/events`, apiKey: KEY, priority: "high" }),
        createdAt: undefined, updatedAt: undefined, retryPolicy: undefined, connectionId: "",
      },
    });
    const subscriptionId = created.subscription?.id ?? "";
    const watch = api.deliveries.watchDeliveries({ subscriptionId, eventId: "" });
    // The response headers come once the coordinator has subscribed the stream.
    await new Promise((ready) => watch.once("metadata", ready));
    const published = await call(api.events, api.events.publishEvent, {
      eventType: "incident.incident.created", payloadJson: JSON.stringify({ incidentId: "inc-1", title: "Disk full" }), idempotencyKey: "", timestamp: undefined,
    });
    let last: WatchDeliveriesResponse | undefined;
    for await (const change of watch as AsyncIterable<WatchDeliveriesResponse>) {
      last = change;
      const s = change.delivery?.status;
      if (s === DeliveryStatus.DELIVERY_STATUS_SUCCEEDED || s === DeliveryStatus.DELIVERY_STATUS_FAILED) break;
    }
    watch.cancel();
    assert.equal(last?.delivery?.status, DeliveryStatus.DELIVERY_STATUS_SUCCEEDED, last?.delivery?.lastError);
    const [request] = await sink.waitFor(1);
    assert.equal(request?.headers["authorization"], `Bearer ${KEY}`);
    const body = JSON.parse(request?.body ?? "{}");
    assert.equal(body.event_type, "incident.incident.created");
    assert.equal(body.subscription_name, "ops");
    assert.deepEqual(body.data, { incidentId: "inc-1", title: "Disk full" });
    assert.equal(body.delivery_id, published.deliveries[0]?.id);
    const attempts = await call(api.deliveries, api.deliveries.listDeliveryAttempts, { deliveryId: published.deliveries[0]?.id ?? "" });
    assert.equal(attempts.attempts[0]?.externalId, "ext-1");
    assert.equal(coordinator.stderr().includes(KEY), false, "the API key is in no log line");
  });
});
