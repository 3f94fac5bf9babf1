/**
 * Config schemas as the platform writes them: zod schemas with the seed's helpers
 * (`configString({ "x-secret": true })`, `configNumber`, `configBoolean`) inside a
 * {@link Versioned} (version, schema, migrations), turned into draft 2020-12 JSON Schema with
 * the x-keys kept (zod 4's own `z.toJSONSchema`, input side: fields with a default are not
 * required). A config is checked with the zod schema itself; its problems become in-band
 * diagnostics, each at the JSON Pointer of the offending value, never quoting a value.
 */

import { z } from "zod";

/** The editor names the host accepts in `x-editor-types`. */
export type EditorType =
  | "none"
  | "raw"
  | "json"
  | "yaml"
  | "xml"
  | "markdown"
  | "formdata"
  | "javascript"
  | "typescript"
  | "shell";

/** Switchyard's schema keys (see `VersionedSchema` in `plugin.proto`). */
export interface ConfigMeta {
  /** Encrypted at rest, redacted in answers and logs. */
  "x-secret"?: boolean;
  "x-hidden"?: boolean;
  /** The resolver name `getConnectionOptions` gets. */
  "x-options-resolver"?: string;
  /** Sibling fields whose change refetches the options (only next to a resolver). */
  "x-depends-on"?: string[];
  /** A searchable dropdown (only next to a resolver). */
  "x-searchable"?: boolean;
  "x-editor-types"?: EditorType[];
  "x-color"?: boolean;
}

/** A string config field carrying Switchyard's schema keys. */
export function configString(meta: ConfigMeta = {}): z.ZodString {
  return z.string().meta({ ...meta });
}

/** A number config field carrying Switchyard's schema keys. */
export function configNumber(meta: ConfigMeta = {}): z.ZodNumber {
  return z.number().meta({ ...meta });
}

/** A boolean config field carrying Switchyard's schema keys. */
export function configBoolean(meta: ConfigMeta = {}): z.ZodBoolean {
  return z.boolean().meta({ ...meta });
}

/** One problem with user input, at an RFC 6901 JSON Pointer ("" = the whole document). */
export interface Diagnostic {
  jsonPath: string;
  message: string;
}

/** One step of a config's history: turns a config of `fromVersion` into one of `toVersion`. */
export interface Migration {
  fromVersion: number;
  toVersion: number;
  description?: string;
  migrate(data: unknown): unknown;
}

/** A config schema with its version and the migrations from older versions. */
export class Versioned<T> {
  readonly version: number;
  readonly schema: z.ZodType<T>;
  readonly migrations: readonly Migration[];
  private json: Record<string, unknown> | undefined;

  constructor(options: { version: number; schema: z.ZodType<T>; migrations?: Migration[] }) {
    this.version = options.version;
    this.schema = options.schema;
    this.migrations = options.migrations ?? [];
  }

  /** The draft 2020-12 JSON Schema, computed once. */
  jsonSchema(): Record<string, unknown> {
    this.json ??= z.toJSONSchema(this.schema, {
      target: "draft-2020-12",
      io: "input",
      unrepresentable: "any",
    }) as Record<string, unknown>;
    return this.json;
  }

  /** The config parsed (defaults applied), or its problems. */
  check(data: unknown): { ok: true; value: T } | { ok: false; diagnostics: Diagnostic[] } {
    const result = this.schema.safeParse(data);
    if (result.success) return { ok: true, value: result.data };
    return { ok: false, diagnostics: diagnosticsOf(result.error, data) };
  }

  /** `data`, stored at `fromVersion`, brought to the current version by the migrations. */
  async migrate(fromVersion: number, data: unknown): Promise<unknown> {
    let version = fromVersion;
    let current = data;
    while (version < this.version) {
      const step = this.migrations.find((m) => m.fromVersion === version);
      if (step === undefined || step.toVersion <= version) {
        throw new MigrationError(`no migration from version ${version} (the current version is ${this.version})`);
      }
      current = await step.migrate(current);
      version = step.toVersion;
    }
    return current;
  }
}

/** A stored config cannot be migrated; answered in-band as a diagnostic at `jsonPath`. */
export class MigrationError extends Error {
  constructor(
    message: string,
    readonly jsonPath = "",
  ) {
    super(message);
    this.name = "MigrationError";
  }
}

/** RFC 6901: `["auth", "token"]` → `/auth/token`. */
export function jsonPointer(path: readonly PropertyKey[]): string {
  return path.map((p) => "/" + String(p).replace(/~/g, "~0").replace(/\//g, "~1")).join("");
}

function valueAt(data: unknown, path: readonly PropertyKey[]): unknown {
  let current: unknown = data;
  for (const key of path) {
    if (current === null || typeof current !== "object") return undefined;
    current = (current as Record<PropertyKey, unknown>)[key];
  }
  return current;
}

/** One diagnostic per zod issue, each at its value's JSON Pointer, sorted by path. */
export function diagnosticsOf(error: z.ZodError, data: unknown): Diagnostic[] {
  const found: Diagnostic[] = [];
  for (const issue of error.issues) {
    const path = issue.path as PropertyKey[];
    if (issue.code === "unrecognized_keys") {
      for (const key of issue.keys) found.push({ jsonPath: jsonPointer([...path, key]), message: `'${key}' is not an allowed property` });
    } else if (issue.code === "invalid_type" && path.length > 0 && valueAt(data, path) === undefined) {
      found.push({ jsonPath: jsonPointer(path), message: `'${String(path[path.length - 1])}' is required` });
    } else {
      found.push({ jsonPath: jsonPointer(path), message: issue.message });
    }
  }
  return found.sort((a, b) => (a.jsonPath < b.jsonPath ? -1 : a.jsonPath > b.jsonPath ? 1 : 0));
}

/** Every `x-options-resolver` name used anywhere in a JSON Schema. */
export function resolverNames(schema: unknown, out = new Set<string>()): Set<string> {
  if (Array.isArray(schema)) schema.forEach((s) => resolverNames(s, out));
  else if (schema !== null && typeof schema === "object") {
    const obj = schema as Record<string, unknown>;
    const name = obj["x-options-resolver"];
    if (typeof name === "string") out.add(name);
    Object.values(obj).forEach((s) => resolverNames(s, out));
  }
  return out;
}
