/**
 * JSON log lines on stderr in go-plugin's (hclog's) format: `@level`, `@message`,
 * `@timestamp`, `@module`, and the fields. The host re-emits each line at its level with the
 * plugin's name. The level comes from `SWITCHYARD_LOG_LEVEL` (`trace`, `debug`, `info` (the
 * default), `warn`, `error`).
 *
 * {@link IntegrationLogger} is the seed's logger shape (`logger.debug("…")`,
 * `logger.error("Failed to get options", error)`); extra arguments become fields: a plain
 * object is merged, an `Error` becomes `error`, anything else `arg1`, `arg2`…. Never log a
 * config: it carries decrypted secrets. As a safety net, every line written while a call runs
 * is scrubbed of that call's secrets ({@link scrubActive}); while traces are on, a line written
 * during a traced call carries its `trace_id`.
 */

import { scrubActive } from "./scrub.js";
import { currentTraceId } from "./tracing.js";

/** hclog's level names. */
export type Level = "trace" | "debug" | "info" | "warn" | "error";

const ORDER: Record<Level, number> = { trace: 0, debug: 1, info: 2, warn: 3, error: 4 };

/** The logger a provider gets (the seed's `IntegrationLogger`, plus `info`, `warn`, `trace`). */
export interface IntegrationLogger {
  trace(message: string, ...args: unknown[]): void;
  debug(message: string, ...args: unknown[]): void;
  info(message: string, ...args: unknown[]): void;
  warn(message: string, ...args: unknown[]): void;
  error(message: string, ...args: unknown[]): void;
}

/** Where lines go; replaceable in tests. */
export type LineSink = (line: string) => void;

let threshold: number = ORDER.info;
let sink: LineSink = (line) => {
  process.stderr.write(line + "\n");
};

/** Sets the level from `SWITCHYARD_LOG_LEVEL` (an unknown value keeps `info`). */
export function configureFromEnv(env: NodeJS.ProcessEnv = process.env): void {
  const wanted = (env["SWITCHYARD_LOG_LEVEL"] ?? "").trim().toLowerCase();
  threshold = wanted in ORDER ? ORDER[wanted as Level] : ORDER.info;
}

/** Sends lines to `next` instead of stderr (tests). */
export function setSink(next: LineSink): void {
  sink = next;
}

function scrubValue(value: unknown): unknown {
  if (typeof value === "string") return scrubActive(value);
  if (value instanceof Error) return scrubActive(`${value.name}: ${value.message}`);
  if (value === null || typeof value !== "object") return value;
  // Nested values may quote secrets too: scrub their JSON text as a whole.
  try {
    return JSON.parse(scrubActive(JSON.stringify(value)));
  } catch {
    return "[unserializable]";
  }
}

function fieldsOf(args: readonly unknown[]): Record<string, unknown> {
  const fields: Record<string, unknown> = {};
  args.forEach((arg, i) => {
    if (arg instanceof Error) fields["error"] = arg;
    else if (arg !== null && typeof arg === "object" && !Array.isArray(arg)) Object.assign(fields, arg);
    else fields[`arg${i + 1}`] = arg;
  });
  return fields;
}

/** One hclog JSON line (without the newline). */
export function formatLine(level: Level, module: string, message: string, args: readonly unknown[]): string {
  const line: Record<string, unknown> = {
    "@level": level,
    "@message": scrubActive(message),
    "@timestamp": new Date().toISOString().replace("Z", "000Z"),
    "@module": module,
  };
  for (const [key, value] of Object.entries(fieldsOf(args))) {
    if (!key.startsWith("@")) line[key] = scrubValue(value);
  }
  // The trace of the call the line is written in, while traces are on (tracing.ts).
  const traceId = currentTraceId();
  if (traceId !== undefined) line["trace_id"] = traceId;
  return JSON.stringify(line);
}

/** Writes one line at `level` if the level is enabled. A log line never throws. */
export function write(level: Level, module: string, message: string, args: readonly unknown[] = []): void {
  if (ORDER[level] < threshold) return;
  try {
    sink(formatLine(level, module, message, args));
  } catch {
    // nowhere left to report it
  }
}

/** A logger whose lines carry `@module` = `module`. */
export function logger(module: string): IntegrationLogger {
  const at =
    (level: Level) =>
    (message: string, ...args: unknown[]): void =>
      write(level, module, String(message), args);
  return { trace: at("trace"), debug: at("debug"), info: at("info"), warn: at("warn"), error: at("error") };
}
