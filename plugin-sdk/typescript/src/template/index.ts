/**
 * Templates in config fields (`{{ payload.title }}`), with the Rust SDK's semantics
 * (`plugin-sdk/rust/src/template*`): the same variables, filters and missing-value rules, a
 * sandbox (no loader, includes, imports or macros; only the plain data of the context is
 * reachable) and bounds ({@link Limits}: source size, output size, fuel, nesting depth). A
 * {@link Template} is compiled once from one config field and remembers the field's JSON
 * Pointer, so every error names it; {@link TemplateCache} keeps compiled templates by text.
 *
 * A missing value renders empty (`{{ payload.missing.deeper }}` gives nothing) unless the
 * template says `| required`; objects and lists render as JSON; nothing is escaped unless a
 * filter says so. A template that does not compile, or is too long, is a config problem
 * ({@link TemplateError.diagnostic} at the field's path); a failure while rendering is a
 * permanent delivery outcome naming the field ({@link TemplateError.result}).
 *
 * Variables ({@link templateContext}): `event` {id, type, timestamp (RFC 3339, UTC),
 * deliveryId, attempt}, `subscription` {id, name}, `payload`, `correlation` {key, earlier}
 * (null without one), and the platform's flat names `eventId`, `eventType`, `deliveryId`,
 * `timestamp`, `subscriptionId`, `subscriptionName`.
 */

import { cutChars, headline } from "../lifecycle.js";
import type { IntegrationDeliveryContext } from "../provider.js";
import { permanent, type IntegrationDeliveryResult } from "../result.js";
import { configString, type Diagnostic, type EditorType } from "../schema.js";
import { OutputOverflow, renderNodes } from "./render.js";
import { templatePayload } from "./json.js";
import { parse, SyntaxProblem, type Node } from "./syntax.js";
import { RenderProblem } from "./values.js";

export { DEFAULT_DATE_FORMAT, TRUNCATION_MARK } from "./filters.js";

/** The bounds every render stays within. */
export interface Limits {
  maxSourceBytes: number;
  maxOutputBytes: number;
  /** Work units per render (each expression, output and loop iteration costs one). */
  fuel: number;
  /** The deepest nesting of blocks, loops and recursive loop calls. */
  maxDepth: number;
}

/** 64 KiB of source, 512 KiB of output, 100,000 units of fuel, 32 levels (the Rust SDK's). */
export const DEFAULT_LIMITS: Limits = { maxSourceBytes: 64 * 1024, maxOutputBytes: 512 * 1024, fuel: 100_000, maxDepth: 32 };

/** Why a template cannot be used. */
export class TemplateError extends Error {
  override name = "TemplateError";

  constructor(
    readonly kind: "compile" | "too-long" | "render",
    readonly path: string,
    readonly detail: string,
  ) {
    super(
      kind === "compile"
        ? `${path}: the template does not compile: ${detail}`
        : kind === "too-long"
          ? `${path}: ${detail}`
          : `the template in ${path} failed to render: ${detail}`,
    );
  }

  /** True for a problem of the config itself (it fails for every event). */
  get isConfigProblem(): boolean {
    return this.kind !== "render";
  }

  /** The error as an in-band diagnostic at the field's path. */
  diagnostic(): Diagnostic {
    const message =
      this.kind === "compile" ? `the template does not compile: ${this.detail}` : this.kind === "too-long" ? this.detail : `the template failed to render: ${this.detail}`;
    return { jsonPath: this.path, message };
  }

  /** The permanent delivery result: the same template and event fail on every attempt. */
  result(): IntegrationDeliveryResult {
    return permanent(this.isConfigProblem ? `invalid config: ${this.message}` : this.message);
  }
}

function withLine(message: string, line: number): string {
  return line > 0 ? `${message} (line ${line})` : message;
}

interface Compiled {
  nodes: Node[];
  limits: Limits;
}

function compile(path: string, source: string, limits: Limits): Compiled {
  const size = Buffer.byteLength(source);
  if (size > limits.maxSourceBytes) {
    throw new TemplateError("too-long", path, `the template is ${size} bytes long, more than the ${limits.maxSourceBytes} allowed`);
  }
  try {
    return { nodes: parse(source), limits };
  } catch (err) {
    if (err instanceof SyntaxProblem) throw new TemplateError("compile", path, withLine(err.message, err.line));
    throw err;
  }
}

/** A template compiled from the config field at `path` (a JSON Pointer). */
export class Template {
  private constructor(
    readonly path: string,
    private readonly compiled: Compiled,
  ) {}

