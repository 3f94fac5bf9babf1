/**
 * The go-plugin handshake, plugin side, as hashicorp/go-plugin speaks it (see
 * `docs/handshake.md`): check the host's magic cookie (without it, explain on stderr and exit
 * 1, stdout empty), pick the highest app protocol version both sides speak from
 * `PLUGIN_PROTOCOL_VERSIONS`, choose a socket inside `PLUGIN_UNIX_SOCKET_DIR`, and announce
 * `1|<version>|unix|<socket>|grpc|` as the first stdout line. After that nothing else may reach
 * stdout: `process.stdout.write` is pointed at stderr. The constants mirror `proto/src/lib.rs`.
 */

import { randomBytes } from "node:crypto";
import { existsSync, statSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

export const MAGIC_COOKIE_KEY = "SWITCHYARD_PLUGIN_MAGIC_COOKIE";
export const MAGIC_COOKIE_VALUE = "3f6b2c1e9a8d4e7fb5c0d2a1e4f7b9c8-switchyard";
export const PROTOCOL_VERSIONS_ENV = "PLUGIN_PROTOCOL_VERSIONS";
export const UNIX_SOCKET_DIR_ENV = "PLUGIN_UNIX_SOCKET_DIR";
export const CORE_PROTOCOL_VERSION = 1;
export const HEALTH_SERVICE_NAME = "plugin";
/** The app protocol versions this SDK speaks. */
export const SUPPORTED_PROTOCOL_VERSIONS: readonly number[] = [1];
/** `sun_path` holds 108 bytes on Linux, the last one a NUL. */
export const MAX_SOCKET_PATH_BYTES = 107;

export const NOT_A_PROGRAM_MESSAGE = `This binary is a Switchyard plugin. It is not meant to be executed directly.
Start the program that uses this plugin (the Switchyard coordinator) instead: it starts
plugins itself. To check this plugin, run the conformance harness on it:

    switchyard-conformance path/to/this-plugin

(Technically: the environment variable ${MAGIC_COOKIE_KEY} is not set to the expected value.)`;

/** The handshake cannot go ahead; the message is for a human reading stderr. */
export class HandshakeError extends Error {
  override name = "HandshakeError";
}

function list(versions: readonly number[]): string {
  return [...new Set(versions)].sort((a, b) => a - b).join(", ") || "none";
}

/** Throws unless the host's magic cookie is present. */
export function checkCookie(env: NodeJS.ProcessEnv): void {
  if (env[MAGIC_COOKIE_KEY] !== MAGIC_COOKIE_VALUE) throw new HandshakeError(NOT_A_PROGRAM_MESSAGE);
}

/** The highest app protocol version both sides speak (ours when the host names none). */
export function negotiate(env: NodeJS.ProcessEnv, ours: readonly number[] = SUPPORTED_PROTOCOL_VERSIONS): number {
  const raw = (env[PROTOCOL_VERSIONS_ENV] ?? "").trim();
  if (!raw) return Math.max(...ours);
  const theirs = raw.split(",").map((item) => {
    const text = item.trim();
    if (!/^\d+$/.test(text)) {
      throw new HandshakeError(
        `${PROTOCOL_VERSIONS_ENV}=${JSON.stringify(raw)} is not a comma-separated list of integers ` +
          `(bad entry ${JSON.stringify(text)}); this plugin speaks ${list(ours)}`,
      );
    }
    return Number(text);
  });
  const common = theirs.filter((v) => ours.includes(v));
  if (common.length === 0) {
    throw new HandshakeError(
      `Incompatible plugin protocol versions: the host speaks ${list(theirs)} (${PROTOCOL_VERSIONS_ENV}=${raw}), ` +
        `this plugin speaks ${list(ours)}. Upgrade whichever side is older.`,
    );
  }
  return Math.max(...common);
}

/** A fresh socket path inside `PLUGIN_UNIX_SOCKET_DIR` (the system temp dir if unset). */
export function socketPath(env: NodeJS.ProcessEnv): string {
  const dir = env[UNIX_SOCKET_DIR_ENV] || tmpdir();
  if (!existsSync(dir) || !statSync(dir).isDirectory()) {
    throw new HandshakeError(`${UNIX_SOCKET_DIR_ENV}=${JSON.stringify(dir)} is not an existing directory`);
  }
  const path = join(resolve(dir), `plugin${randomBytes(4).toString("hex")}.sock`);
  const bytes = Buffer.byteLength(path);
  if (bytes > MAX_SOCKET_PATH_BYTES) {
    throw new HandshakeError(
      `socket path ${JSON.stringify(path)} is ${bytes} bytes, over the ${MAX_SOCKET_PATH_BYTES}-byte ` +
        `sun_path limit; use a shorter ${UNIX_SOCKET_DIR_ENV}`,
    );
  }
  return path;
}

/** `1|<version>|unix|<path>|grpc|` (without the newline). */
export function handshakeLine(version: number, path: string): string {
  return `${CORE_PROTOCOL_VERSION}|${version}|unix|${path}|grpc|`;
}

/** Sends every later write to stdout to stderr instead (stray output must never reach the host's pipe). */
export function guardStdout(): void {
  const toStderr = process.stderr.write.bind(process.stderr) as typeof process.stdout.write;
  process.stdout.write = toStderr;
  console.log = (...args: unknown[]) => console.error(...args);
  console.info = (...args: unknown[]) => console.error(...args);
}

/** Writes the handshake line to the real stdout (file descriptor 1, synchronously). */
export function announce(version: number, path: string): void {
  writeSync(1, handshakeLine(version, path) + "\n");
}

/** Prints `message` on stderr and exits 1, writing nothing on stdout. */
export function refuse(message: string): never {
  writeSync(2, message.replace(/\n+$/, "") + "\n");
  process.exit(1);
}
