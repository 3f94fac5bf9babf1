/**
 * JSON for templates: parses a payload keeping what `JSON.parse` loses and minijinja keeps —
 * a number written with a fraction or an exponent is a {@link Float} (`3.0` prints `3.0`), an
 * integer past 2^53 a `bigint` (printed digit for digit). Strict JSON; anything else throws.
 */

import { Float } from "./values.js";

class Reader {
  i = 0;

  constructor(private readonly s: string) {}

  fail(what: string): never {
    throw new SyntaxError(`JSON: ${what} at offset ${this.i}`);
  }

  space(): void {
    while (this.i < this.s.length && " \t\n\r".includes(this.s[this.i]!)) this.i++;
  }

  value(depth: number): unknown {
    if (depth > 512) this.fail("nesting too deep");
    this.space();
    const c = this.s[this.i];
    if (c === "{") return this.object(depth);
    if (c === "[") return this.array(depth);
    if (c === '"') return this.string();
    for (const [word, v] of [["true", true], ["false", false], ["null", null]] as const) {
      if (this.s.startsWith(word, this.i)) {
        this.i += word.length;
        return v;
      }
    }
    return this.number();
  }

  private object(depth: number): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    this.i++;
    this.space();
    if (this.s[this.i] === "}") return this.i++, out;
    for (;;) {
      this.space();
      if (this.s[this.i] !== '"') this.fail("expected a key");
      const key = this.string();
      this.space();
      if (this.s[this.i++] !== ":") this.fail("expected ':'");
      Object.defineProperty(out, key, { value: this.value(depth + 1), enumerable: true, writable: true, configurable: true });
      this.space();
      const c = this.s[this.i++];
      if (c === "}") return out;
      if (c !== ",") this.fail("expected ',' or '}'");
    }
  }

  private array(depth: number): unknown[] {
    const out: unknown[] = [];
    this.i++;
    this.space();
    if (this.s[this.i] === "]") return this.i++, out;
    for (;;) {
      out.push(this.value(depth + 1));
      this.space();
      const c = this.s[this.i++];
      if (c === "]") return out;
      if (c !== ",") this.fail("expected ',' or ']'");
    }
  }

  private string(): string {
    const m = /^"(?:[^"\\\u0000-\u001f]|\\(?:["\\/bfnrt]|u[0-9a-fA-F]{4}))*"/.exec(this.s.slice(this.i));
    if (!m) this.fail("bad string");
    this.i += m[0].length;
    return JSON.parse(m[0]) as string;
  }

  private number(): unknown {
    const m = /^-?(?:0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?/.exec(this.s.slice(this.i));
    if (!m) this.fail("unexpected character");
    this.i += m[0].length;
    if (m[1] !== undefined || m[2] !== undefined) return new Float(Number(m[0]));
    const n = Number(m[0]);
    return Number.isSafeInteger(n) ? n : BigInt(m[0]);
  }
}

/** `text` parsed, floats and big integers kept; throws `SyntaxError` for text that is not JSON. */
export function parseTemplateJson(text: string): unknown {
  const r = new Reader(text);
  const value = r.value(0);
  r.space();
  if (r.i !== text.length) r.fail("trailing text");
  return value;
}

/** Where the SDK keeps an event's payload text (a non-enumerable property of `ctx.event`). */
export const PAYLOAD_JSON: unique symbol = Symbol("switchyard.payloadJson");

/** The payload of `event` as templates see it: from its JSON text when the SDK kept it. */
export function templatePayload(event: object & { payload: unknown }): unknown {
  const raw = (event as { [PAYLOAD_JSON]?: unknown })[PAYLOAD_JSON];
  if (typeof raw === "string" && raw.trim()) {
    try {
      return parseTemplateJson(raw);
    } catch {
      // Not strict JSON (the host checked it parses): fall back to the parsed payload.
    }
  }
  return event.payload;
}
