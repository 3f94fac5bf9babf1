/**
 * Templates with the Rust SDK's semantics: the cases of `plugin-sdk/rust/tests/template.rs`,
 * ported (the platform's placeholders, every variable and filter, the missing-value rules,
 * compile errors at the field's JSON Pointer, the bounds, the cache, the schema helpers), plus
 * the sandbox. The shared vectors (`tests/vectors/templates.json`) run in vectors.test.ts.
 */

import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { z } from "zod";

import { Versioned } from "../src/schema.js";
import { DEFAULT_LIMITS, jsonTemplate, markdownTemplate, Template, TemplateCache, templateContext, TemplateError, textTemplate, type Limits } from "../src/template/index.js";

const FIELD = "/bodyTemplate";

function vars(payload?: unknown, over: Record<string, unknown> = {}): Record<string, unknown> {
  return templateContext({
    event: {
      eventId: "incident.incident.created", eventType: "incident.incident.created", id: "", deliveryId: "del-7", attempt: 2, timestamp: "2026-01-02T03:04:05.000Z",
      payload: (payload ?? {
        incidentId: "inc-1", title: 'Disk "full"\non db-1', severity: "major", systemIds: ["sys-1", "sys-2"],
        description: "The disk of db-1 is full and writes fail", markup: "<b>*bold*</b> & [link](x) 'q'",
        createdAt: "2026-01-02T03:04:05Z", epoch: 1_767_323_045, nothing: null,
      }) as Record<string, unknown>,
    },
    subscription: { id: "sub-1", name: "Ops hook" },
    providerConfig: {}, connection: undefined, correlation: undefined, signal: new AbortController().signal,
    logger: { trace() {}, debug() {}, info() {}, warn() {}, error() {} },
    ...over,
  });
}

const render = (source: string, limits: Limits = DEFAULT_LIMITS, v = vars()) => Template.compile(FIELD, source, limits).render(v);

function renderError(source: string, limits: Limits = DEFAULT_LIMITS, v = vars()): string {
  try {
    render(source, limits, v);
  } catch (err) {
    assert.ok(err instanceof TemplateError && err.kind === "render" && err.path === FIELD, String(err));
    return err.detail;
  }
  assert.fail(`${source} rendered`);
}

