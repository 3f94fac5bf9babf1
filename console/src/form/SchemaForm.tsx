/**
 * The schema-driven config form: react-jsonschema-form over a provider's JSON Schema, with the
 * widgets of the `x-` keys (see `xkeys.ts`), the schema's defaults pre-filled, client-side
 * validation with the same draft (2020-12), and the server's diagnostics — schema problems and
 * the plugin's ValidateConfig answers, each at a JSON Pointer — shown at their fields.
 */

import Form from "@rjsf/core";
import type { ErrorSchema, RegistryWidgetsType, RJSFSchema } from "@rjsf/utils";
import { customizeValidator } from "@rjsf/validator-ajv8";
import Ajv2020 from "ajv/dist/2020.js";
import { useMemo, type ReactNode } from "react";

import type { Problem } from "../api.js";
import { ColorWidget } from "./ColorWidget.js";
import type { FormCtx } from "./context.js";
import { ResolverWidget } from "./ResolverWidget.js";
import { SecretWidget } from "./SecretWidget.js";
import { TemplateWidget } from "./TemplateWidget.js";
import { pointerSegments, uiSchemaOf } from "./xkeys.js";

// `x-` keys are annotations, not keywords the validator should refuse.
const validator = customizeValidator({ AjvClass: Ajv2020 as never, ajvOptionsOverrides: { strict: false } });

const widgets: RegistryWidgetsType = {
  secret: SecretWidget,
  resolver: ResolverWidget,
  template: TemplateWidget,
  color: ColorWidget,
  ColorWidget,
};

/** The problems as rjsf's error schema: `/auth/token` → `{auth: {token: {__errors: […]}}}`. */
export function errorSchemaOf(problems: Problem[]): ErrorSchema {
  const root: Record<string, unknown> = {};
  for (const p of problems) {
    let node = root;
    for (const segment of pointerSegments(p.path)) {
      node[segment] ??= {};
      node = node[segment] as Record<string, unknown>;
    }
    const errors = (node.__errors as string[] | undefined) ?? [];
    node.__errors = [...errors, p.message];
  }
  return root as ErrorSchema;
}

interface Props {
  /** An id prefix, unique on the page. */
  idPrefix: string;
  schema: Record<string, unknown>;
  value: Record<string, unknown>;
  context: Omit<FormCtx, "values" | "titles">;
  problems: Problem[];
  onChange(value: Record<string, unknown>): void;
  onSubmit(value: Record<string, unknown>): void;
  /** The form's buttons (a submit button saves). */
  children: ReactNode;
}

export function SchemaForm({ idPrefix, schema, value, context, problems, onChange, onSubmit, children }: Props) {
  const uiSchema = useMemo(() => ({ ...uiSchemaOf(schema), "ui:submitButtonOptions": { norender: true } }), [schema]);
  // rjsf reads `$schema` as the meta-schema to compile with; the validator is 2020-12 already.
  const rjsfSchema = useMemo(() => {
    const { $schema: _ignored, ...rest } = schema;
    return rest as RJSFSchema;
  }, [schema]);
  const titles = useMemo(() => {
    const props = (schema.properties ?? {}) as Record<string, { title?: string }>;
    return Object.fromEntries(Object.entries(props).map(([k, p]) => [k, p.title ?? k]));
  }, [schema]);
  const formContext: FormCtx = { ...context, values: value, titles };
  const extraErrors = useMemo(() => (problems.length ? errorSchemaOf(problems) : undefined), [problems]);
  return (
    <Form
      idPrefix={idPrefix}
      schema={rjsfSchema}
      uiSchema={uiSchema}
      formData={value}
      formContext={formContext}
      validator={validator}
      widgets={widgets}
      extraErrors={extraErrors}
      showErrorList={false}
      noHtml5Validate
      onChange={(e) => onChange((e.formData ?? {}) as Record<string, unknown>)}
      onSubmit={(e) => onSubmit((e.formData ?? {}) as Record<string, unknown>)}
    >
      {children}
    </Form>
  );
}
