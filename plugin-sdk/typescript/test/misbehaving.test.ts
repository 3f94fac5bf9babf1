/**
 * A provider that throws, reaches a refused address, or is declared wrongly: what the host
 * gets (a retryable failure, INTERNAL, a permanent refusal, a plugin that refuses to start
 * naming the provider) and that the secret it quotes reaches neither the answers nor the log.
 */

import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { after, before, describe, it } from "node:test";

import { status } from "@grpc/grpc-js";

import { ConfigKind, Outcome } from "../src/gen/switchyard/plugin/v1/plugin.js";
import { call, deliverRequest, handshakeEnv, startPlugin, type PluginProcess } from "./kit.js";

const FIXTURE = join(dirname(fileURLToPath(import.meta.url)), "fixtures/misbehaving.js");
const TOKEN = "sekrit-0a1b2c3d4e";

describe("a provider that throws", () => {
  let p: PluginProcess;
  before(async () => {
    p = await startPlugin(process.execPath, {}, [FIXTURE, "throws"]);
  });
  after(() => p.close());

  it("fails the delivery retryably, naming the error with the secret hidden", async () => {
    const answer = await call(p.plugin, p.plugin.deliver, deliverRequest("throwing", { token: TOKEN }));
    assert.equal(answer.outcome, Outcome.OUTCOME_RETRYABLE);
    assert.equal(answer.error, "deliver threw Error: the vendor rejected [REDACTED]");
  });

  it("makes a failure after a network policy refusal permanent", async () => {
    const answer = await call(p.plugin, p.plugin.deliver, deliverRequest("throwing", { token: TOKEN, mode: "refused" }));
    assert.equal(answer.outcome, Outcome.OUTCOME_PERMANENT);
    assert.match(answer.error, /^the network policy refused 10\.0\.0\.1: it is a private address/);
  });

  it("answers INTERNAL naming only the error's type when testConnection throws", async () => {
    await assert.rejects(
      call(p.plugin, p.plugin.testConnection, { providerId: "throwing", kind: ConfigKind.CONFIG_KIND_PROVIDER, configJson: JSON.stringify({ token: TOKEN }), connectionJson: "" }),
      (e: { code: number; details: string }) => e.code === status.INTERNAL && e.details === "provider threw Error (see the plugin's log)",
    );
  });

  it("never writes the secret to its log", async () => {
    await call(p.plugin, p.plugin.deliver, deliverRequest("throwing", { token: TOKEN }));
    assert.match(p.stderr(), /about to fail with \[REDACTED\]/);
    assert.match(p.stderr(), /cannot test with \[REDACTED\]/);
    assert.equal(p.stderr().includes(TOKEN), false);
  });
});

describe("a plugin declared wrongly", () => {
  for (const [mode, message] of [
    ["bad-id", /provider "Bad_Id": id must match/],
    ["bad-event", /provider "throwing": supported event "created" must look like incident\.incident\.created/],
  ] as const) {
    it(`refuses to start (${mode}), naming the provider, stdout empty`, async () => {
      const dir = mkdtempSync(join(tmpdir(), "sy-ts-"));
      try {
        const child = spawn(process.execPath, [FIXTURE, mode], { env: handshakeEnv(dir), stdio: ["ignore", "pipe", "pipe"] });
        let out = "";
        let err = "";
        child.stdout.on("data", (d: Buffer) => (out += d));
        child.stderr.on("data", (d: Buffer) => (err += d));
        const [code] = await once(child, "close");
        assert.equal(code, 1);
        assert.equal(out, "");
        assert.match(err, message);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  }
});
