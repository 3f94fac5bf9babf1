/**
 * Templates' lexer: the source cut into text and the tokens inside `{{ }}` and `{% %}` (names,
 * strings with escapes, numbers, operators), with their lines; comments dropped, `{% raw %}`
 * kept as text, and whitespace control (`{{-`, `-%}`…) applied to the neighbouring text.
 */

/** A problem in a template's source, with its line. */
export class SyntaxProblem extends Error {
  constructor(
    message: string,
    readonly line: number,
  ) {
    super(message);
  }
}

export type Tok =
  | { t: "text"; v: string; line: number }
  | { t: "open"; v: "var" | "block"; line: number }
  | { t: "close"; v: "var" | "block"; line: number }
  | { t: "name"; v: string; line: number }
  | { t: "str"; v: string; line: number }
  | { t: "num"; v: number; f: boolean; line: number }
  | { t: "op"; v: string; line: number }
  | { t: "eof"; v: ""; line: number };

const OPS = ["**", "//", "==", "!=", "<=", ">=", "+", "-", "*", "/", "%", "~", "<", ">", "=", "|", ".", ",", ":", "(", ")", "[", "]", "{", "}"];

/** Line numbers by offset, found by binary search over the offsets of the newlines. */
class Lines {
  private readonly breaks: number[] = [];

  constructor(source: string) {
    for (let i = source.indexOf("\n"); i >= 0; i = source.indexOf("\n", i + 1)) this.breaks.push(i);
  }

  at(index: number): number {
    let lo = 0;
    let hi = this.breaks.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.breaks[mid]! < index) lo = mid + 1;
      else hi = mid;
    }
    return lo + 1;
  }
}

export class Lexer {
  readonly toks: Tok[] = [];
  private i = 0;
  private trimNext = false;

  private readonly lines: Lines;

  constructor(private readonly src: string) {
    this.lines = new Lines(src);
  }

  private line(): number {
    return this.lines.at(this.i);
  }

  run(): Tok[] {
    while (this.i < this.src.length) this.text();
    this.toks.push({ t: "eof", v: "", line: this.line() });
    return this.toks;
  }

  private pushText(text: string, line: number): void {
    let value = text;
    if (this.trimNext) value = value.replace(/^\s+/, "");
    this.trimNext = false;
    if (value) this.toks.push({ t: "text", v: value, line });
  }

  private trimLastText(): void {
    const last = this.toks[this.toks.length - 1];
    if (last?.t === "text") last.v = last.v.replace(/\s+$/, "");
  }

  private text(): void {
    const start = this.i;
    const next = this.src.slice(start).search(/\{[{%#]/);
    if (next < 0) {
      this.pushText(this.src.slice(start), this.line());
      this.i = this.src.length;
      return;
    }
    this.pushText(this.src.slice(start, start + next), this.lines.at(start));
    this.i = start + next;
    const kind = this.src[this.i + 1];
    const trimBefore = this.src[this.i + 2] === "-";
    if (trimBefore) this.trimLastText();
    const line = this.line();
    this.i += trimBefore ? 3 : 2;
    if (kind === "#") return this.comment(line);
    if (kind === "%" && /^\s*raw\s*-?%\}/.test(this.src.slice(this.i))) return this.raw(line);
    this.toks.push({ t: "open", v: kind === "{" ? "var" : "block", line });
    this.inside(kind === "{" ? "}}" : "%}", kind === "{" ? "var" : "block");
  }

  private comment(line: number): void {
    const end = this.src.indexOf("#}", this.i);
    if (end < 0) throw new SyntaxProblem("syntax error: unexpected end of comment", line);
    this.trimNext = this.src[end - 1] === "-";
    this.i = end + 2;
  }

  private raw(line: number): void {
    const head = /^\s*raw\s*(-?)%\}/.exec(this.src.slice(this.i))!;
    this.i += head[0].length;
    const endRe = /\{%(-?)\s*endraw\s*(-?)%\}/g;
    endRe.lastIndex = this.i;
    const end = endRe.exec(this.src);
    if (!end) throw new SyntaxProblem("syntax error: unexpected end of raw block", line);
    let body = this.src.slice(this.i, end.index);
    if (head[1]) body = body.replace(/^\s+/, "");
    if (end[1]) body = body.replace(/\s+$/, "");
    this.pushText(body, line);
    this.trimNext = end[2] === "-";
    this.i = end.index + end[0].length;
  }

  private inside(close: string, kind: "var" | "block"): void {
    const src = this.src;
    for (;;) {
      while (this.i < src.length && /\s/.test(src[this.i]!)) this.i++;
      if (this.i >= src.length) {
        const what = kind === "var" ? "variable block" : "block";
        throw new SyntaxProblem(`syntax error: unexpected end of input, expected end of ${what}`, this.line());
      }
      const line = this.line();
      if (src.startsWith("-" + close, this.i) || src.startsWith(close, this.i)) {
        this.trimNext = src[this.i] === "-";
        this.i += this.trimNext ? 3 : 2;
        this.toks.push({ t: "close", v: kind, line });
        return;
      }
      this.token(line);
    }
  }

  private token(line: number): void {
    const rest = this.src.slice(this.i);
    const name = /^[A-Za-z_][A-Za-z0-9_]*/.exec(rest);
    if (name) {
      this.toks.push({ t: "name", v: name[0], line });
      this.i += name[0].length;
      return;
    }
    const num = /^\d[\d_]*(\.\d+)?([eE][+-]?\d+)?/.exec(rest);
    if (num) {
      this.toks.push({ t: "num", v: Number(num[0].replace(/_/g, "")), f: num[1] !== undefined || num[2] !== undefined, line });
      this.i += num[0].length;
      return;
    }
    const quote = rest[0];
    if (quote === '"' || quote === "'") return this.string(quote, line);
    const op = OPS.find((o) => rest.startsWith(o));
    if (!op) throw new SyntaxProblem(`syntax error: unexpected character ${JSON.stringify(rest[0])}`, line);
    this.toks.push({ t: "op", v: op, line });
    this.i += op.length;
  }

  private string(quote: string, line: number): void {
    let out = "";
    let j = this.i + 1;
    const escapes: Record<string, string> = { n: "\n", t: "\t", r: "\r", "\\": "\\", '"': '"', "'": "'", "0": "\0" };
    while (j < this.src.length && this.src[j] !== quote) {
      if (this.src[j] === "\\" && j + 1 < this.src.length) {
        const e = this.src[j + 1]!;
        if (e === "u" && /^[0-9a-fA-F]{4}$/.test(this.src.slice(j + 2, j + 6))) {
          out += String.fromCharCode(parseInt(this.src.slice(j + 2, j + 6), 16));
          j += 6;
          continue;
        }
        out += escapes[e] ?? e;
        j += 2;
      } else out += this.src[j++];
    }
    if (j >= this.src.length) throw new SyntaxProblem("syntax error: unexpected end of string", line);
    this.toks.push({ t: "str", v: out, line });
    this.i = j + 1;
  }
}