  /** Compiles `source`; throws {@link TemplateError} (compile, too-long). */
  static compile(path: string, source: string, limits: Limits = DEFAULT_LIMITS): Template {
    return new Template(path, compile(path, source, limits));
  }

  /** @internal */
  static of(path: string, compiled: Compiled): Template {
    return new Template(path, compiled);
  }

  /** Renders with `vars` (see {@link templateContext}); throws {@link TemplateError} (render). */
  render(vars: Record<string, unknown>): string {
    const { nodes, limits } = this.compiled;
    try {
      return renderNodes(nodes, vars, limits);
    } catch (err) {
      if (err instanceof OutputOverflow) throw new TemplateError("render", this.path, err.message);
      if (err instanceof RenderProblem) throw new TemplateError("render", this.path, withLine(err.message, err.line));
      if (err instanceof RangeError) throw new TemplateError("render", this.path, "invalid operation: recursion limit exceeded");
      throw err;
    }
  }
}

/** Compiled templates by their text, at most `capacity` (the oldest is dropped first). */
export class TemplateCache {
  static readonly DEFAULT_CAPACITY = 256;
  private readonly bySource = new Map<string, Compiled>();

  constructor(
    private readonly limits: Limits = DEFAULT_LIMITS,
    private readonly capacity = TemplateCache.DEFAULT_CAPACITY,
  ) {}

  /** The template of the field at `path` with text `source`, compiled on first use. */
  get(path: string, source: string): Template {
    let compiled = this.bySource.get(source);
    if (compiled === undefined) {
      compiled = compile(path, source, this.limits);
      this.bySource.set(source, compiled);
      while (this.bySource.size > Math.max(1, this.capacity)) this.bySource.delete(this.bySource.keys().next().value!);
    }
    return Template.of(path, compiled);
  }

  /**
   * The one-line field at `path` (an alert summary, a message title): `source` rendered, or the
   * event's headline when there is none; trimmed, never empty (the event type stands in), cut
   * to `limit` characters. Throws {@link TemplateError} as {@link Template.render}.
   */
  line(path: string, source: string | undefined, ctx: IntegrationDeliveryContext<unknown, unknown>, limit: number): string {
    const rendered = source === undefined ? headline(ctx.event.eventType, ctx.event.payload) : this.get(path, source).render(templateContext(ctx));
    const trimmed = rendered.trim();
    return cutChars(trimmed === "" ? ctx.event.eventType : trimmed, limit);
  }

  /** How many templates are kept. */
  get size(): number {
    return this.bySource.size;
  }
}

/** RFC 3339 in UTC, without a fraction when it is zero (`2026-01-02T03:04:05Z`). */
function rfc3339(iso: string): string {
  const at = new Date(iso);
  if (Number.isNaN(at.getTime())) return iso;
  const text = at.toISOString();
  return text.endsWith(".000Z") ? text.slice(0, -5) + "Z" : text;
}

/** The variables of a render of `ctx`'s delivery. */
export function templateContext(ctx: IntegrationDeliveryContext<unknown, unknown>): Record<string, unknown> {
  const { event, subscription, correlation } = ctx;
  const timestamp = rfc3339(event.timestamp);
  return {
    event: { id: event.id, type: event.eventType, timestamp, deliveryId: event.deliveryId, attempt: event.attempt },
    subscription: { id: subscription.id, name: subscription.name },
    payload: templatePayload(event),
    // The Rust and Python SDKs' shape: absent ids and state are null, times RFC 3339.
    correlation: correlation
      ? {
          key: correlation.key,
          earlier: correlation.earlier.map((e) => ({
            eventType: e.eventType,
            externalId: e.externalId ?? null,
            state: e.state ?? null,
            delivered: e.delivered,
            endedAt: e.endedAt ? rfc3339(e.endedAt.toISOString()) : "",
            deliveryId: e.deliveryId,
          })),
        }
      : null,
    eventId: event.id,
    eventType: event.eventType,
    deliveryId: event.deliveryId,
    timestamp,
    subscriptionId: subscription.id,
    subscriptionName: subscription.name,
  };
}

/** A template field: a string with `x-editor-types` from the host's vocabulary. */
export function templateField(editorTypes: EditorType[]) {
  return configString({ "x-editor-types": editorTypes });
}

/** A template producing a JSON body (`x-editor-types: ["json"]`). */
export const jsonTemplate = () => templateField(["json"]);
/** A message text (`["markdown"]`). */
export const markdownTemplate = () => templateField(["markdown"]);
/** One line of plain text (`["raw"]`). */
export const textTemplate = () => templateField(["raw"]);
