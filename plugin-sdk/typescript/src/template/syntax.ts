/**
 * Templates' syntax: the parser of the Jinja subset the SDK renders, into a tree the
 * renderer walks (`render.ts`). The same syntax as minijinja, which the Rust SDK uses, for what
 * it covers: `{{ expr }}`, `{% if/elif/else %}`, `{% for x in xs [if cond] [recursive] %}` with
 * `{% else %}` and `loop`, `{% set %}` (also as a block), `{% raw %}`, `{# comments #}`,
 * whitespace control (`{{-`, `-%}`…), literals, attributes, subscripts, filters with
 * positional and keyword arguments, tests (`is [not] defined`…), `not and or`, comparisons,
 * `in`, `~ + - * / // % **`, `a if b else c`, slices `x[1:3]`, tuples, `{% with %}`,
 * `{% filter %}`, `{% autoescape %}`, calls of the globals (`range`, `dict`, `namespace`,
 * `loop`) and of methods (only `loop.cycle`; others fail when rendered). There is no loader:
 * `include`, `extends`, `import`, `from`, `macro`, `call` and `block` do not compile. A single trailing newline of the source is dropped, as
 * minijinja does.
 */

import { Lexer, SyntaxProblem, type Tok } from "./lexer.js";
import { Float } from "./values.js";

export { SyntaxProblem } from "./lexer.js";

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
  | { k: "call"; callee: string; args: Expr[]; kwargs: [string, Expr][]; line: number }
  | { k: "method"; obj: Expr; name: string; args: Expr[]; kwargs: [string, Expr][]; line: number }
  | { k: "slice"; obj: Expr; start: Expr | undefined; stop: Expr | undefined; line: number };

export type Node =
  | { k: "text"; text: string }
  | { k: "out"; expr: Expr; line: number }
  | { k: "if"; branches: { cond: Expr; body: Node[] }[]; otherwise: Node[]; line: number }
  | { k: "for"; targets: string[]; iter: Expr; filter: Expr | undefined; recursive: boolean; body: Node[]; otherwise: Node[]; line: number }
  | { k: "set"; name: string; attr: string | undefined; expr: Expr | undefined; body: Node[]; line: number }
  | { k: "with"; assigns: [string, Expr][]; body: Node[]; line: number }
  | { k: "filterblock"; filters: { name: string; args: Expr[]; kwargs: [string, Expr][] }[]; body: Node[]; line: number };

const FORBIDDEN = new Set(["include", "extends", "import", "from", "macro", "call", "block"]);
const END_WORDS = new Set(["elif", "else", "endif", "endfor", "endset", "endwith", "endfilter", "endautoescape"]);

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
    if (word === "with") return this.withStatement(line);
    if (word === "filter") return this.filterStatement(line);
    if (word === "autoescape") {
      // Output is never escaped (escaping is a filter's choice), so the block only groups.
      this.expr();
      this.expectClose("block");
      const body = this.body(new Set(["endautoescape"]));
      this.next();
      this.expectName("endautoescape");
      this.expectClose("block");
      return { k: "with", assigns: [], body, line };
    }
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
    let attr: string | undefined;
    if (this.isOp(".")) {
      this.p++;
      attr = this.expectName();
    }
    if (this.isOp("=")) {
      this.p++;
      const expr = this.expr();
      this.expectClose("block");
      return { k: "set", name, attr, expr, body: [], line };
    }
    this.expectClose("block");
    const body = this.body(new Set(["endset"]));
    this.next();
    this.expectName("endset");
    this.expectClose("block");
    return { k: "set", name, attr, expr: undefined, body, line };
  }

  private withStatement(line: number): Node {
    const assigns: [string, Expr][] = [];
    while (!(this.peek().t === "close")) {
      const name = this.expectName();
      this.expectOp("=");
      assigns.push([name, this.expr()]);
      if (this.isOp(",")) this.p++;
    }
    this.expectClose("block");
    const body = this.body(new Set(["endwith"]));
    this.next();
    this.expectName("endwith");
    this.expectClose("block");
    return { k: "with", assigns, body, line };
  }

  private filterStatement(line: number): Node {
    const filters: { name: string; args: Expr[]; kwargs: [string, Expr][] }[] = [];
    do {
      if (this.isOp("|")) this.p++;
      const name = this.expectName();
      filters.push({ name, ...(this.isOp("(") ? this.arguments() : { args: [], kwargs: [] }) });
    } while (this.isOp("|"));
    this.expectClose("block");
    const body = this.body(new Set(["endfilter"]));
    this.next();
    this.expectName("endfilter");
    this.expectClose("block");
    return { k: "filterblock", filters, body, line };
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
    const after = this.peek(1);
    if (this.isOp("-") && after.t === "num") {
      // `-86400 | date` is the date of -86400: a negative literal, as minijinja reads it.
      const line = this.next().line;
      this.p++;
      return this.filtered(this.postfix({ k: "lit", value: after.f ? new Float(-after.v) : -after.v, line }));
    }
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
        const start = this.isOp(":") ? undefined : this.expr();
        if (this.isOp(":")) {
          this.p++;
          const stop = this.isOp("]") ? undefined : this.expr();
          this.expectOp("]");
          out = { k: "slice", obj: out, start, stop, line };
        } else {
          this.expectOp("]");
          out = { k: "item", obj: out, key: start!, line };
        }
      } else if (this.isOp("(")) {
        const { args, kwargs } = this.arguments();
        if (out.k === "name") out = { k: "call", callee: out.name, args, kwargs, line: out.line };
        else if (out.k === "attr") out = { k: "method", obj: out.obj, name: out.name, args, kwargs, line: out.line };
        else this.fail("only functions and methods can be called");
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
    if (tok.t === "num") return { k: "lit", value: tok.f ? new Float(tok.v) : tok.v, line };
    if (tok.t === "name") {
      const literals: Record<string, unknown> = { true: true, True: true, false: false, False: false, none: null, None: null };
      if (tok.v in literals) return { k: "lit", value: literals[tok.v], line };
      return { k: "name", name: tok.v, line };
    }
    if (tok.t === "op" && tok.v === "(") {
      if (this.isOp(")")) return this.p++, { k: "list", items: [], line };
      const inner = this.expr();
      if (!this.isOp(",")) {
        this.expectOp(")");
        return inner;
      }
      // A tuple: a list, as minijinja prints it.
      const items = [inner];
      while (this.isOp(",")) {
        this.p++;
        if (this.isOp(")")) break;
        items.push(this.expr());
      }
      this.expectOp(")");
      return { k: "list", items, line };
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