describe("templates", () => {
  it("renders the platform's placeholders unchanged", () => {
    const source = '{"incident":"{{payload.incidentId}}","id":"{{deliveryId}}","type":"{{eventType}}","sub":"{{subscriptionName}}","subId":"{{subscriptionId}}","at":"{{timestamp}}","event":"{{eventId}}"}';
    assert.equal(render(source), '{"incident":"inc-1","id":"del-7","type":"incident.incident.created","sub":"Ops hook","subId":"sub-1","at":"2026-01-02T03:04:05Z","event":""}');
  });

  it("has every context variable", () => {
    const endedAt = new Date("2026-01-02T03:05:00Z");
    const v = vars(undefined, { correlation: { key: "inc-1", earlier: [{ eventType: "incident.incident.created", externalId: "JIRA-12", delivered: true, deliveryId: "del-1", endedAt }], origin: () => undefined, latest: () => undefined } });
    assert.deepEqual(v["correlation"], { key: "inc-1", earlier: [{ eventType: "incident.incident.created", externalId: "JIRA-12", state: null, delivered: true, endedAt: "2026-01-02T03:05:00Z", deliveryId: "del-1" }] });
    (v["event"] as Record<string, unknown>)["id"] = "evt-3";
    v["eventId"] = "evt-3";
    const source = "{{ event.id }}|{{ event.type }}|{{ event.timestamp }}|{{ event.deliveryId }}|{{ event.attempt }}|{{ subscription.id }}|{{ subscription.name }}|{{ correlation.key }}|{{ correlation.earlier[0].externalId }}|{{ eventId }}";
    assert.equal(render(source, DEFAULT_LIMITS, v), "evt-3|incident.incident.created|2026-01-02T03:04:05Z|del-7|2|sub-1|Ops hook|inc-1|JIRA-12|evt-3");
  });

  it("renders missing values empty unless required", () => {
    assert.equal(render("[{{ payload.missing }}][{{ payload.missing.deeper }}][{{ correlation.id }}][{{ payload.nothing }}]"), "[][][][]");
    assert.equal(render("{{ payload.title | required | truncate(4) }}"), "Dis…");
    const message = renderError("line one\n{{ payload.missing | required }}");
    assert.match(message, /a required value is missing/);
    assert.match(message, /line 2/);
    assert.match(renderError("{{ payload.nothing | required }}"), /a required value is missing/);
  });

  it("makes a render failure a permanent outcome naming the field", () => {
    try {
      render("{{ payload.missing | required }}");
      assert.fail("rendered");
    } catch (err) {
      assert.ok(err instanceof TemplateError);
      assert.equal(err.isConfigProblem, false);
      const result = err.result();
      assert.equal(result.outcome, "permanent");
      assert.match(result.error ?? "", /^the template in \/bodyTemplate failed to render/);
    }
  });

  it("renders objects and lists as JSON", () => {
    assert.equal(render("{{ payload.systemIds }}"), '["sys-1","sys-2"]');
    assert.equal(render("{{ payload.systemIds | tojson }}"), '["sys-1","sys-2"]');
    assert.deepEqual(JSON.parse(render("{{ payload }}")), (vars()["payload"]));
    assert.equal(render('{{ {"b": 1, "a": [true, none]} }}'), '{"a":[true,null],"b":1}');
  });

  it("json_escape makes any text safe inside a JSON string", () => {
    assert.equal(render("{{ payload.title | json_escape }}"), 'Disk \\"full\\"\\non db-1');
    const body = render('{"text":"{{ payload.title | json_escape }} {{ payload.markup | json_escape }}"}');
    assert.equal(JSON.parse(body).text, "Disk \"full\"\non db-1 <b>*bold*</b> & [link](x) 'q'");
    assert.equal(render("{{ payload.epoch | json_escape }}"), "1767323045");
  });

  it("escapes markup only when a filter says so", () => {
    assert.equal(render("{{ payload.markup | mrkdwn_escape }}"), "&lt;b&gt;*bold*&lt;/b&gt; &amp; [link](x) 'q'");
    assert.equal(render("{{ payload.markup | markdown_escape }}"), "\\<b\\>\\*bold\\*\\</b\\> & \\[link\\]\\(x\\) 'q'");
    assert.equal(render("{{ payload.markup | html_escape }}"), "&lt;b&gt;*bold*&lt;/b&gt; &amp; [link](x) &#39;q&#39;");
    assert.equal(render("{{ payload.markup }}"), "<b>*bold*</b> & [link](x) 'q'");
  });

  it("formats timestamps and Unix seconds with date", () => {
    assert.equal(render("{{ payload.createdAt | date }}"), "2026-01-02T03:04:05Z");
    assert.equal(render('{{ event.timestamp | date("%d %b %Y %H:%M") }}'), "02 Jan 2026 03:04");
    assert.equal(render('{{ payload.epoch | date("%Y-%m-%d") }}'), "2026-01-02");
    assert.match(renderError('{{ payload.createdAt | date("%Q") }}'), /not a valid strftime format/);
    assert.match(renderError("{{ payload.severity | date }}"), /not an RFC 3339 timestamp/);
  });

  it("truncates to a length with a mark", () => {
    assert.equal(render("{{ payload.severity | truncate(10) }}"), "major");
    assert.equal(render("{{ payload.description | truncate(10) }}"), "The disk …");
    assert.equal(render('{{ payload.description | truncate(10, end="...") }}'), "The dis...");
    assert.equal([...render("{{ payload.description | truncate(12) }}")].length, 12);
  });

  it("fills in missing values with default", () => {
    assert.equal(render('{{ payload.missing | default("n/a") }}'), "n/a");
    assert.equal(render('{{ payload.severity | default("n/a") }}'), "major");
  });

  it("runs the control structures", () => {
    assert.equal(render("{% for s in payload.systemIds %}{{ loop.index }}={{ s }}{% if not loop.last %},{% endif %}{% endfor %}"), "1=sys-1,2=sys-2");
    assert.equal(render("{% if payload.severity == 'major' %}M{% elif payload.severity %}m{% else %}-{% endif %}"), "M");
    assert.equal(render("{% for x in payload.missing %}x{% else %}none{% endfor %}"), "none");
    assert.equal(render("{% set n = payload.systemIds | length %}{{ n * 2 }} {{ 'a' ~ n }}"), "4 a2");
    assert.equal(render("  {%- if true -%}  x  {%- endif %}\n"), "x");
    assert.equal(render("{% raw %}{{ not rendered }}{% endraw %}"), "{{ not rendered }}");
    assert.equal(render("{{ payload.severity | upper }} {{ payload.systemIds | join(', ') }} {{ 'sys-1' in payload.systemIds }}"), "MAJOR sys-1, sys-2 True");
    assert.equal(render("{{ payload.title is defined }} {{ payload.missing is not defined }} {{ 7 // 2 }} {{ 'x' if payload.nothing else 'y' }}"), "True True 3 y");
  });

  it("refuses a template that does not compile as a config problem at its path", () => {
    try {
      Template.compile("/fieldMappings/0/template", "ok\n{{ payload.title ");
      assert.fail("compiled");
    } catch (err) {
      assert.ok(err instanceof TemplateError);
      assert.equal(err.isConfigProblem, true);
      assert.equal(err.path, "/fieldMappings/0/template");
      const d = err.diagnostic();
      assert.equal(d.jsonPath, "/fieldMappings/0/template");
      assert.match(d.message, /^the template does not compile: syntax error/);
      assert.match(d.message, /line 2/);
      assert.match(err.result().error ?? "", /^invalid config: \/fieldMappings\/0\/template: /);
    }
  });

  it("cannot reach other templates or define macros", () => {
    for (const source of ['{% include "other" %}', '{% extends "base" %}', '{% import "m" as m %}', "{% macro m() %}x{% endmacro %}"]) {
      assert.throws(() => Template.compile(FIELD, source), (e: unknown) => e instanceof TemplateError && e.kind === "compile", source);
    }
  });

  it("reaches only the context's own data", () => {
    assert.equal(render("[{{ payload.constructor }}][{{ payload.__proto__ }}][{{ payload.title.length }}][{{ payload['toString'] }}]"), "[][][][]");
    assert.match(renderError("{{ payload.title.upper() }}"), /unknown method: string has no method named upper/);
  });

  it("refuses a template longer than the limit", () => {
    assert.throws(() => Template.compile(FIELD, "{{ payload.title }} and more", { ...DEFAULT_LIMITS, maxSourceBytes: 16 }), {
      message: "/bodyTemplate: the template is 28 bytes long, more than the 16 allowed",
    });
  });

  it("stops the output at the limit", () => {
    const limits = { ...DEFAULT_LIMITS, maxOutputBytes: 100 };
    assert.equal(render("{% for i in range(25) %}abcd{% endfor %}", limits).length, 100);
    assert.match(renderError("{% for i in range(26) %}abcd{% endfor %}", limits), /longer than 100 bytes/);
  });

  it("runs out of fuel in runaway loops", () => {
    assert.match(renderError("{% for a in range(1000) %}{% for b in range(1000) %}{% endfor %}{% endfor %}"), /out of fuel/);
    const small = { ...DEFAULT_LIMITS, fuel: 500 };
    assert.match(renderError("{% for i in range(1000) %}{% endfor %}", small), /out of fuel/);
    assert.equal(render("{% for i in range(10) %}{% endfor %}", small), "");
  });

  it("bounds recursion", () => {
    let tree: unknown = [];
    for (let i = 0; i < 100; i++) tree = [{ children: tree }];
    const v = vars({ tree });
    const source = "{% for node in payload.tree recursive %}.{{ loop(node.children) }}{% endfor %}";
    assert.match(renderError(source, { ...DEFAULT_LIMITS, maxDepth: 20 }, v), /recursion/);
    assert.equal(render(source, { ...DEFAULT_LIMITS, maxDepth: 500 }, v), ".".repeat(100));
  });

  it("caches each text once and stays bounded", () => {
    const cache = new TemplateCache(DEFAULT_LIMITS, 2);
    const a = cache.get("/a", "{{ payload.missing | required }}");
    const b = cache.get("/b", "{{ payload.missing | required }}");
    assert.equal(cache.size, 1);
    assert.throws(() => a.render(vars()), (e: unknown) => e instanceof TemplateError && e.path === "/a");
    assert.throws(() => b.render(vars()), (e: unknown) => e instanceof TemplateError && e.path === "/b");
    assert.throws(() => cache.get("/c", "{{ oops"));
    assert.equal(cache.size, 1, "compile errors are not kept");
    cache.get("/d", "{{ payload.title }}");
    cache.get("/e", "{{ payload.severity }}");
    assert.equal(cache.size, 2);
    assert.equal(cache.get("/e", "{{ payload.severity }}").render(vars()), "major");
  });

  it("gives template fields editor types from the host's vocabulary", () => {
    const schema = new Versioned({ version: 1, schema: z.object({ bodyTemplate: jsonTemplate(), text: markdownTemplate(), title: textTemplate() }) }).jsonSchema() as {
      properties: Record<string, Record<string, unknown>>;
    };
    assert.deepEqual(schema.properties["bodyTemplate"]?.["x-editor-types"], ["json"]);
    assert.deepEqual(schema.properties["text"]?.["x-editor-types"], ["markdown"]);
    assert.deepEqual(schema.properties["title"]?.["x-editor-types"], ["raw"]);
  });

});
