/**
 * The process around a plugin's gRPC services: the handshake, a grpc-js server on the Unix
 * socket (`ProviderPlugin`, `grpc.health.v1.Health` with service "plugin" SERVING,
 * `plugin.GRPCController/Shutdown`), signals, the parent watch and a clean exit.
 *
 * {@link serve} is the one call a plugin makes. It exits 0 after Shutdown, SIGTERM or SIGINT
 * (calls in flight get 1.5 s, the host waits 2 s), having removed its socket. When the parent
 * is gone (the host sets PR_SET_PDEATHSIG, and the SDK also polls `process.ppid`, which catches
 * a parent that is a shell or a launcher) nobody is left to answer: it removes its socket and
 * exits 1 at once. It also installs the network policy's `fetch` as `globalThis.fetch`, and
 * turns traces on when the host's `OTEL_*` variables ask (`tracing.ts`; the spans still queued
 * are exported before the exit, for at most {@link TRACE_FLUSH_MS}).
 */

import { rmSync } from "node:fs";

import { Server, ServerCredentials, status, type ServerUnaryCall, type ServerWritableStream, type sendUnaryData } from "@grpc/grpc-js";

import { fetch, setPolicy } from "./fetch.js";
import { GRPCControllerService, type Empty } from "./gen/plugin/grpc_controller.js";
import {
  HealthCheckResponse,
  HealthCheckResponse_ServingStatus as Serving,
  HealthService,
  type HealthCheckRequest,
} from "./gen/grpc/health/v1/health.js";
import { ProviderPluginService } from "./gen/switchyard/plugin/v1/plugin.js";
import * as handshake from "./handshake.js";
import { configureFromEnv, write } from "./log.js";
import { NetworkPolicy, PolicyError } from "./net-policy.js";
import type { AnyProvider } from "./provider.js";
import { PluginDefinitionError, register } from "./registry.js";
import { ProviderService } from "./service.js";
import { startTracing, stopTracing } from "./tracing.js";
import { SDK_VERSION } from "./version.js";

/** What a plugin registers. */
export interface PluginOptions {
  /** Plugin id: lowercase letters, digits and `-` (qualified ids are `{pluginId}.{provider.id}`). */
  pluginId: string;
  /** The plugin's own release version, free-form. */
  version: string;
  providers: AnyProvider[];
}

/** How long calls in flight may still run after a stop was asked for (the host waits 2 s). */
export const STOP_GRACE_MS = 1500;
/** How often the parent process is checked. */
export const PARENT_POLL_MS = 200;
/** How long the spans still queued may take to export on the way out (tracing.ts). */
export const TRACE_FLUSH_MS = 400;
/** Largest message accepted or sent (a 1 MiB payload plus config fits comfortably). */
export const MAX_MESSAGE_BYTES = 16 * 1024 * 1024;

function healthImplementation(serving: () => boolean) {
  const answer = (service: string): HealthCheckResponse | undefined => {
    if (service !== "" && service !== handshake.HEALTH_SERVICE_NAME) return undefined;
    return { status: serving() ? Serving.SERVING : Serving.NOT_SERVING };
  };
  return {
    check(call: ServerUnaryCall<HealthCheckRequest, HealthCheckResponse>, callback: sendUnaryData<HealthCheckResponse>) {
      const found = answer(call.request.service);
      if (found) callback(null, found);
      else callback({ code: status.NOT_FOUND, details: `unknown service ${JSON.stringify(call.request.service)}` });
    },
    watch(call: ServerWritableStream<HealthCheckRequest, HealthCheckResponse>) {
      call.write(answer(call.request.service) ?? { status: Serving.SERVICE_UNKNOWN });
    },
  };
}

function buildServer(service: ProviderService, stop: (reason: string) => void, serving: () => boolean): Server {
  const server = new Server({
    "grpc.max_receive_message_length": MAX_MESSAGE_BYTES,
    "grpc.max_send_message_length": MAX_MESSAGE_BYTES,
  });
  server.addService(ProviderPluginService, service.implementation());
  server.addService(HealthService, healthImplementation(serving));
  server.addService(GRPCControllerService, {
    shutdown(_call: ServerUnaryCall<Empty, Empty>, callback: sendUnaryData<Empty>) {
      callback(null, {});
      // Answer first, then stop: the host waits for this reply before it waits for our exit.
      setImmediate(() => stop("Shutdown called"));
    },
  });
  return server;
}

