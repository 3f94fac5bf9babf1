/** `x-color`: a colour picker next to the hex value it stores (typed or picked). */

import type { WidgetProps } from "@rjsf/utils";

export function ColorWidget(props: WidgetProps) {
  const value = typeof props.value === "string" ? props.value : "";
  const valid = /^#[0-9a-fA-F]{6}$/.test(value);
  return (
    <div className="color">
      <input
        id={props.id}
        type="color"
        value={valid ? value : "#000000"}
        disabled={props.disabled || props.readonly}
        onChange={(e) => props.onChange(e.target.value)}
      />
      <input
        type="text"
        aria-label={`${props.label || props.id} (hex)`}
        value={value}
        placeholder="#rrggbb"
        disabled={props.disabled || props.readonly}
        onChange={(e) => props.onChange(e.target.value === "" ? undefined : e.target.value)}
      />
    </div>
  );
}
