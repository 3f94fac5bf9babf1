/**
 * Templates' syntax: the lexer and parser of the Jinja subset the SDK renders, into a tree the
 * renderer walks (`render.ts`). The same syntax as minijinja, which the Rust SDK uses, for what
 * it covers: `{{ expr }}`, `{% if/elif/else %}`, `{% for x in xs [if cond] [recursive] %}` with
 * `{% else %}` and `loop`, `{% set %}` (also as a block), `{% raw %}`, `{# comments #}`,
 * whitespace control (`{{-`, `-%}`…), literals, attributes, subscripts, filters with
 * positional and keyword arguments, tests (`is [not] defined`…), `not and or`, comparisons,
 * `in`, `~ + - * / // % **`, `a if b else c` and calls of `range` and `loop`. There is no
 * loader: `include`, `extends`, `import`, `from`, `macro` and `call` do not compile, nor does
 * anything else outside the subset. A single trailing newline of the source is dropped, as
 * minijinja does.
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

export type Expr =
  | { k: "lit"; value: unknown; line: number }
  | { k: "name"; name: string; line: number }
  | { k: "attr"; obj: Expr; name: string; line: number }
  | { k: "item"; obj: Expr; key: Expr; line: number }
  | { k: "filter"; value: Expr; name: string; args: Expr[]; kwargs: [string, Expr][]; line: number }
  | { k: "test"; value: Expr; name: string; args: Expr[]; negated: boolean; line: number }
  | { k: "unary"; op: "not" | "-" | "+"; value: Expr; line: number }
  | { k: "binary"; op: string; left: Expr; right: Expr; line: number }
  | { k: "cond"; then: Expr; cond: Expr; otherwise: Expr | undefined; line: number }
  | { k: "list"; items: Expr[]; line: number }
  | { k: "map"; pairs: [Expr, Expr][]; line: number }
  | { k: "call"; callee: string; args: Expr[]; kwargs: [string, Expr][]; line: number };

export type Node =
  | { k: "text"; text: string }
  | { k: "out"; expr: Expr; line: number }
  | { k: "if"; branches: { cond: Expr; body: Node[] }[]; otherwise: Node[]; line: number }
  | { k: "for"; targets: string[]; iter: Expr; filter: Expr | undefined; recursive: boolean; body: Node[]; otherwise: Node[]; line: number }
  | { k: "set"; name: string; expr: Expr | undefined; body: Node[]; line: number };

type Tok =
  | { t: "text"; v: string; line: number }
  | { t: "open"; v: "var" | "block"; line: number }
  | { t: "close"; v: "var" | "block"; line: number }
  | { t: "name"; v: string; line: number }
  | { t: "str"; v: string; line: number }
  | { t: "num"; v: number; line: number }
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

class Lexer {
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
      this.toks.push({ t: "num", v: Number(num[0].replace(/_/g, "")), line });
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

const FORBIDDEN = new Set(["include", "extends", "import", "from", "macro", "call", "block", "filter", "with", "autoescape"]);
const END_WORDS = new Set(["elif", "else", "endif", "endfor", "endset"]);

/** Parses tokens into nodes. */
class Parser {
  private p = 0;

  constructor(private readonly toks: Tok[]) {}

  private peek(offset = 0): Tok {
    return this.toks[Math.min(this.p + offset, this.toks.length - 1)]!;
  }

  private next(): Tok {
    return this.toks[this.p++] ?? this.toks[this.toks.length - 1]!;
  }

  private fail(message: string, tok = this.peek()): never {
    throw new SyntaxProblem(`syntax error: ${message}`, tok.line);
  }

  private describe(tok: Tok): string {
    if (tok.t === "eof") return "end of input";
    if (tok.t === "close") return tok.v === "var" ? "end of variable block" : "end of block";
    return `\`${String(tok.v)}\``;
  }

  private isOp(v: string, offset = 0): boolean {
    const tok = this.peek(offset);
    return tok.t === "op" && tok.v === v;
  }

  private isName(v: string, offset = 0): boolean {
    const tok = this.peek(offset);
    return tok.t === "name" && tok.v === v;
  }

  private expectOp(v: string): void {
    if (!this.isOp(v)) this.fail(`unexpected ${this.describe(this.peek())}, expected \`${v}\``);
    this.p++;
  }

