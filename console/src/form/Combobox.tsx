/**
 * A dropdown with a search box inside it (`x-searchable`), usable with the keyboard: Enter,
 * Space or ArrowDown opens it, typing filters, ArrowUp/ArrowDown move, Enter picks, Escape
 * closes. The button carries the field's id, so the field's `<label for>` names it.
 */

import { useEffect, useId, useRef, useState } from "react";

export interface Choice {
  value: string;
  label: string;
  description?: string;
}

interface Props {
  id: string;
  label: string;
  value: string | undefined;
  choices: Choice[];
  disabled?: boolean;
  onChange(value: string | undefined): void;
}

export function Combobox({ id, label, value, choices, disabled, onChange }: Props) {
  const [open, setOpen] = useState(false);
  const [query, setQuery] = useState("");
  const [active, setActive] = useState(0);
  const listId = useId();
  const root = useRef<HTMLDivElement>(null);
  const button = useRef<HTMLButtonElement>(null);
  const q = query.trim().toLowerCase();
  const shown = q ? choices.filter((c) => c.label.toLowerCase().includes(q) || c.value.toLowerCase().includes(q)) : choices;
  const selected = choices.find((c) => c.value === value);

  useEffect(() => {
    if (!open) return;
    const close = (e: MouseEvent) => {
      if (!root.current?.contains(e.target as Node)) setOpen(false);
    };
    document.addEventListener("mousedown", close);
    return () => document.removeEventListener("mousedown", close);
  }, [open]);

  const pick = (choice: Choice | undefined) => {
    onChange(choice?.value);
    setOpen(false);
    setQuery("");
    button.current?.focus();
  };
  const onKey = (e: React.KeyboardEvent) => {
    if (e.key === "ArrowDown") setActive((a) => Math.min(a + 1, shown.length - 1));
    else if (e.key === "ArrowUp") setActive((a) => Math.max(a - 1, 0));
    else if (e.key === "Enter") pick(shown[active]);
    else if (e.key === "Escape") {
      setOpen(false);
      button.current?.focus();
    } else return;
    e.preventDefault();
  };

  return (
    <div className="combo" ref={root}>
      <button
        type="button"
        id={id}
        ref={button}
        className="combo-button"
        aria-haspopup="listbox"
        aria-expanded={open}
        disabled={disabled}
        onClick={() => {
          setOpen(!open);
          setActive(0);
        }}
        onKeyDown={(e) => {
          if (e.key === "ArrowDown" && !open) {
            setOpen(true);
            e.preventDefault();
          }
        }}
      >
        {selected ? selected.label : value ? value : "Choose…"}
      </button>
      {open && (
        <div className="combo-pop">
          <input
            type="search"
            autoFocus
            aria-label={`Search ${label}`}
            aria-controls={listId}
            value={query}
            placeholder="Search…"
            onChange={(e) => {
              setQuery(e.target.value);
              setActive(0);
            }}
            onKeyDown={onKey}
          />
          <ul role="listbox" id={listId} aria-label={label}>
            {value !== undefined && (
              <li role="option" aria-selected={false} className="combo-clear" onMouseDown={() => pick(undefined)}>
                (none)
              </li>
            )}
            {shown.map((c, i) => (
              <li
                key={c.value}
                role="option"
                aria-selected={c.value === value}
                className={i === active ? "active" : ""}
                title={c.description}
                onMouseDown={(e) => {
                  e.preventDefault();
                  pick(c);
                }}
              >
                {c.label}
              </li>
            ))}
            {shown.length === 0 && <li className="combo-empty">No match</li>}
          </ul>
        </div>
      )}
    </div>
  );
}
