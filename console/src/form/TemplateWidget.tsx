/**
 * `x-editor-types`: a CodeMirror editor for a template, offering the payload property paths of
 * the subscription's event types (`payload.title`, `payload.impact.level`…) as completions
 * (Ctrl-Space, or as you type a name). Tab is left to move focus, so the form stays usable
 * with the keyboard; Escape closes the completion list.
 */

import { autocompletion, closeBrackets, type CompletionContext, type CompletionResult } from "@codemirror/autocomplete";
import { defaultKeymap, history, historyKeymap } from "@codemirror/commands";
import { Compartment, EditorState } from "@codemirror/state";
import { EditorView, keymap, placeholder } from "@codemirror/view";
import type { WidgetProps } from "@rjsf/utils";
import { useEffect, useRef } from "react";

import type { FormCtx } from "./context.js";

/** Names a template can use besides the payload's own paths. */
const CONTEXT_NAMES = ["event.id", "event.type", "event.timestamp", "event.deliveryId", "event.attempt", "subscription.id", "subscription.name"];

function completions(paths: () => string[]) {
  return (ctx: CompletionContext): CompletionResult | null => {
    const word = ctx.matchBefore(/[\w.]+/);
    if (!word && !ctx.explicit) return null;
    const options = [...paths(), ...CONTEXT_NAMES].map((label) => ({ label, type: "variable" }));
    return { from: word ? word.from : ctx.pos, options, validFor: /^[\w.]*$/ };
  };
}

export function TemplateWidget(props: WidgetProps) {
  const ctx = props.registry.formContext as FormCtx;
  const host = useRef<HTMLDivElement>(null);
  const view = useRef<EditorView | null>(null);
  const onChange = useRef(props.onChange);
  onChange.current = props.onChange;
  const paths = useRef(ctx.payloadPaths);
  paths.current = ctx.payloadPaths;
  const editable = useRef(new Compartment());
  const types = (props.options.editorTypes as string[] | undefined) ?? [];

  useEffect(() => {
    if (!host.current) return;
    const v = new EditorView({
      parent: host.current,
      state: EditorState.create({
        doc: typeof props.value === "string" ? props.value : "",
        extensions: [
          history(),
          closeBrackets(),
          keymap.of([...defaultKeymap, ...historyKeymap]),
          autocompletion({ override: [completions(() => paths.current)] }),
          placeholder(types.includes("json") ? '{"title": "{{ payload.title }}"}' : "{{ payload.title }}"),
          EditorView.lineWrapping,
          EditorView.contentAttributes.of({ "aria-label": props.label || props.name, "data-field": props.id }),
          editable.current.of(EditorView.editable.of(!props.disabled && !props.readonly)),
          EditorView.updateListener.of((u) => {
            if (!u.docChanged) return;
            const text = u.state.doc.toString();
            onChange.current(text === "" ? undefined : text);
          }),
        ],
      }),
    });
    view.current = v;
    return () => v.destroy();
    // The editor is made once; its value is synced below.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, []);

  useEffect(() => {
    const v = view.current;
    const text = typeof props.value === "string" ? props.value : "";
    if (v && v.state.doc.toString() !== text) v.dispatch({ changes: { from: 0, to: v.state.doc.length, insert: text } });
  }, [props.value]);

  return <div className="template-editor" id={props.id} ref={host} data-editor-types={types.join(",")} />;
}
