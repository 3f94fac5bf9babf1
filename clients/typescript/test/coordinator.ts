/**
 * A real `switchyard serve` for the client's tests: the cargo-built binary
 * (`target/debug/switchyard`) on a private temporary data dir, with the bundled webhook plugin,
 * the API on a Unix socket and on a loopback TCP port chosen by the OS, a bearer token, and
 * loopback allowed by the network policy (the tests' receiver is local). Ready once it logs
 * that it listens (the line names the TCP address); `stop()` sends SIGTERM, waits, cleans up.
 */

import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { createServer, type IncomingMessage, type Server } from "node:http";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";

/** The repository's root (this file is compiled to clients/typescript/dist/test/). */
export const REPO_DIR = resolve(dirname(fileURLToPath(import.meta.url)), "../../../..");
export const SWITCHYARD = join(REPO_DIR, "target/debug/switchyard");
export const WEBHOOK = join(REPO_DIR, "target/debug/switchyard-plugin-webhook");

/** A running coordinator. */
export class Coordinator {
  private constructor(
    readonly dir: string,
    readonly token: string,
    readonly tcp: string,
    private readonly child: ChildProcess,
  ) {}

  get socket(): string {
    return join(this.dir, "api.sock");
  }

  /**
   * Starts one with `token` as its admin token; `extra` is TOML appended to its config (TLS,
   * role tokens), written after the directory (passed to it) exists.
   */
  static async start(token: string, extra: (dir: string) => string = () => ""): Promise<Coordinator> {
    const dir = mkdtempSync(join(tmpdir(), "sy-client-"));
    const config =
      `data_dir = ${JSON.stringify(join(dir, "data"))}\n` +
      `[api]\nsocket = ${JSON.stringify(join(dir, "api.sock"))}\ntcp_listen = "127.0.0.1:0"\nauth_token = ${JSON.stringify(token)}\n` +
      extra(dir) +
      `[plugins]\ndiscover_next_to_binary = false\nstart_timeout = "30s"\nnetwork_allow = ["127.0.0.0/8"]\n` +
      `[[plugins.extra]]\ncommand = ${JSON.stringify(WEBHOOK)}\n` +
      `[delivery]\nretry_delays = ["100ms"]\njitter = 0.0\n`;
    writeFileSync(join(dir, "switchyard.toml"), config);
    const child = spawn(SWITCHYARD, ["serve", "--config", join(dir, "switchyard.toml")], {
      env: { PATH: process.env["PATH"] ?? "/usr/bin:/bin" },
      stdio: ["ignore", "ignore", "pipe"],
    });
    let log = "";
    const lines = createInterface({ input: child.stderr! });
    const tcp = await new Promise<string>((done, fail) => {
      lines.on("line", (line) => {
        log += line + "\n";
        const found = /switchyard is listening .*tcp=Some\(([^)]+)\)/.exec(line);
        if (found?.[1]) done(found[1]);
      });
      child.once("exit", (code) => fail(new Error(`switchyard serve exited (${code}) before listening:\n${log}`)));
    });
    return new Coordinator(dir, token, tcp, child);
  }

  async stop(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) {
      const exited = once(this.child, "exit");
      this.child.kill("SIGTERM");
      await exited;
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** A local HTTP receiver that records what it gets and answers 200. */
export class Receiver {
  readonly bodies: string[] = [];
  private constructor(private readonly server: Server) {}

  static async start(): Promise<Receiver> {
    const server = createServer();
    const r = new Receiver(server);
    server.on("request", (req: IncomingMessage, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        r.bodies.push(Buffer.concat(chunks).toString("utf8"));
        res.writeHead(200, { "content-type": "application/json" }).end('{"id":"rcv-1"}');
      });
    });
    server.listen(0, "127.0.0.1");
    await once(server, "listening");
    return r;
  }

  get url(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    this.server.close();
    await once(this.server, "close");
  }
}
