/**
 * `x-secret`: a password input. A secret stored already arrives as the redaction marker; it is
 * shown as an empty field saying "stored", and left blank it stays the marker, which the
 * coordinator reads as "keep the stored value". The secret typed is never echoed back.
 */

import type { WidgetProps } from "@rjsf/utils";

import { REDACTED } from "./xkeys.js";

export function SecretWidget(props: WidgetProps) {
  const stored = props.value === REDACTED;
  const shown = stored || props.value === undefined ? "" : String(props.value);
  return (
    <div className="secret">
      <input
        id={props.id}
        name={props.id}
        type="password"
        autoComplete="new-password"
        value={shown}
        required={props.required && !stored}
        disabled={props.disabled || props.readonly}
        placeholder={stored ? "stored — leave blank to keep" : ""}
        onChange={(e) => props.onChange(e.target.value === "" ? (stored ? REDACTED : undefined) : e.target.value)}
        onBlur={() => props.onBlur(props.id, props.value)}
        onFocus={() => props.onFocus(props.id, props.value)}
      />
      {stored && <span className="badge">stored</span>}
    </div>
  );
}
