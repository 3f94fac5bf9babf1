/**
 * Test kit: a real local HTTP server standing in for the vendor ({@link HttpSink}), and a real
 * plugin child process started the way the host starts it ({@link startPlugin}: the handshake
 * variables, a private socket directory, stdout and stderr piped), with typed gRPC clients on
 * its socket. Everything waits on events (a request arriving, a line on stdout, the process
 * exiting), never on sleeps; every process started is killed and reaped and every directory
 * removed by `close()`.
 */

import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { execFileSync } from "node:child_process";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { createServer as createHttpsServer, Server as HttpsServer } from "node:https";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";

import { credentials, Metadata, type CallOptions, type Client, type ServiceError } from "@grpc/grpc-js";

import { GRPCControllerClient } from "../src/gen/plugin/grpc_controller.js";
import { HealthClient } from "../src/gen/grpc/health/v1/health.js";
import { ProviderPluginClient } from "../src/gen/switchyard/plugin/v1/plugin.js";
import { MAGIC_COOKIE_KEY, MAGIC_COOKIE_VALUE } from "../src/handshake.js";

/** The package's root (the directory with package.json). */
export const PACKAGE_DIR = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
/** The repository's root. */
export const REPO_DIR = resolve(PACKAGE_DIR, "../..");
/** The example plugin's and the seed plugin's executables. */
export const TSEXAMPLE = join(PACKAGE_DIR, "switchyard-plugin-tsexample");
export const SEED = join(PACKAGE_DIR, "switchyard-plugin-seed");

/** One request the sink received. */
export interface Recorded {
  method: string;
  path: string;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** What the sink answers. */
export interface Reply {
  status: number;
  headers?: Record<string, string>;
  body?: string;
  /** Never answer (the request hangs until the client gives up). */
  hang?: boolean;
}

/** A local HTTP server standing in for the vendor: records requests, answers from a queue. */
export class HttpSink {
  readonly requests: Recorded[] = [];
  private readonly replies: Reply[] = [];
  private waiters: { count: number; done: () => void }[] = [];
  private readonly hanging: ServerResponse[] = [];

  private constructor(private readonly server: Server) {}

  /** Starts one; with `tls` (PEM key and certificate) it speaks HTTPS. */
  static async start(tls?: { key: Buffer; cert: Buffer }): Promise<HttpSink> {
    const server = tls ? createHttpsServer(tls) : createServer();
    const sink = new HttpSink(server);
    server.on("request", (req, res) => void sink.handle(req, res));
    server.listen(0, "127.0.0.1");
    await once(server, "listening");
    return sink;
  }

