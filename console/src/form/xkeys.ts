/**
 * Switchyard's schema `x-` keys turned into react-jsonschema-form's uiSchema: which widget each
 * property gets (`x-secret` → a password input, `x-hidden` → nothing shown,
 * `x-options-resolver` → a dropdown filled by GetConnectionOptions, refetched when a field of
 * `x-depends-on` changes and searchable with `x-searchable`, `x-editor-types` → a code editor,
 * `x-color` → a colour picker). Nested objects are walked; `oneOf`/`anyOf` branches too.
 */

import type { UiSchema } from "@rjsf/utils";

/** The redaction marker every API response puts in place of a stored secret. */
export const REDACTED = "[REDACTED]";

type Schema = Record<string, unknown>;

function isObject(value: unknown): value is Schema {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** The uiSchema entry of one property schema. */
function uiOf(prop: Schema): UiSchema {
  if (prop["x-hidden"] === true) return { "ui:widget": "hidden" };
  const nested = uiSchemaOf(prop);
  if (typeof prop["x-options-resolver"] === "string") {
    const dependsOn = Array.isArray(prop["x-depends-on"]) ? (prop["x-depends-on"] as unknown[]).map(String) : [];
    return { ...nested, "ui:widget": "resolver", "ui:options": { resolver: prop["x-options-resolver"], dependsOn, searchable: prop["x-searchable"] === true } };
  }
  if (prop["x-secret"] === true) return { ...nested, "ui:widget": "secret" };
  if (Array.isArray(prop["x-editor-types"])) return { ...nested, "ui:widget": "template", "ui:options": { editorTypes: prop["x-editor-types"] } };
  if (prop["x-color"] === true) return { ...nested, "ui:widget": "color" };
  return nested;
}

/** The uiSchema of an object schema (its properties, and those of its `oneOf`/`anyOf`). */
export function uiSchemaOf(schema: Schema): UiSchema {
  const ui: UiSchema = {};
  const props = isObject(schema.properties) ? schema.properties : {};
  for (const [name, prop] of Object.entries(props)) {
    if (isObject(prop)) {
      const entry = uiOf(prop);
      if (Object.keys(entry).length) ui[name] = entry;
    }
  }
  for (const key of ["oneOf", "anyOf", "allOf"]) {
    const branches = schema[key];
    if (!Array.isArray(branches)) continue;
    for (const branch of branches) if (isObject(branch)) Object.assign(ui, { ...uiSchemaOf(branch), ...ui });
  }
  return ui;
}

/** The JSON Pointers of every `x-secret` property (for the "stored" hint). */
export function secretPaths(schema: Schema, prefix = ""): string[] {
  const out: string[] = [];
  const props = isObject(schema.properties) ? schema.properties : {};
  for (const [name, prop] of Object.entries(props)) {
    if (!isObject(prop)) continue;
    const path = `${prefix}/${name}`;
    if (prop["x-secret"] === true) out.push(path);
    out.push(...secretPaths(prop, path));
  }
  return out;
}

/** Whether the schema has a hidden `connectionId` (a connection-based provider's config). */
export function wantsConnection(schema: Schema): boolean {
  const props = isObject(schema.properties) ? schema.properties : {};
  return isObject(props.connectionId);
}

/** A JSON Pointer as the path of rjsf's error schema, e.g. "/auth/token" → ["auth", "token"]. */
export function pointerSegments(pointer: string): string[] {
  if (!pointer) return [];
  return pointer
    .split("/")
    .slice(1)
    .map((s) => s.replace(/~1/g, "/").replace(/~0/g, "~"));
}

/** Parses a schema's JSON text; `{}` for none. */
export function parseSchema(json: string | undefined): Schema {
  if (!json) return {};
  try {
    const parsed: unknown = JSON.parse(json);
    return isObject(parsed) ? parsed : {};
  } catch {
    return {};
  }
}