  private expectName(v?: string): string {
    const tok = this.peek();
    if (tok.t !== "name" || (v !== undefined && tok.v !== v)) this.fail(`unexpected ${this.describe(tok)}, expected ${v ? `\`${v}\`` : "identifier"}`);
    this.p++;
    return tok.v;
  }

  private expectClose(kind: "var" | "block"): void {
    const tok = this.peek();
    if (tok.t !== "close" || tok.v !== kind) this.fail(`unexpected ${this.describe(tok)}, expected end of ${kind === "var" ? "variable block" : "block"}`);
    this.p++;
  }

  /** Nodes until a block whose keyword is in `until` (left unconsumed) or the end. */
  body(until: Set<string>): Node[] {
    const nodes: Node[] = [];
    for (;;) {
      const tok = this.peek();
      if (tok.t === "eof") {
        if (until.size) this.fail(`unexpected end of input, expected ${[...until].map((u) => `\`${u}\``).join(" or ")}`);
        return nodes;
      }
      if (tok.t === "text") {
        nodes.push({ k: "text", text: tok.v });
        this.p++;
      } else if (tok.t === "open" && tok.v === "var") {
        this.p++;
        nodes.push({ k: "out", expr: this.expr(), line: tok.line });
        this.expectClose("var");
      } else if (tok.t === "open") {
        const word = this.peek(1);
        if (word.t === "name" && until.has(word.v)) return nodes;
        this.p++;
        nodes.push(this.statement(tok.line));
      } else this.fail(`unexpected ${this.describe(tok)}`);
    }
  }

  private statement(line: number): Node {
    const word = this.expectName();
    if (FORBIDDEN.has(word)) this.fail(`\`${word}\` is not available in templates (no other templates, macros or blocks can be reached)`);
    if (word === "if") return this.ifStatement(line);
    if (word === "for") return this.forStatement(line);
    if (word === "set") return this.setStatement(line);
    if (END_WORDS.has(word)) this.fail(`unexpected \`${word}\``);
    return this.fail(`unknown statement ${word}`);
  }

  private ifStatement(line: number): Node {
    const branches: { cond: Expr; body: Node[] }[] = [];
    let cond = this.expr();
    let otherwise: Node[] = [];
    for (;;) {
      this.expectClose("block");
      const body = this.body(new Set(["elif", "else", "endif"]));
      branches.push({ cond, body });
      this.next();
      const word = this.expectName();
      if (word === "elif") {
        cond = this.expr();
        continue;
      }
      if (word === "else") {
        this.expectClose("block");
        otherwise = this.body(new Set(["endif"]));
        this.next();
        this.expectName("endif");
      }
      this.expectClose("block");
      return { k: "if", branches, otherwise, line };
    }
  }

  private forStatement(line: number): Node {
    const targets = [this.expectName()];
    while (this.isOp(",")) {
      this.p++;
      targets.push(this.expectName());
    }
    this.expectName("in");
    const iter = this.expr(false);
    let filter: Expr | undefined;
    if (this.isName("if")) {
      this.p++;
      filter = this.expr(false);
    }
    const recursive = this.isName("recursive");
    if (recursive) this.p++;
    this.expectClose("block");
    const body = this.body(new Set(["else", "endfor"]));
    let otherwise: Node[] = [];
    this.next();
    if (this.expectName() === "else") {
      this.expectClose("block");
      otherwise = this.body(new Set(["endfor"]));
      this.next();
      this.expectName("endfor");
    }
    this.expectClose("block");
    return { k: "for", targets, iter, filter, recursive, body, otherwise, line };
  }

  private setStatement(line: number): Node {
    const name = this.expectName();
    if (this.isOp("=")) {
      this.p++;
      const expr = this.expr();
      this.expectClose("block");
      return { k: "set", name, expr, body: [], line };
    }
    this.expectClose("block");
    const body = this.body(new Set(["endset"]));
    this.next();
    this.expectName("endset");
    this.expectClose("block");
    return { k: "set", name, expr: undefined, body, line };
  }

  /** An expression; `withCondition` allows `a if b else c` at the top. */
  expr(withCondition = true): Expr {
    const value = this.or();
    if (withCondition && this.isName("if")) {
      const line = this.next().line;
      const cond = this.or();
      let otherwise: Expr | undefined;
      if (this.isName("else")) {
        this.p++;
        otherwise = this.expr();
      }
      return { k: "cond", then: value, cond, otherwise, line };
    }
    return value;
  }

  private or(): Expr {
    let left = this.and();
    while (this.isName("or")) {
      const line = this.next().line;
      left = { k: "binary", op: "or", left, right: this.and(), line };
    }
    return left;
  }

  private and(): Expr {
    let left = this.not();
    while (this.isName("and")) {
      const line = this.next().line;
      left = { k: "binary", op: "and", left, right: this.not(), line };
    }
    return left;
  }

  private not(): Expr {
    if (this.isName("not")) {
      const line = this.next().line;
      return { k: "unary", op: "not", value: this.not(), line };
    }
    return this.compare();
  }

  private compare(): Expr {
    let left = this.concat();
    for (;;) {
      const tok = this.peek();
      if (tok.t === "op" && ["==", "!=", "<", ">", "<=", ">="].includes(tok.v)) {
        this.p++;
        left = { k: "binary", op: tok.v, left, right: this.concat(), line: tok.line };
      } else if (this.isName("in")) {
        this.p++;
        left = { k: "binary", op: "in", left, right: this.concat(), line: tok.line };
      } else if (this.isName("not") && this.isName("in", 1)) {
        this.p += 2;
        left = { k: "unary", op: "not", value: { k: "binary", op: "in", left, right: this.concat(), line: tok.line }, line: tok.line };
      } else return left;
    }
  }

  private concat(): Expr {
    let left = this.additive();
    while (this.isOp("~")) {
      const line = this.next().line;
      left = { k: "binary", op: "~", left, right: this.additive(), line };
    }
    return left;
  }

  private additive(): Expr {
    let left = this.multiplicative();
    while (this.isOp("+") || this.isOp("-")) {
      const tok = this.next();
      left = { k: "binary", op: String(tok.v), left, right: this.multiplicative(), line: tok.line };
    }
    return left;
  }

  private multiplicative(): Expr {
    let left = this.power();
    while (this.isOp("*") || this.isOp("/") || this.isOp("//") || this.isOp("%")) {
      const tok = this.next();
      left = { k: "binary", op: String(tok.v), left, right: this.power(), line: tok.line };
    }
    return left;
  }

  private power(): Expr {
    const left = this.unary();
    if (this.isOp("**")) {
      const line = this.next().line;
      return { k: "binary", op: "**", left, right: this.power(), line };
    }
    return left;
  }

  private unary(): Expr {
    if (this.isOp("-") || this.isOp("+")) {
      const tok = this.next();
      return { k: "unary", op: tok.v as "-" | "+", value: this.unary(), line: tok.line };
    }
    return this.filtered(this.postfix(this.primary()));
  }

  private filtered(value: Expr): Expr {
    let out = value;
    for (;;) {
      if (this.isOp("|")) {
        const line = this.next().line;
        const name = this.expectName();
        const { args, kwargs } = this.isOp("(") ? this.arguments() : { args: [], kwargs: [] };
        out = { k: "filter", value: out, name, args, kwargs, line };
      } else if (this.isName("is")) {
        const line = this.next().line;
        const negated = this.isName("not");
        if (negated) this.p++;
        const name = this.expectName();
        const args: Expr[] = [];
        if (this.isOp("(")) args.push(...this.arguments().args);
        else if (["num", "str"].includes(this.peek().t)) args.push(this.primary());
        out = { k: "test", value: out, name, args, negated, line };
      } else return out;
    }
  }

  private arguments(): { args: Expr[]; kwargs: [string, Expr][] } {
    this.expectOp("(");
    const args: Expr[] = [];
    const kwargs: [string, Expr][] = [];
    while (!this.isOp(")")) {
      if (this.peek().t === "name" && this.isOp("=", 1)) {
        const key = this.expectName();
        this.p++;
        kwargs.push([key, this.expr()]);
      } else args.push(this.expr());
      if (!this.isOp(")")) this.expectOp(",");
    }
    this.p++;
    return { args, kwargs };
  }

  private postfix(value: Expr): Expr {
    let out = value;
    for (;;) {
      if (this.isOp(".")) {
        const line = this.next().line;
        const tok = this.next();
        if (tok.t === "name") out = { k: "attr", obj: out, name: tok.v, line };
        else if (tok.t === "num" && Number.isInteger(tok.v)) out = { k: "item", obj: out, key: { k: "lit", value: tok.v, line }, line };
        else this.fail(`unexpected ${this.describe(tok)}, expected identifier`, tok);
      } else if (this.isOp("[")) {
        const line = this.next().line;
        const key = this.expr();
        this.expectOp("]");
        out = { k: "item", obj: out, key, line };
      } else if (this.isOp("(") ) {
        if (out.k !== "name") this.fail("only range() and loop() can be called");
        const { args, kwargs } = this.arguments();
        out = { k: "call", callee: out.name, args, kwargs, line: out.line };
      } else return out;
    }
  }

  private primary(): Expr {
    const tok = this.next();
    const line = tok.line;
    if (tok.t === "str") {
      let value = tok.v;
      while (this.peek().t === "str") value += String(this.next().v);
      return { k: "lit", value, line };
    }
    if (tok.t === "num") return { k: "lit", value: tok.v, line };
    if (tok.t === "name") {
      const literals: Record<string, unknown> = { true: true, True: true, false: false, False: false, none: null, None: null };
      if (tok.v in literals) return { k: "lit", value: literals[tok.v], line };
      return { k: "name", name: tok.v, line };
    }
    if (tok.t === "op" && tok.v === "(") {
      const inner = this.expr();
      this.expectOp(")");
      return inner;
    }
    if (tok.t === "op" && tok.v === "[") {
      const items: Expr[] = [];
      while (!this.isOp("]")) {
        items.push(this.expr());
        if (!this.isOp("]")) this.expectOp(",");
      }
      this.p++;
      return { k: "list", items, line };
    }
    if (tok.t === "op" && tok.v === "{") {
      const pairs: [Expr, Expr][] = [];
      while (!this.isOp("}")) {
        const key = this.expr();
        this.expectOp(":");
        pairs.push([key, this.expr()]);
        if (!this.isOp("}")) this.expectOp(",");
      }
      this.p++;
      return { k: "map", pairs, line };
    }
    return this.fail(`unexpected ${this.describe(tok)}, expected expression`, tok);
  }
}

/** The tree of `source`; throws {@link SyntaxProblem}. */
export function parse(source: string): Node[] {
  const trimmed = source.endsWith("\n") ? source.slice(0, -1) : source;
  return new Parser(new Lexer(trimmed).run()).body(new Set());
}
