/**
 * Renders a parsed template with its variables, within bounds: fuel (every expression, output
 * and loop iteration costs one unit, so a loop over a few thousand items fits and a runaway
 * nested loop does not), the output's size in bytes, and the nesting depth of blocks, loops and
 * recursive `loop()` calls. Scopes as in Jinja: a `set` inside a loop or `with` does not leak
 * out of it (a `namespace()` carries values out). Arithmetic keeps minijinja's number kinds.
 */

import { filter, test, type Kwargs } from "./filters.js";
import type { Expr, Node } from "./syntax.js";
import { display, equal, Float, isNumber, isObject, itemsOf, kindOf, listOf, lookup, numberOf, RenderProblem, textOf, truthy } from "./values.js";

/** The bounds of one render. */
export interface Bounds {
  fuel: number;
  maxOutputBytes: number;
  maxDepth: number;
}

/** The output grew past its limit. */
export class OutputOverflow extends RenderProblem {}

/** `loop` inside a `for`: plain data for the template, plus `cycle()`. */
class LoopVars {
  constructor(
    readonly index: number,
    readonly index0: number,
    readonly revindex: number,
    readonly revindex0: number,
    readonly first: boolean,
    readonly last: boolean,
    readonly length: number,
    readonly previtem: unknown,
    readonly nextitem: unknown,
    readonly depth: number,
    readonly depth0: number,
  ) {}
}

/** What `namespace()` makes: the one value `{% set ns.x = … %}` may change. */
class Namespace {}

interface LoopFrame {
  node: Extract<Node, { k: "for" }>;
  depth: number;
}

type Num = number | bigint | Float;

/** Integer arithmetic in JS numbers while exact, in bigints past 2^53. */
function intOp(op: string, a: number | bigint, b: number | bigint): number | bigint {
  if (typeof a === "number" && typeof b === "number") {
    const r = op === "+" ? a + b : op === "-" ? a - b : a * b;
    if (Number.isSafeInteger(r)) return r;
  }
  const [x, y] = [BigInt(a), BigInt(b)];
  const r = op === "+" ? x + y : op === "-" ? x - y : x * y;
  return r >= BigInt(Number.MIN_SAFE_INTEGER) && r <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(r) : r;
}

function arith(op: string, l: unknown, r: unknown): unknown {
  if (!isNumber(l) || !isNumber(r)) throw new RenderProblem(`invalid operation: ${op} needs numbers, not ${kindOf(l)} and ${kindOf(r)}`);
  const [a, b] = [l as Num, r as Num];
  const float = a instanceof Float || b instanceof Float;
  const [x, y] = [numberOf(a, op), numberOf(b, op)];
  if (op === "/") return new Float(x / nonZero(y));
  if (op === "**") return float || y < 0 ? new Float(x ** y) : intPow(a as number | bigint, y);
  if (float) {
    const v = op === "+" ? x + y : op === "-" ? x - y : op === "*" ? x * y : op === "//" ? Math.floor(x / nonZero(y)) : x - Math.floor(x / nonZero(y)) * y;
    return new Float(v);
  }
  if (op === "//") return Math.floor(x / nonZero(y));
  if (op === "%") return ((x % nonZero(y)) + y) % y;
  return intOp(op, a as number | bigint, b as number | bigint);
}

function intPow(a: number | bigint, y: number): number | bigint {
  const r = BigInt(a) ** BigInt(y);
  return r >= BigInt(Number.MIN_SAFE_INTEGER) && r <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(r) : r;
}

class Renderer {
  private fuel: number;
  private out = "";
  private bytes = 0;
  private depth = 0;
  private readonly scopes: Map<string, unknown>[];

  constructor(
    private readonly bounds: Bounds,
    vars: Record<string, unknown>,
  ) {
    this.fuel = bounds.fuel;
    this.scopes = [new Map(Object.entries(vars))];
  }

  result(nodes: Node[]): string {
    this.nodes(nodes, undefined);
    return this.out;
  }

  private burn(line: number): void {
    if (--this.fuel < 0) throw new RenderProblem("the template does too much work (out of fuel)", line);
  }

