/**
 * The client against a coordinator whose TCP listener has TLS and role-scoped tokens: it
 * connects over `https://` with the CA that signed the coordinator's certificate (made here
 * with the system's `openssl`), is refused without that CA and in plaintext, and a `publish`
 * token may publish but not configure (PERMISSION_DENIED).
 */

import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";

import { status } from "@grpc/grpc-js";

import { SwitchyardClient } from "../src/index.js";
import { Coordinator } from "./coordinator.js";

const ADMIN = "tls-admin-token-1a2b3c";
const PUBLISH = "tls-publish-token-4d5e6f";

function hasOpenssl(): boolean {
  try {
    execFileSync("openssl", ["version"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

/** A CA and a server certificate for localhost / 127.0.0.1 signed by it, in `dir`. */
function makeCertificates(dir: string): void {
  const run = (...args: string[]) => execFileSync("openssl", args, { cwd: dir, stdio: ["ignore", "ignore", "pipe"] });
  const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
  run("req", "-x509", ...ec, "-keyout", "ca.key", "-out", "ca.pem", "-days", "1", "-subj", "/CN=switchyard test CA");
  run("req", ...ec, "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=localhost");
  writeFileSync(join(dir, "server.ext"), "subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\n");
  run("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-out", "server.pem", "-days", "1", "-extfile", "server.ext");
}

describe("TLS and role-scoped tokens", { skip: !hasOpenssl() && "openssl is not installed (needed to make test certificates)" }, () => {
  let coordinator: Coordinator;
  let ca: Buffer;
  before(async () => {
    coordinator = await Coordinator.start(ADMIN, (dir) => {
      makeCertificates(dir);
      writeFileSync(join(dir, "publish.token"), PUBLISH + "\n");
      return (
        `[api.tls]\ncert_file = ${JSON.stringify(join(dir, "server.pem"))}\nkey_file = ${JSON.stringify(join(dir, "server.key"))}\n` +
        `[[api.tokens]]\nrole = "publish"\ntoken_file = ${JSON.stringify(join(dir, "publish.token"))}\n`
      );
    });
    ca = readFileSync(join(coordinator.dir, "ca.pem"));
  });
  after(() => coordinator.stop());

  it("connects over https:// with the coordinator's CA", async () => {
    const sy = new SwitchyardClient(`https://${coordinator.tcp}`, { token: ADMIN, tls: { ca } });
    try {
      const { providers } = await sy.providers.listProviders({}, { timeoutMs: 10_000 });
      assert.ok(providers.some((p) => p.id === "webhook.webhook"));
    } finally {
      sy.close();
    }
  });

  it("is refused without the CA, and in plaintext", async () => {
    for (const [address, tls] of [[`https://${coordinator.tcp}`, {}], [`http://${coordinator.tcp}`, undefined]] as const) {
      const sy = new SwitchyardClient(address, { token: ADMIN, ...(tls ? { tls } : {}) });
      try {
        await assert.rejects(sy.providers.listProviders({}, { timeoutMs: 10_000 }), (e: { code: number }) => e.code === status.UNAVAILABLE, address);
      } finally {
        sy.close();
      }
    }
  });

  it("lets a publish token publish, and refuses it configuration", async () => {
    const admin = new SwitchyardClient(`https://${coordinator.tcp}`, { token: ADMIN, tls: { ca } });
    const publisher = new SwitchyardClient(`https://${coordinator.tcp}`, { token: PUBLISH, tls: { ca } });
    try {
      await admin.eventTypes.registerEventType({ eventType: { id: "incident.incident.created", displayName: "Incident created" } });
      const published = await publisher.events.publishEvent({ eventType: "incident.incident.created", payloadJson: "{}" });
      assert.ok(published.eventId);
      await assert.rejects(
        publisher.subscriptions.createSubscription({ subscription: { name: "x", providerId: "webhook.webhook", eventTypes: ["incident.*"], configJson: "{}" } }),
        (e: { code: number }) => e.code === status.PERMISSION_DENIED,
      );
    } finally {
      admin.close();
      publisher.close();
    }
  });
});
