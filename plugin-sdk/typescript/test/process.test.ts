/**
 * The plugin process as the host sees it: the handshake (cookie, version negotiation, the line,
 * the socket), health, Describe with the zod schemas as draft 2020-12 JSON Schema, and the
 * lifecycle (Shutdown, SIGTERM, the death of its parent), against the real compiled example
 * plugin started as a child process.
 */

import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";

import { HealthCheckResponse_ServingStatus } from "../src/gen/grpc/health/v1/health.js";
import { call, handshakeEnv, startPlugin, TSEXAMPLE } from "./kit.js";

async function run(env: Record<string, string>) {
  const child = spawn(TSEXAMPLE, [], { env, stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  let err = "";
  child.stdout.on("data", (d: Buffer) => (out += d));
  child.stderr.on("data", (d: Buffer) => (err += d));
  const [code] = await once(child, "close");
  return { code: code as number, out, err };
}

describe("handshake", () => {
  const dir = mkdtempSync(join(tmpdir(), "sy-ts-"));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it("refuses to run without the magic cookie, explaining on stderr, stdout empty", async () => {
    const { code, out, err } = await run({ PATH: process.env["PATH"] ?? "" });
    assert.equal(code, 1);
    assert.equal(out, "");
    assert.match(err, /This binary is a Switchyard plugin/);
  });

  it("refuses a host that speaks no common protocol version, naming both sides", async () => {
    const { code, out, err } = await run(handshakeEnv(dir, { PLUGIN_PROTOCOL_VERSIONS: "999" }));
    assert.equal(code, 1);
    assert.equal(out, "");
    assert.match(err, /the host speaks 999 .* this plugin speaks 1/);
  });

  it("refuses an unreadable network allow-list, naming the entry", async () => {
    const { code, err } = await run(handshakeEnv(dir, { SWITCHYARD_NETWORK_ALLOW: "127.0.0.0/8,nonsense" }));
    assert.equal(code, 1);
    assert.match(err, /SWITCHYARD_NETWORK_ALLOW: entry 2 \("nonsense"\) is not a subnet/);
  });

  it("announces 1|1|unix|<socket in the dir>|grpc| and serves health and Describe", async () => {
    const p = await startPlugin(TSEXAMPLE);
    try {
      assert.match(p.line, /^1\|1\|unix\|.+\|grpc\|$/);
      assert.ok(p.socket.startsWith(p.socketDir + "/"), p.socket);
      const health = await call(p.health, p.health.check, { service: "plugin" });
      assert.equal(health.status, HealthCheckResponse_ServingStatus.SERVING);
      const described = await call(p.plugin, p.plugin.describe, {});
      assert.equal(described.pluginId, "tsexample");
      assert.equal(described.protocolVersion, 1);
      const [provider] = described.providers;
      assert.equal(provider?.id, "http-post");
      assert.deepEqual(provider?.capabilities, { testConnection: true, connectionOptions: true, migrateConfig: true, validateConfig: true, preview: true });
      const schema = JSON.parse(provider?.configSchema?.jsonSchema ?? "{}");
      assert.equal(provider?.configSchema?.version, 2);
      assert.equal(schema.$schema, "https://json-schema.org/draft/2020-12/schema");
      assert.equal(schema.properties.token["x-secret"], true);
      assert.equal(schema.properties.url.format, "uri");
      assert.equal(schema.properties.severity["x-options-resolver"], "severities");
      assert.deepEqual(schema.required, ["url", "token"]);
      assert.equal(p.stdoutRest(), "", "nothing but the handshake line on stdout");
      assert.match(p.stderr(), /"@level":"info","@message":"plugin serving"/);
    } finally {
      await p.close();
    }
  });
});

describe("lifecycle", () => {
  it("exits 0 after Shutdown and removes its socket", async () => {
    const p = await startPlugin(TSEXAMPLE);
    try {
      await call(p.controller, p.controller.shutdown, {});
      const exit = await p.exited;
      assert.equal(exit.code, 0);
      assert.equal(existsSync(p.socket), false);
    } finally {
      await p.close();
    }
  });

  it("exits 0 on SIGTERM and removes its socket", async () => {
    const p = await startPlugin(TSEXAMPLE);
    try {
      p.child.kill("SIGTERM");
      const exit = await p.exited;
      assert.equal(exit.code, 0);
      assert.equal(existsSync(p.socket), false);
    } finally {
      await p.close();
    }
  });

  it("exits when its parent dies, removing its socket", async () => {
    // The plugin runs under a shell that is SIGKILLed: no PR_SET_PDEATHSIG reaches the plugin,
    // only its own parent watch. Its exit closes the stdout pipe it shares with us.
    const dir = mkdtempSync(join(tmpdir(), "sy-ts-"));
    const shell = spawn("/bin/sh", ["-c", `"${TSEXAMPLE}" & wait`], { env: handshakeEnv(dir), stdio: ["ignore", "pipe", "pipe"] });
    try {
      const [line] = (await once(shell.stdout, "data")) as [Buffer];
      const socket = line.toString().split("|")[3] ?? "";
      assert.ok(existsSync(socket));
      const closed = once(shell.stdout, "close");
      shell.kill("SIGKILL");
      await closed;
      assert.equal(existsSync(socket), false, "the plugin removed its socket on the way out");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
