// The parts the console's browser tests run against, all real and all local: a vendor API
// (node:http on an ephemeral loopback port) standing in for the Python example's chat-like
// API, a real `switchyard serve` (the debug build) with the Python example plugin on a temp
// data dir and an ephemeral TCP port, the `switchyard` CLI for setup, and headless Chromium
// driven by playwright-core. Everything started here is stopped and removed by `stop()`.

import { spawn, execFile } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { createServer } from "node:http";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { promisify } from "node:util";

import { chromium } from "playwright-core";

const ROOT = resolve(import.meta.dirname, "../..");
const TARGET = join(process.env.CARGO_TARGET_DIR ?? join(ROOT, "target"), "debug");
export const SWITCHYARD = join(TARGET, "switchyard");
const PYEXAMPLE = join(ROOT, "plugin-sdk/python/switchyard-plugin-pyexample");
/** A bound, not an expectation: a loaded 2-core machine starts Python plugins slowly. */
const START_TIMEOUT_MS = 90_000;

/** The vendor API of the example's `channel-post` provider, counting what it is asked. */
export async function startVendor(apiToken) {
  const channels = [
    { id: "ops", name: "Operations" },
    { id: "dev", name: "Development" },
  ];
  const members = { ops: [{ id: "alice", name: "Alice" }, { id: "bob", name: "Bob" }], dev: [{ id: "carol", name: "Carol" }] };
  const calls = [];
  const messages = [];
  // `vendor.failing = true` makes it refuse every message (HTTP 400: a permanent failure).
  const vendor = { failing: false };
  const server = createServer((req, res) => {
    let body = "";
    req.on("data", (c) => (body += c));
    req.on("end", () => {
      calls.push(`${req.method} ${req.url}`);
      const send = (status, doc) => {
        res.writeHead(status, { "content-type": "application/json" });
        res.end(JSON.stringify(doc));
      };
      if (req.headers.authorization !== `Bearer ${apiToken}`) return send(401, { error: "bad token" });
      const m = /^\/api\/channels(?:\/([^/]+)\/(members|messages))?$/.exec(req.url ?? "");
      if (!m) return send(404, { error: "no such path" });
      if (!m[1] && req.method === "GET") return send(200, channels);
      if (m[2] === "members" && req.method === "GET") return send(200, members[m[1]] ?? []);
      if (m[2] === "messages" && req.method === "POST") {
        if (vendor.failing) return send(400, { error: "message rejected" });
        messages.push({ channel: m[1], ...JSON.parse(body) });
        return send(200, { id: `msg-${messages.length}` });
      }
      send(405, { error: "method not allowed" });
    });
  });
  await new Promise((ok) => server.listen(0, "127.0.0.1", ok));
  const { port } = server.address();
  return Object.assign(vendor, {
    baseUrl: `http://127.0.0.1:${port}/api`,
    calls,
    messages,
    stop: () => new Promise((ok) => server.close(ok)),
  });
}

/** A running `switchyard serve` with the Python example plugin; `token` makes the API require one. */
export async function startCoordinator({ token = "" } = {}) {
  const dir = await mkdtemp(join(tmpdir(), "sy-console-"));
  const socket = join(dir, "api.sock");
  const config = join(dir, "switchyard.toml");
  await writeFile(
    config,
    [
      `data_dir = ${JSON.stringify(join(dir, "data"))}`,
      "[api]",
      `socket = ${JSON.stringify(socket)}`,
      'tcp_listen = "127.0.0.1:0"',
      `auth_token = ${JSON.stringify(token)}`,
      "[plugins]",
      "discover_next_to_binary = false",
      'start_timeout = "60s"',
      'network_allow = ["127.0.0.0/8"]',
      "[[plugins.extra]]",
      `command = ${JSON.stringify(PYEXAMPLE)}`,
      "",
    ].join("\n"),
  );
  const env = { ...process.env };
  delete env.RUST_LOG;
  const child = spawn(SWITCHYARD, ["serve", "--config", config], { stdio: ["ignore", "ignore", "pipe"], env });
  let log = "";
  const url = await new Promise((ok, fail) => {
    const timer = setTimeout(() => fail(new Error(`switchyard serve did not start in time:\n${log}`)), START_TIMEOUT_MS);
    child.stderr.on("data", (chunk) => {
      log += chunk;
      const m = /switchyard is listening.*?Some\((127\.0\.0\.1:\d+)\)/.exec(log);
      if (m) {
        clearTimeout(timer);
        ok(`http://${m[1]}`);
      }
    });
    child.on("exit", (code) => fail(new Error(`switchyard serve exited (${code}):\n${log}`)));
  });
  const cli = (...args) => promisify(execFile)(SWITCHYARD, ["--addr", `unix:${socket}`, ...(token ? ["--token", token] : []), ...args]);
  return {
    url,
    dir,
    cli,
    log: () => log,
    async stop() {
      if (child.exitCode === null) {
        const exited = new Promise((ok) => child.once("exit", ok));
        child.kill("SIGTERM");
        await exited;
      }
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** Headless Chromium (Debian's package, or $CHROMIUM). */
export async function startBrowser() {
  return chromium.launch({ executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium", headless: true, args: ["--no-sandbox"] });
}

/** Registers the event types the tests use (the payload schema gives the template paths). */
export async function registerEventTypes(coordinator) {
  const schema = join(coordinator.dir, "incident.schema.json");
  await writeFile(
    schema,
    JSON.stringify({
      type: "object",
      properties: { incidentId: { type: "string", examples: ["inc-7"] }, title: { type: "string", examples: ["API down"] }, severity: { type: "string" } },
      required: ["incidentId"],
    }),
  );
  await coordinator.cli("event-types", "register", "incident.incident.created", "--name", "Incident created", "--schema", schema, "--correlation-path", "/incidentId");
}