  private write(text: string, line: number): void {
    const size = Buffer.byteLength(text);
    if (this.bytes + size > this.bounds.maxOutputBytes) throw new OutputOverflow(`the output is longer than ${this.bounds.maxOutputBytes} bytes`, line);
    this.bytes += size;
    this.out += text;
  }

  private enter(line: number): void {
    if (++this.depth > this.bounds.maxDepth) throw new RenderProblem("invalid operation: recursion limit exceeded", line);
  }

  private nodes(nodes: Node[], frame: LoopFrame | undefined): void {
    for (const node of nodes) this.node(node, frame);
  }

  /** Renders `nodes` into a string of its own (not output; only what is printed counts). */
  private capture(nodes: Node[], frame: LoopFrame | undefined): string {
    const saved = [this.out, this.bytes] as const;
    this.out = "";
    this.nodes(nodes, frame);
    const captured = this.out;
    [this.out, this.bytes] = saved;
    return captured;
  }

  private scoped(line: number, body: (scope: Map<string, unknown>) => void): void {
    this.enter(line);
    const scope = new Map<string, unknown>();
    this.scopes.push(scope);
    try {
      body(scope);
    } finally {
      this.scopes.pop();
      this.depth--;
    }
  }

  private node(node: Node, frame: LoopFrame | undefined): void {
    switch (node.k) {
      case "text":
        return this.write(node.text, 0);
      case "out":
        this.burn(node.line);
        return this.write(textOf(this.eval(node.expr, frame)), node.line);
      case "if": {
        const taken = node.branches.find((b) => truthy(this.eval(b.cond, frame)));
        return this.scoped(node.line, () => this.nodes(taken ? taken.body : node.otherwise, frame));
      }
      case "for":
        return this.loop(node, itemsOf(this.eval(node.iter, frame)), 0);
      case "set":
        return this.set(node, frame);
      case "with":
        return this.scoped(node.line, (scope) => {
          for (const [name, e] of node.assigns) scope.set(name, this.eval(e, frame));
          this.nodes(node.body, frame);
        });
      case "filterblock": {
        let value: unknown = this.capture(node.body, frame);
        for (const f of node.filters) value = this.applyFilter(f.name, value, f.args, f.kwargs, frame);
        return this.write(textOf(value), node.line);
      }
    }
  }

  private set(node: Extract<Node, { k: "set" }>, frame: LoopFrame | undefined): void {
    const value = node.expr ? this.eval(node.expr, frame) : this.capture(node.body, frame);
    if (node.attr === undefined) {
      this.scopes[this.scopes.length - 1]!.set(node.name, value);
      return;
    }
    const target = this.name(node.name);
    if (!(target instanceof Namespace)) throw new RenderProblem(`invalid operation: can only assign to an attribute of a namespace()`, node.line);
    (target as unknown as Record<string, unknown>)[node.attr] = value;
  }

  private loop(node: Extract<Node, { k: "for" }>, all: unknown[], depth: number): void {
    this.scoped(node.line, (scope) => {
      const items = node.filter ? all.filter((item) => (this.bind(scope, node, item), truthy(this.eval(node.filter!, undefined)))) : all;
      if (items.length === 0) this.nodes(node.otherwise, undefined);
      items.forEach((item, i) => {
        this.burn(node.line);
        this.bind(scope, node, item);
        const n = items.length;
        scope.set("loop", new LoopVars(i + 1, i, n - i, n - i - 1, i === 0, i === n - 1, n, items[i - 1], items[i + 1], depth + 1, depth));
        this.nodes(node.body, { node, depth });
      });
    });
  }

  private bind(scope: Map<string, unknown>, node: Extract<Node, { k: "for" }>, item: unknown): void {
    if (node.targets.length === 1) {
      scope.set(node.targets[0]!, item);
      return;
    }
    const parts = Array.isArray(item) ? item : [];
    if (parts.length !== node.targets.length) throw new RenderProblem(`invalid operation: cannot unpack into ${node.targets.length} values`, node.line);
    node.targets.forEach((t, i) => scope.set(t, parts[i]));
  }

