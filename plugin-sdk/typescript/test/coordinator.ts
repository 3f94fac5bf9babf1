/**
 * A real `switchyard serve` for end-to-end tests (after `tests/e2e/src/coordinator.rs`): the
 * binary built by cargo (`target/debug/switchyard`), a private temporary data dir and config
 * (the plugins given, discovery off, loopback allowed by the network policy, a fast retry
 * schedule), its stderr captured, and gRPC clients of its API. It is ready once it logs that it
 * is listening; `stop()` sends SIGTERM, waits for the exit and removes the directory.
 */

import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";

import { credentials } from "@grpc/grpc-js";

import { DeliveryServiceClient } from "./gen/switchyard/coordinator/v1/delivery.js";
import { EventServiceClient } from "./gen/switchyard/coordinator/v1/event.js";
import { EventTypeServiceClient } from "./gen/switchyard/coordinator/v1/event_type.js";
import { SubscriptionServiceClient } from "./gen/switchyard/coordinator/v1/subscription.js";
import { REPO_DIR } from "./kit.js";

/** The API services the tests use. */
export interface Api {
  eventTypes: EventTypeServiceClient;
  subscriptions: SubscriptionServiceClient;
  events: EventServiceClient;
  deliveries: DeliveryServiceClient;
}

/** The coordinator binary. */
export const SWITCHYARD = join(REPO_DIR, "target/debug/switchyard");

/** A running coordinator. */
export class Coordinator {
  private log = "";

  private constructor(
    readonly dir: string,
    private readonly child: ChildProcess,
  ) {}

  /** The API socket. */
  get socket(): string {
    return join(this.dir, "api.sock");
  }

  /** Everything it wrote to stderr so far. */
  stderr(): string {
    return this.log;
  }

  /**
   * Starts one serving `plugins` (commands) and waits until it listens; `env` is added to its
   * environment (e.g. `OTEL_*`, which it passes on to its plugins).
   */
  static async start(plugins: string[], env: Record<string, string> = {}): Promise<Coordinator> {
    const dir = mkdtempSync(join(tmpdir(), "sy-e2e-"));
    const extra = plugins.map((c) => `[[plugins.extra]]\ncommand = ${JSON.stringify(c)}\n`).join("");
    const config =
      `data_dir = ${JSON.stringify(join(dir, "data"))}\n` +
      `[api]\nsocket = ${JSON.stringify(join(dir, "api.sock"))}\ntcp_listen = ""\n` +
      `[plugins]\ndiscover_next_to_binary = false\nstart_timeout = "30s"\nnetwork_allow = ["127.0.0.0/8"]\n${extra}` +
      `[delivery]\nretry_delays = ["100ms", "200ms"]\njitter = 0.0\n`;
    writeFileSync(join(dir, "switchyard.toml"), config);
    const child = spawn(SWITCHYARD, ["serve", "--config", join(dir, "switchyard.toml")], {
      env: { PATH: process.env["PATH"] ?? "/usr/bin:/bin", ...env },
      stdio: ["ignore", "ignore", "pipe"],
    });
    const c = new Coordinator(dir, child);
    const lines = createInterface({ input: child.stderr! });
    const listening = new Promise<void>((done, fail) => {
      lines.on("line", (line) => {
        c.log += line + "\n";
        if (line.includes("switchyard is listening")) done();
      });
      child.once("exit", (code) => fail(new Error(`switchyard serve exited (${code}) before listening:\n${c.log}`)));
    });
    await listening;
    return c;
  }

  /** Clients of the platform API on its Unix socket. */
  clients(): Api {
    const address = `unix:${this.socket}`;
    const insecure = credentials.createInsecure();
    return {
      eventTypes: new EventTypeServiceClient(address, insecure),
      subscriptions: new SubscriptionServiceClient(address, insecure),
      events: new EventServiceClient(address, insecure),
      deliveries: new DeliveryServiceClient(address, insecure),
    };
  }

  /** SIGTERM, wait for the exit, remove the data dir. */
  async stop(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) {
      const exited = once(this.child, "exit");
      this.child.kill("SIGTERM");
      await exited;
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}
