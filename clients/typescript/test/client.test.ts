/**
 * The client against a real `switchyard serve`: over the Unix socket and over TCP with the
 * bearer token, it registers an event type, creates a subscription (the webhook provider,
 * aimed at a local receiver), watches that subscription's deliveries, publishes an event and
 * sees its delivery succeed; a call without the token is refused; bad addresses are refused.
 */

import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";

import { status } from "@grpc/grpc-js";

import { AddressError, DeliveryStatus, SwitchyardClient } from "../src/index.js";
import { Coordinator, Receiver } from "./coordinator.js";

const TOKEN = "client-test-token-5f4e3d";

describe("the platform API client", () => {
  let coordinator: Coordinator;
  let receiver: Receiver;
  before(async () => {
    coordinator = await Coordinator.start(TOKEN);
    receiver = await Receiver.start();
  });
  after(async () => {
    await coordinator.stop();
    await receiver.close();
  });

  for (const via of ["unix", "tcp"] as const) {
    it(`over ${via}: creates a subscription, publishes, and watches the delivery succeed`, async () => {
      const address = via === "unix" ? `unix:${coordinator.socket}` : `http://${coordinator.tcp}`;
      const sy = new SwitchyardClient(address, { token: TOKEN });
      try {
        await sy.eventTypes.registerEventType({ eventType: { id: "incident.incident.created", displayName: "Incident created" } });
        const { subscription } = await sy.subscriptions.createSubscription({
          subscription: {
            name: `ops-${via}`,
            enabled: true,
            providerId: "webhook.webhook",
            eventTypes: ["incident.*"],
            configJson: JSON.stringify({ url: `${receiver.url}/hook-${via}` }),
          },
        });
        assert.ok(subscription?.id);
        const watch = sy.deliveries.watchDeliveries({ subscriptionId: subscription.id });
        await watch.ready;
        const published = await sy.events.publishEvent({
          eventType: "incident.incident.created",
          payloadJson: JSON.stringify({ incidentId: `inc-${via}`, title: "Disk full" }),
        });
        const ours = published.deliveries.filter((d) => d.subscriptionId === subscription.id);
        assert.equal(ours.length, 1);
        const seen: DeliveryStatus[] = [];
        for await (const change of watch) {
          if (change.delivery?.eventId !== published.eventId) continue;
          seen.push(change.delivery.status);
          if (change.delivery.status === DeliveryStatus.DELIVERY_STATUS_SUCCEEDED || change.delivery.status === DeliveryStatus.DELIVERY_STATUS_FAILED) break;
        }
        watch.cancel();
        assert.equal(seen[seen.length - 1], DeliveryStatus.DELIVERY_STATUS_SUCCEEDED, `statuses seen: ${seen.join(", ")}`);
        assert.ok(receiver.bodies.some((b) => b.includes(`inc-${via}`)), "the receiver got the event");
        const got = await sy.deliveries.getDelivery({ id: ours[0]?.id });
        assert.equal(got.delivery?.status, DeliveryStatus.DELIVERY_STATUS_SUCCEEDED);
      } finally {
        sy.close();
      }
    });
  }

  it("is refused without the token (UNAUTHENTICATED)", async () => {
    const sy = new SwitchyardClient(`unix:${coordinator.socket}`);
    try {
      await assert.rejects(sy.providers.listProviders({}), (e: { code: number }) => e.code === status.UNAUTHENTICATED);
    } finally {
      sy.close();
    }
  });

  it("lists the providers over TCP, the webhook among them", async () => {
    const sy = new SwitchyardClient(coordinator.tcp, { token: TOKEN });
    try {
      const { providers } = await sy.providers.listProviders({}, { timeoutMs: 10_000 });
      assert.ok(providers.some((p) => p.id === "webhook.webhook"), JSON.stringify(providers.map((p) => p.id)));
    } finally {
      sy.close();
    }
  });

  it("refuses addresses it cannot use, saying which forms it takes", () => {
    assert.throws(() => new SwitchyardClient("unix:relative.sock"), AddressError);
    assert.throws(() => new SwitchyardClient("http://host-without-port"), /use unix:\/path\/to\/switchyard.sock, http:\/\/host:port or https:\/\/host:port/);
  });
});