  /** `http://127.0.0.1:<port>`. */
  get url(): string {
    const scheme = this.server instanceof HttpsServer ? "https" : "http";
    return `${scheme}://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  /** Queues the answer to the next request (the default is 200 `{"id":"ext-<n>"}`). */
  reply(reply: Reply): void {
    this.replies.push(reply);
  }

  /** Resolves once `count` requests have arrived. */
  waitFor(count: number): Promise<Recorded[]> {
    if (this.requests.length >= count) return Promise.resolve(this.requests.slice(0, count));
    return new Promise((done) => this.waiters.push({ count, done: () => done(this.requests.slice(0, count)) }));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    this.requests.push({ method: req.method ?? "", path: req.url ?? "", headers: req.headers, body: Buffer.concat(chunks).toString("utf8") });
    const reply = this.replies.shift() ?? { status: 200, headers: { "content-type": "application/json" }, body: JSON.stringify({ id: `ext-${this.requests.length}` }) };
    if (reply.hang) this.hanging.push(res);
    else res.writeHead(reply.status, reply.headers ?? {}).end(reply.body ?? "");
    const ready = this.waiters.filter((w) => this.requests.length >= w.count);
    this.waiters = this.waiters.filter((w) => this.requests.length < w.count);
    ready.forEach((w) => w.done());
  }

  async close(): Promise<void> {
    this.hanging.forEach((res) => res.destroy());
    this.server.closeAllConnections();
    this.server.close();
    await once(this.server, "close");
  }
}

/**
 * Calls a callback-style unary gRPC method as a promise (typed from the method's last overload,
 * the one with metadata and options), with a deadline of `deadlineMs` and `metadata` sent.
 */
export function call<Req, Res>(
  client: Client,
  method: (req: Req, metadata: Metadata, options: Partial<CallOptions>, cb: (err: ServiceError | null, res: Res) => void) => unknown,
  request: Req,
  deadlineMs = 20_000,
  metadata: Metadata = new Metadata(),
): Promise<Res> {
  return new Promise((done, fail) =>
    method.call(client, request, metadata, { deadline: Date.now() + deadlineMs }, (err, res) => (err ? fail(err) : done(res))),
  );
}

/** A started plugin process and clients on its socket. */
export interface PluginProcess {
  child: ChildProcess;
  socketDir: string;
  socket: string;
  line: string;
  stderr: () => string;
  stdoutRest: () => string;
  plugin: ProviderPluginClient;
  health: HealthClient;
  controller: GRPCControllerClient;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Shutdown (if still running), wait for the exit, remove the socket dir. */
  close(): Promise<void>;
}

/** The host's handshake variables for a plugin in `socketDir`. */
export function handshakeEnv(socketDir: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    PATH: process.env["PATH"] ?? "/usr/bin:/bin",
    [MAGIC_COOKIE_KEY]: MAGIC_COOKIE_VALUE,
    PLUGIN_PROTOCOL_VERSIONS: "1",
    PLUGIN_UNIX_SOCKET_DIR: socketDir,
    ...extra,
  };
}

/** Starts `command` as the host does and waits for its handshake line. */
export async function startPlugin(command: string, env: Record<string, string> = {}, args: string[] = []): Promise<PluginProcess> {
  const socketDir = mkdtempSync(join(tmpdir(), "sy-ts-"));
  const child = spawn(command, args, { env: handshakeEnv(socketDir, env), stdio: ["ignore", "pipe", "pipe"], detached: true });
  const exited = once(child, "exit").then(([code, signal]) => ({ code: code as number | null, signal: signal as NodeJS.Signals | null }));
  let stderr = "";
  child.stderr!.on("data", (d: Buffer) => (stderr += d.toString("utf8")));
  let rest = "";
  const lines = createInterface({ input: child.stdout! });
  const first = new Promise<string>((done, fail) => {
    lines.once("line", done);
    void exited.then((e) => fail(new Error(`plugin exited (${e.code ?? e.signal}) before its handshake line:\n${stderr}`)));
  });
  const line = await first;
  lines.on("line", (l) => (rest += l + "\n"));
  const socket = line.split("|")[3] ?? "";
  const address = `unix:${socket}`;
  const insecure = credentials.createInsecure();
  const plugin = new ProviderPluginClient(address, insecure);
  const health = new HealthClient(address, insecure);
  const controller = new GRPCControllerClient(address, insecure);
  const close = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      await call(controller, controller.shutdown, {}).catch(() => undefined);
      const killer = setTimeout(() => process.kill(-child.pid!, "SIGKILL"), 5000);
      await exited;
      clearTimeout(killer);
    }
    [plugin, health, controller].forEach((c) => c.close());
    rmSync(socketDir, { recursive: true, force: true });
  };
  return { child, socketDir, socket, line, stderr: () => stderr, stdoutRest: () => rest, plugin, health, controller, exited, close };
}

/** A minimal valid DeliverRequest for `providerId` with `config`. */
export function deliverRequest(providerId: string, config: unknown, over: Record<string, unknown> = {}) {
  return {
    providerId,
    configJson: JSON.stringify(config),
    connectionJson: "",
    event: {
      eventType: "incident.incident.created",
      payloadJson: JSON.stringify({ incidentId: "inc-1", title: "Disk full", systemIds: ["sys-1"] }),
      timestamp: new Date("2026-01-02T03:04:05Z"),
      deliveryId: "del-1",
      attempt: 1,
      eventId: "evt-1",
    },
    subscription: { id: "sub-1", name: "Ops" },
    correlation: undefined,
    ...over,
  };
}

/**
 * A CA and a certificate for 127.0.0.1 signed by it, made with the system's `openssl` in a
 * temporary directory (removed again), or undefined when there is no `openssl`.
 */
export function testCertificates(): { ca: Buffer; key: Buffer; cert: Buffer } | undefined {
  const dir = mkdtempSync(join(tmpdir(), "sy-tls-"));
  try {
    const run = (...args: string[]) => execFileSync("openssl", args, { cwd: dir, stdio: ["ignore", "ignore", "pipe"] });
    const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
    run("req", "-x509", ...ec, "-keyout", "ca.key", "-out", "ca.pem", "-days", "1", "-subj", "/CN=switchyard test CA");
    run("req", ...ec, "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=127.0.0.1");
    writeFileSync(join(dir, "server.ext"), "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n");
    run("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-out", "server.pem", "-days", "1", "-extfile", "server.ext");
    const read = (name: string) => readFileSync(join(dir, name));
    return { ca: read("ca.pem"), key: read("server.key"), cert: read("server.pem") };
  } catch {
    return undefined;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