  private name(name: string): unknown {
    for (let i = this.scopes.length - 1; i >= 0; i--) {
      const scope = this.scopes[i]!;
      if (scope.has(name)) return scope.get(name);
    }
    return undefined;
  }

  private eval(e: Expr, frame: LoopFrame | undefined): unknown {
    this.burn(e.line);
    try {
      return this.evaluate(e, frame);
    } catch (err) {
      if (err instanceof RenderProblem && err.line === 0) err.line = e.line;
      throw err;
    }
  }

  private evaluate(e: Expr, frame: LoopFrame | undefined): unknown {
    switch (e.k) {
      case "lit":
        return e.value;
      case "name":
        return this.name(e.name);
      case "attr":
        return lookup(this.eval(e.obj, frame), e.name);
      case "item":
        return lookup(this.eval(e.obj, frame), this.eval(e.key, frame));
      case "slice":
        return this.slice(e, frame);
      case "list":
        return e.items.map((x) => this.eval(x, frame));
      case "map":
        return Object.fromEntries(e.pairs.map(([k, v]) => [textOf(this.eval(k, frame)), this.eval(v, frame)]));
      case "unary":
        return this.unary(e, frame);
      case "binary":
        return this.binary(e, frame);
      case "cond":
        return truthy(this.eval(e.cond, frame)) ? this.eval(e.then, frame) : e.otherwise ? this.eval(e.otherwise, frame) : undefined;
      case "filter":
        return this.applyFilter(e.name, this.eval(e.value, frame), e.args, e.kwargs, frame);
      case "test": {
        const t = test(e.name);
        if (!t) throw new RenderProblem(`unknown test: test ${e.name} is unknown`);
        const found = t(this.eval(e.value, frame), e.args.map((a) => this.eval(a, frame)));
        return e.negated ? !found : found;
      }
      case "call":
        return this.call(e, frame);
      case "method":
        return this.method(e, frame);
    }
  }

  private slice(e: Extract<Expr, { k: "slice" }>, frame: LoopFrame | undefined): unknown {
    const obj = this.eval(e.obj, frame);
    const bound = (x: Expr | undefined) => (x === undefined ? undefined : numberOf(this.eval(x, frame), "slice"));
    const [start, stop] = [bound(e.start), bound(e.stop)];
    if (typeof obj === "string") return [...obj].slice(start, stop).join("");
    if (Array.isArray(obj)) return obj.slice(start, stop);
    throw new RenderProblem(`invalid operation: cannot slice ${kindOf(obj)}`);
  }

  private unary(e: Extract<Expr, { k: "unary" }>, frame: LoopFrame | undefined): unknown {
    const v = this.eval(e.value, frame);
    if (e.op === "not") return !truthy(v);
    if (e.op === "+") return isNumber(v) ? v : arith("+", 0, v);
    return v instanceof Float ? new Float(-v.value) : arith("-", 0, v);
  }

  private binary(e: Extract<Expr, { k: "binary" }>, frame: LoopFrame | undefined): unknown {
    if (e.op === "and" || e.op === "or") {
      const l = this.eval(e.left, frame);
      return truthy(l) === (e.op === "and") ? this.eval(e.right, frame) : l;
    }
    const l = this.eval(e.left, frame);
    const r = this.eval(e.right, frame);
    switch (e.op) {
      case "==": return equal(l, r);
      case "!=": return !equal(l, r);
      case "<": return compare(l, r) < 0;
      case ">": return compare(l, r) > 0;
      case "<=": return compare(l, r) <= 0;
      case ">=": return compare(l, r) >= 0;
      case "in": return contains(r, l);
      case "~": return display(l) + display(r);
      case "+":
        if (typeof l === "string" && typeof r === "string") return l + r;
        if (Array.isArray(l) && Array.isArray(r)) return [...l, ...r];
        return arith("+", l, r);
      case "*":
        if (typeof l === "string" && (typeof r === "number")) return repeat(l, r, this.bounds.maxOutputBytes);
        return arith("*", l, r);
      default:
        return arith(e.op, l, r);
    }
  }

