/**
 * Renders a parsed template with its variables, within bounds: fuel (every expression, output
 * and loop iteration costs one unit, so a loop over a few thousand items fits and a runaway
 * nested loop does not), the output's size in bytes, and the nesting depth of blocks, loops and
 * recursive `loop()` calls. Scopes as in Jinja: a `set` inside a loop does not leak out of it.
 */

import { filter, test, type Kwargs } from "./filters.js";
import type { Expr, Node } from "./syntax.js";
import { equal, isObject, itemsOf, lookup, numberOf, RenderProblem, textOf, truthy } from "./values.js";

/** The bounds of one render. */
export interface Bounds {
  fuel: number;
  maxOutputBytes: number;
  maxDepth: number;
}

/** The output grew past its limit. */
export class OutputOverflow extends RenderProblem {}

interface LoopFrame {
  node: Extract<Node, { k: "for" }>;
  depth: number;
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

  private node(node: Node, frame: LoopFrame | undefined): void {
    switch (node.k) {
      case "text":
        return this.write(node.text, 0);
      case "out":
        this.burn(node.line);
        return this.write(textOf(this.eval(node.expr, frame)), node.line);
      case "if": {
        const taken = node.branches.find((b) => truthy(this.eval(b.cond, frame)));
        this.enter(node.line);
        this.nodes(taken ? taken.body : node.otherwise, frame);
        this.depth--;
        return;
      }
      case "for":
        return this.loop(node, itemsOf(this.eval(node.iter, frame)), 0);
      case "set":
        return this.set(node, frame);
    }
  }

  private set(node: Extract<Node, { k: "set" }>, frame: LoopFrame | undefined): void {
    if (node.expr) {
      this.scopes[this.scopes.length - 1]!.set(node.name, this.eval(node.expr, frame));
      return;
    }
    const saved = [this.out, this.bytes] as const;
    this.out = "";
    this.nodes(node.body, frame);
    const captured = this.out;
    // Captured text is not output (yet): only what is printed counts against the limit.
    [this.out, this.bytes] = saved;
    this.scopes[this.scopes.length - 1]!.set(node.name, captured);
  }

  private loop(node: Extract<Node, { k: "for" }>, all: unknown[], depth: number): void {
    this.enter(node.line);
    const scope = new Map<string, unknown>();
    this.scopes.push(scope);
    try {
      const items = node.filter ? all.filter((item) => (this.bind(scope, node, item), truthy(this.eval(node.filter!, undefined)))) : all;
      if (items.length === 0) this.nodes(node.otherwise, undefined);
      items.forEach((item, i) => {
        this.burn(node.line);
        this.bind(scope, node, item);
        scope.set("loop", {
          index: i + 1, index0: i, revindex: items.length - i, revindex0: items.length - i - 1,
          first: i === 0, last: i === items.length - 1, length: items.length,
          previtem: items[i - 1], nextitem: items[i + 1], depth: depth + 1, depth0: depth,
        });
        this.nodes(node.body, { node, depth });
      });
    } finally {
      this.scopes.pop();
      this.depth--;
    }
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
        return this.filter(e, frame);
      case "test": {
        const t = test(e.name);
        if (!t) throw new RenderProblem(`unknown test: test ${e.name} is unknown`);
        const found = t(this.eval(e.value, frame), e.args.map((a) => this.eval(a, frame)));
        return e.negated ? !found : found;
      }
      case "call":
        return this.call(e, frame);
    }
  }

  private unary(e: Extract<Expr, { k: "unary" }>, frame: LoopFrame | undefined): unknown {
    const v = this.eval(e.value, frame);
    if (e.op === "not") return !truthy(v);
    return e.op === "-" ? -numberOf(v, "-") : numberOf(v, "+");
  }

  private binary(e: Extract<Expr, { k: "binary" }>, frame: LoopFrame | undefined): unknown {
    if (e.op === "and") {
      const l = this.eval(e.left, frame);
      return truthy(l) ? this.eval(e.right, frame) : l;
    }
    if (e.op === "or") {
      const l = this.eval(e.left, frame);
      return truthy(l) ? l : this.eval(e.right, frame);
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
      case "~": return textOf(l) + textOf(r);
      case "+":
        if (typeof l === "string" && typeof r === "string") return l + r;
        if (Array.isArray(l) && Array.isArray(r)) return [...l, ...r];
        return numberOf(l, "+") + numberOf(r, "+");
      case "-": return numberOf(l, "-") - numberOf(r, "-");
      case "*":
        if (typeof l === "string") return repeat(l, numberOf(r, "*"), this.bounds.maxOutputBytes);
        return numberOf(l, "*") * numberOf(r, "*");
      case "/": return numberOf(l, "/") / nonZero(numberOf(r, "/"));
      case "//": return Math.floor(numberOf(l, "//") / nonZero(numberOf(r, "//")));
      case "%": return numberOf(l, "%") % nonZero(numberOf(r, "%"));
      case "**": return numberOf(l, "**") ** numberOf(r, "**");
    }
    throw new RenderProblem(`invalid operation: unknown operator ${e.op}`);
  }

  private filter(e: Extract<Expr, { k: "filter" }>, frame: LoopFrame | undefined): unknown {
    const f = filter(e.name);
    if (!f) throw new RenderProblem(`unknown filter: filter ${e.name} is unknown`);
    const kwargs: Kwargs = Object.fromEntries(e.kwargs.map(([k, v]) => [k, this.eval(v, frame)]));
    return f(this.eval(e.value, frame), e.args.map((a) => this.eval(a, frame)), kwargs);
  }

  private call(e: Extract<Expr, { k: "call" }>, frame: LoopFrame | undefined): unknown {
    const args = e.args.map((a) => this.eval(a, frame));
    if (e.callee === "range") {
      const [a, b, step = 1] = args.map((x) => numberOf(x, "range"));
      const [start, stop] = b === undefined ? [0, a ?? 0] : [a ?? 0, b];
      if (step === 0) throw new RenderProblem("invalid operation: range step cannot be 0");
      const out: number[] = [];
      for (let i = start; step > 0 ? i < stop : i > stop; i += step) {
        this.burn(e.line);
        out.push(i);
      }
      return out;
    }
    if (e.callee === "loop" && frame?.node.recursive) {
      const saved = this.out;
      this.out = "";
      this.loop(frame.node, itemsOf(args[0]), frame.depth + 1);
      const inner = this.out;
      this.out = saved;
      this.bytes -= Buffer.byteLength(inner);
      return inner;
    }
    throw new RenderProblem(`unknown function: ${e.callee} is unknown`);
  }
}

function compare(a: unknown, b: unknown): number {
  if (typeof a === "number" && typeof b === "number") return a - b;
  if (typeof a === "string" && typeof b === "string") return a < b ? -1 : a > b ? 1 : 0;
  throw new RenderProblem("invalid operation: can only compare numbers with numbers and text with text");
}

function contains(haystack: unknown, needle: unknown): boolean {
  if (typeof haystack === "string") return haystack.includes(textOf(needle));
  if (Array.isArray(haystack)) return haystack.some((x) => equal(x, needle));
  if (isObject(haystack)) return typeof needle === "string" && Object.hasOwn(haystack, needle);
  return false;
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