function bind(server: Server, path: string): Promise<void> {
  return new Promise((resolve, reject) => {
    server.bindAsync(`unix:${path}`, ServerCredentials.createInsecure(), (err) =>
      err ? reject(new handshake.HandshakeError(`cannot listen on unix socket ${path}: ${err.message}`)) : resolve(),
    );
  });
}

function removeSocket(path: string): void {
  try {
    rmSync(path, { force: true });
  } catch (err) {
    write("warn", "switchyard_plugin", "could not remove socket", [{ path, error: (err as Error).message }]);
  }
}

function prepare(options: PluginOptions, env: NodeJS.ProcessEnv) {
  try {
    handshake.checkCookie(env);
    const version = handshake.negotiate(env);
    const registered = register(options.pluginId, options.providers);
    const policy = NetworkPolicy.fromEnv(env);
    return { version, registered, policy, path: handshake.socketPath(env) };
  } catch (err) {
    if (err instanceof handshake.HandshakeError || err instanceof PluginDefinitionError || err instanceof PolicyError) {
      return handshake.refuse(err.message);
    }
    throw err;
  }
}

/**
 * Runs the plugin: handshake, serve until told to stop, clean up, exit. Exits 1 with a message
 * on stderr when started without the host's cookie, when no protocol version is shared, when
 * `SWITCHYARD_NETWORK_ALLOW` is unreadable or the plugin's definition is invalid.
 */
export async function serve(options: PluginOptions, env: NodeJS.ProcessEnv = process.env): Promise<void> {
  handshake.guardStdout();
  configureFromEnv(env);
  const parent = process.ppid;
  const { version, registered, policy, path } = prepare(options, env);
  setPolicy(policy);
  globalThis.fetch = fetch as typeof globalThis.fetch;
  // Loads the OpenTelemetry packages only if the host passed OTEL_* variables asking for traces.
  const traces = await startTracing(env, `switchyard-plugin-${options.pluginId}`, (message) => write("warn", "switchyard_plugin", `traces: ${message}`));
  if (traces.warning !== undefined) write("warn", "switchyard_plugin", traces.warning);
  let stopping = false;
  const service = new ProviderService(registered, options.pluginId, options.version, version);
  const server = buildServer(service, (reason) => void stop(reason), () => !stopping);
  const stop = async (reason: string, code = 0): Promise<void> => {
    if (stopping) return;
    stopping = true;
    write("info", "switchyard_plugin", "plugin stopping", [{ reason }]);
    if (code === 0) {
      const forced = setTimeout(() => server.forceShutdown(), STOP_GRACE_MS);
      await new Promise<void>((done) => server.tryShutdown(() => done()));
      clearTimeout(forced);
    }
    removeSocket(path);
    // After the calls: their spans have ended. Bounded, so that a dead collector cannot hold us.
    await stopTracing(TRACE_FLUSH_MS);
    process.exit(code);
  };
  // A promise a provider forgot to await must not take every other call down with the process.
  process.on("unhandledRejection", (reason) => {
    const kind = reason instanceof Error ? reason.name : typeof reason;
    write("error", "switchyard_plugin", `a promise was rejected and nobody handled it: ${kind}`, [reason instanceof Error ? reason : { reason: String(reason) }]);
  });
  // Before the announcement: a host may signal as soon as it has read the line.
  for (const signal of ["SIGTERM", "SIGINT"] as const) process.on(signal, () => void stop(`signal ${signal}`));
  try {
    await bind(server, path);
  } catch (err) {
    handshake.refuse((err as Error).message);
  }
  handshake.announce(version, path);
  write("info", "switchyard_plugin", "plugin serving", [{ socket: path, protocol_version: version, pid: process.pid, sdk: `typescript ${SDK_VERSION}` }]);
  setInterval(() => {
    // Polled: a plugin started through a shell or launcher has no PR_SET_PDEATHSIG of its own.
    if (parent > 1 && process.ppid !== parent) void stop(`parent process ${parent} exited`, 1);
  }, PARENT_POLL_MS);
}