  private applyFilter(name: string, value: unknown, args: Expr[], kwargs: [string, Expr][], frame: LoopFrame | undefined): unknown {
    const f = filter(name);
    if (!f) throw new RenderProblem(`unknown filter: filter ${name} is unknown`);
    const kw: Kwargs = Object.fromEntries(kwargs.map(([k, v]) => [k, this.eval(v, frame)]));
    return f(value, args.map((a) => this.eval(a, frame)), kw);
  }

  private call(e: Extract<Expr, { k: "call" }>, frame: LoopFrame | undefined): unknown {
    const args = e.args.map((a) => this.eval(a, frame));
    const kwargs = Object.fromEntries(e.kwargs.map(([k, v]) => [k, this.eval(v, frame)]));
    switch (e.callee) {
      case "range":
        return this.range(args, e.line);
      case "dict":
        return { ...(isObject(args[0]) ? args[0] : {}), ...kwargs };
      case "namespace":
        return Object.assign(new Namespace(), isObject(args[0]) ? args[0] : {}, kwargs);
      case "loop":
        if (frame?.node.recursive) return this.recurse(frame, args[0]);
    }
    throw new RenderProblem(`unknown function: ${e.callee} is unknown`);
  }

  private recurse(frame: LoopFrame, items: unknown): string {
    const saved = [this.out, this.bytes] as const;
    this.out = "";
    this.loop(frame.node, itemsOf(items), frame.depth + 1);
    const inner = this.out;
    [this.out, this.bytes] = saved;
    return inner;
  }

  private method(e: Extract<Expr, { k: "method" }>, frame: LoopFrame | undefined): unknown {
    const obj = this.eval(e.obj, frame);
    if (obj instanceof LoopVars && e.name === "cycle") {
      const args = e.args.map((a) => this.eval(a, frame));
      return args.length ? args[obj.index0 % args.length] : undefined;
    }
    throw new RenderProblem(`unknown method: ${kindOf(obj)} has no method named ${e.name}`);
  }

  private range(args: unknown[], line: number): number[] {
    const [a, b, step = 1] = args.map((x) => numberOf(x, "range"));
    const [start, stop] = b === undefined ? [0, a ?? 0] : [a ?? 0, b];
    if (step === 0) throw new RenderProblem("invalid operation: range step cannot be 0");
    const out: number[] = [];
    for (let i = start; step > 0 ? i < stop : i > stop; i += step) {
      this.burn(line);
      out.push(i);
    }
    return out;
  }
}

function compare(a: unknown, b: unknown): number {
  if (isNumber(a) && isNumber(b)) return numberOf(a, "<") - numberOf(b, "<");
  if (typeof a === "string" && typeof b === "string") return a < b ? -1 : a > b ? 1 : 0;
  throw new RenderProblem(`invalid operation: cannot compare ${kindOf(a)} with ${kindOf(b)}`);
}

function contains(haystack: unknown, needle: unknown): boolean {
  if (typeof haystack === "string") return haystack.includes(display(needle));
  if (Array.isArray(haystack)) return haystack.some((x) => equal(x, needle));
  if (isObject(haystack)) return typeof needle === "string" && Object.hasOwn(haystack, needle);
  if (haystack === undefined || haystack === null) return false;
  return listOf(haystack, "in").some((x) => equal(x, needle));
}

function nonZero(n: number): number {
  if (n === 0) throw new RenderProblem("invalid operation: division by zero");
  return n;
}

function repeat(text: string, times: number, limit: number): string {
  if (text.length * Math.max(0, times) > limit) throw new OutputOverflow(`the output is longer than ${limit} bytes`);
  return text.repeat(Math.max(0, Math.trunc(times)));
}

/** Renders `nodes` with `vars` within `bounds`; throws {@link RenderProblem}. */
export function renderNodes(nodes: Node[], vars: Record<string, unknown>, bounds: Bounds): string {
  return new Renderer(bounds, vars).result(nodes);
}
