/**
 * `x-options-resolver`: a dropdown filled from ConnectionService.GetConnectionOptions, with the
 * form's current values as the context. It fetches when it appears, and again only when the
 * connection or a field named in `x-depends-on` changes — then the value chosen before is
 * cleared, since it belonged to the old choice. While a field it depends on is empty it asks
 * for that field first and calls nothing. `x-searchable` puts a search box in the dropdown.
 */

import type { WidgetProps } from "@rjsf/utils";
import { useEffect, useRef, useState } from "react";

import { api, messageOf } from "../api.js";
import { Combobox, type Choice } from "./Combobox.js";
import type { FormCtx } from "./context.js";

type Loaded = { state: "idle"; hint: string } | { state: "loading" } | { state: "ready"; choices: Choice[]; problems: string[] } | { state: "error"; message: string };

function isEmpty(value: unknown): boolean {
  return value === undefined || value === null || value === "";
}

export function ResolverWidget(props: WidgetProps) {
  const ctx = props.registry.formContext as FormCtx;
  const resolver = String(props.options.resolver ?? "");
  const dependsOn = (props.options.dependsOn as string[] | undefined) ?? [];
  const depValues = dependsOn.map((name) => ctx.values[name]);
  const key = JSON.stringify([ctx.providerId, ctx.connectionId, depValues]);
  const [loaded, setLoaded] = useState<Loaded>({ state: "loading" });
  const previous = useRef<string | null>(null);
  const values = useRef(ctx.values);
  values.current = ctx.values;

  useEffect(() => {
    const changed = previous.current !== null && previous.current !== key;
    previous.current = key;
    if (changed && !isEmpty(props.value)) props.onChange(undefined);
    if (ctx.needsConnection && !ctx.connectionId) {
      setLoaded({ state: "idle", hint: "Choose a connection first" });
      return;
    }
    const missing = dependsOn.find((name) => isEmpty(values.current[name]));
    if (missing !== undefined) {
      setLoaded({ state: "idle", hint: `Choose ${ctx.titles[missing] ?? missing} first` });
      return;
    }
    let live = true;
    setLoaded({ state: "loading" });
    const context = { ...values.current };
    if (changed) delete context[props.name];
    api.connections
      .getConnectionOptions({ providerId: ctx.providerId, connectionId: ctx.connectionId, resolverName: resolver, contextJson: JSON.stringify(context) })
      .then((r) => {
        if (!live) return;
        const choices = r.options.map((o) => ({ value: o.value, label: o.label || o.value, description: o.description }));
        setLoaded({ state: "ready", choices, problems: r.problems.map((p) => (p.jsonPath ? `${p.jsonPath}: ${p.message}` : p.message)) });
      })
      .catch((err: unknown) => live && setLoaded({ state: "error", message: messageOf(err) }));
    return () => {
      live = false;
    };
    // Only the connection and the fields depended on trigger a fetch.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [key]);

  const value = isEmpty(props.value) ? undefined : String(props.value);
  const choices = loaded.state === "ready" ? loaded.choices : [];
  const disabled = props.disabled || props.readonly || loaded.state !== "ready";
  const label = props.label || props.name;
  return (
    <div className="resolver" data-resolver={resolver} aria-busy={loaded.state === "loading"}>
      {props.options.searchable ? (
        <Combobox id={props.id} label={label} value={value} choices={choices} disabled={disabled} onChange={(v) => props.onChange(v)} />
      ) : (
        <select id={props.id} value={value ?? ""} disabled={disabled} onChange={(e) => props.onChange(e.target.value === "" ? undefined : e.target.value)}>
          <option value="">{loaded.state === "loading" ? "Loading…" : "Choose…"}</option>
          {value !== undefined && !choices.some((c) => c.value === value) && <option value={value}>{value}</option>}
          {choices.map((c) => (
            <option key={c.value} value={c.value} title={c.description}>
              {c.label}
            </option>
          ))}
        </select>
      )}
      {loaded.state === "idle" && <p className="hint">{loaded.hint}</p>}
      {loaded.state === "error" && <p className="error" role="alert">{loaded.message}</p>}
      {loaded.state === "ready" && loaded.problems.map((p) => <p key={p} className="error">{p}</p>)}
    </div>
  );
}
