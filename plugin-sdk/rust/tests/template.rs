//! Templates as a provider uses them: compiled from a config field, rendered with a delivery's
//! context. Checkstack's placeholders, every variable and filter, the missing-value rules,
//! compile errors with the field's JSON Pointer, the bounds (source, output, fuel, depth), the
//! compile cache, and the schema helpers' `x-editor-types`.

use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::json;
use switchyard_plugin_sdk::template::{
    self, Limits, Template, TemplateCache, TemplateContext, TemplateError,
};
use switchyard_plugin_sdk::{
    CorrelatedDelivery, Correlation, DeliveryContext, DeliveryResult, Event, NoConnection, Outcome,
    Subscription,
};

const FIELD: &str = "/bodyTemplate";

fn event() -> Event {
    Event {
        event_type: "incident.incident.created".into(),
        payload: json!({
            "incidentId": "inc-1",
            "title": "Disk \"full\"\non db-1",
            "severity": "major",
            "systemIds": ["sys-1", "sys-2"],
            "description": "The disk of db-1 is full and writes fail",
            "markup": "<b>*bold*</b> & [link](x) 'q'",
            "createdAt": "2026-01-02T03:04:05Z",
            "epoch": 1_767_323_045,
            "nothing": null,
        }),
        timestamp: chrono::DateTime::parse_from_rfc3339("2026-01-02T03:04:05Z")
            .unwrap()
            .to_utc(),
        delivery_id: "del-7".into(),
        attempt: 2,
        event_id: String::new(),
    }
}

fn subscription() -> Subscription {
    Subscription {
        id: "sub-1".into(),
        name: "Ops hook".into(),
    }
}

fn render_with(limits: &Limits, source: &str) -> Result<String, TemplateError> {
    let (event, subscription) = (event(), subscription());
    Template::compile(FIELD, source, limits)?.render(&TemplateContext::new(&event, &subscription))
}

fn render(source: &str) -> Result<String, TemplateError> {
    render_with(&Limits::default(), source)
}

fn rendered(source: &str) -> String {
    render(source).unwrap_or_else(|err| panic!("{source}: {err}"))
}

fn render_message(result: Result<String, TemplateError>) -> String {
    match result {
        Err(TemplateError::Render { path, message }) => {
            assert_eq!(path, FIELD);
            message
        }
        other => panic!("expected a render error, got {other:?}"),
    }
}

#[test]
fn checkstack_placeholders_render_unchanged() {
    let source = r#"{"incident":"{{payload.incidentId}}","id":"{{deliveryId}}","type":"{{eventType}}","sub":"{{subscriptionName}}","subId":"{{subscriptionId}}","at":"{{timestamp}}","event":"{{eventId}}"}"#;
    assert_eq!(
        rendered(source),
        r#"{"incident":"inc-1","id":"del-7","type":"incident.incident.created","sub":"Ops hook","subId":"sub-1","at":"2026-01-02T03:04:05Z","event":""}"#
    );
}

#[test]
fn every_context_variable_is_there() {
    let (event, subscription) = (event(), subscription());
    let correlation = json!({"externalId": "JIRA-12"});
    let context = TemplateContext::new(&event, &subscription)
        .with_event_id("evt-3")
        .with_correlation(&correlation);
    let source = "{{ event.id }}|{{ event.type }}|{{ event.timestamp }}|{{ event.deliveryId }}|\
                  {{ event.attempt }}|{{ subscription.id }}|{{ subscription.name }}|\
                  {{ correlation.externalId }}|{{ eventId }}";
    let template = Template::compile(FIELD, source, &Limits::default()).unwrap();
    assert_eq!(
        template.render(&context).unwrap(),
        "evt-3|incident.incident.created|2026-01-02T03:04:05Z|del-7|2|sub-1|Ops hook|JIRA-12|evt-3"
    );
}

#[test]
fn a_delivery_s_context_carries_its_event_id_and_correlation() {
    let mut event = event();
    event.event_id = "evt-9".into();
    let ended_at = chrono::DateTime::parse_from_rfc3339("2026-01-02T03:00:00Z")
        .unwrap()
        .to_utc();
    let delivery: DeliveryContext<(), NoConnection> = DeliveryContext {
        event,
        subscription: subscription(),
        config: (),
        connection: NoConnection,
        correlation: Some(Correlation {
            key: "inc-1".into(),
            earlier: vec![CorrelatedDelivery {
                event_type: "incident.incident.created".into(),
                external_id: Some("JIRA-12".into()),
                state: None,
                delivered: true,
                ended_at,
                delivery_id: "del-1".into(),
            }],
        }),
    };
    let source = "{{ event.id }}|{{ eventId }}|{{ correlation.key }}|\
                  {{ correlation.earlier[0].externalId }}|{{ correlation.earlier[0].eventType }}|\
                  {{ correlation.earlier[0].endedAt }}|{{ correlation.earlier[0].state }}";
    let template = Template::compile(FIELD, source, &Limits::default()).unwrap();
    assert_eq!(
        template.render(&TemplateContext::of(&delivery)).unwrap(),
        "evt-9|evt-9|inc-1|JIRA-12|incident.incident.created|2026-01-02T03:00:00Z|"
    );
}

#[test]
fn missing_values_render_empty_unless_required() {
    assert_eq!(
        rendered(
            "[{{ payload.missing }}][{{ payload.missing.deeper }}][{{ correlation.id }}][{{ payload.nothing }}]"
        ),
        "[][][][]"
    );
    assert_eq!(
        rendered("{{ payload.title | required | truncate(4) }}"),
        "Dis…"
    );
    let message = render_message(render("line one\n{{ payload.missing | required }}"));
    assert!(message.contains("a required value is missing"), "{message}");
    assert!(message.contains("line 2"), "{message}");
    let message = render_message(render("{{ payload.nothing | required }}"));
    assert!(message.contains("a required value is missing"), "{message}");
}

#[test]
fn a_render_failure_is_a_permanent_outcome_naming_the_field() {
    let error = render("{{ payload.missing | required }}").unwrap_err();
    assert!(!error.is_config_problem());
    let result = DeliveryResult::from(error);
    let Outcome::Permanent { error } = result.outcome else {
        panic!("expected permanent, got {:?}", result.outcome);
    };
    assert!(
        error.starts_with("the template in /bodyTemplate failed to render"),
        "{error}"
    );
}

#[test]
fn objects_and_lists_render_as_json() {
    assert_eq!(rendered("{{ payload.systemIds }}"), r#"["sys-1","sys-2"]"#);
    assert_eq!(
        rendered("{{ payload.systemIds | tojson }}"),
        r#"["sys-1","sys-2"]"#
    );
    let whole: serde_json::Value = serde_json::from_str(&rendered("{{ payload }}")).unwrap();
    assert_eq!(whole, event().payload);
}

#[test]
fn json_escape_makes_any_text_safe_inside_a_json_string() {
    assert_eq!(
        rendered("{{ payload.title | json_escape }}"),
        r#"Disk \"full\"\non db-1"#
    );
    let body = rendered(
        r#"{"text":"{{ payload.title | json_escape }} {{ payload.markup | json_escape }}"}"#,
    );
    let parsed: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        parsed["text"],
        "Disk \"full\"\non db-1 <b>*bold*</b> & [link](x) 'q'"
    );
    assert_eq!(rendered("{{ payload.epoch | json_escape }}"), "1767323045");
}

#[test]
fn markup_escapes() {
    assert_eq!(
        rendered("{{ payload.markup | mrkdwn_escape }}"),
        "&lt;b&gt;*bold*&lt;/b&gt; &amp; [link](x) 'q'"
    );
    assert_eq!(
        rendered("{{ payload.markup | markdown_escape }}"),
        r"\<b\>\*bold\*\</b\> & \[link\]\(x\) 'q'"
    );
    assert_eq!(
        rendered("{{ payload.markup | html_escape }}"),
        "&lt;b&gt;*bold*&lt;/b&gt; &amp; [link](x) &#39;q&#39;"
    );
    // Nothing is escaped unless a filter says so.
    assert_eq!(
        rendered("{{ payload.markup }}"),
        "<b>*bold*</b> & [link](x) 'q'"
    );
}

#[test]
fn date_formats_timestamps_and_unix_seconds() {
    assert_eq!(
        rendered("{{ payload.createdAt | date }}"),
        "2026-01-02T03:04:05Z"
    );
    assert_eq!(
        rendered(r#"{{ event.timestamp | date("%d %b %Y %H:%M") }}"#),
        "02 Jan 2026 03:04"
    );
    assert_eq!(
        rendered(r#"{{ payload.epoch | date("%Y-%m-%d") }}"#),
        "2026-01-02"
    );
    let message = render_message(render(r#"{{ payload.createdAt | date("%Q") }}"#));
    assert!(message.contains("not a valid strftime format"), "{message}");
    let message = render_message(render("{{ payload.severity | date }}"));
    assert!(message.contains("not an RFC 3339 timestamp"), "{message}");
}

#[test]
fn truncate_cuts_to_a_length_with_a_mark() {
    assert_eq!(rendered("{{ payload.severity | truncate(10) }}"), "major");
    assert_eq!(
        rendered("{{ payload.description | truncate(10) }}"),
        "The disk …"
    );
    assert_eq!(
        rendered(r#"{{ payload.description | truncate(10, end="...") }}"#),
        "The dis..."
    );
    assert_eq!(
        rendered("{{ payload.description | truncate(12) }}")
            .chars()
            .count(),
        12
    );
}

#[test]
fn default_fills_in_missing_values() {
    assert_eq!(rendered(r#"{{ payload.missing | default("n/a") }}"#), "n/a");
    assert_eq!(
        rendered(r#"{{ payload.severity | default("n/a") }}"#),
        "major"
    );
}

#[test]
fn a_template_that_does_not_compile_is_a_config_problem_at_its_path() {
    let error = Template::compile(
        "/fieldMappings/0/template",
        "ok\n{{ payload.title ",
        &Limits::default(),
    )
    .unwrap_err();
    assert!(error.is_config_problem());
    assert_eq!(error.path(), "/fieldMappings/0/template");
    let diagnostic = error.diagnostic();
    assert_eq!(diagnostic.json_path, "/fieldMappings/0/template");
    assert!(
        diagnostic
            .message
            .starts_with("the template does not compile: syntax error"),
        "{}",
        diagnostic.message
    );
    assert!(
        diagnostic.message.contains("line 2"),
        "{}",
        diagnostic.message
    );
    let Outcome::Permanent { error } = DeliveryResult::from(error).outcome else {
        panic!("a config problem is permanent");
    };
    assert!(
        error.starts_with("invalid config: /fieldMappings/0/template: "),
        "{error}"
    );
}

#[test]
fn templates_cannot_reach_other_templates_or_define_macros() {
    for source in [
        r#"{% include "other" %}"#,
        r#"{% extends "base" %}"#,
        r#"{% import "m" as m %}"#,
        "{% macro m() %}x{% endmacro %}",
    ] {
        let error = Template::compile(FIELD, source, &Limits::default()).unwrap_err();
        assert!(
            matches!(error, TemplateError::Compile { .. }),
            "{source}: {error:?}"
        );
    }
}

#[test]
fn a_template_longer_than_the_limit_is_refused() {
    let limits = Limits {
        max_source_bytes: 16,
        ..Limits::default()
    };
    let error = Template::compile(FIELD, "{{ payload.title }} and more", &limits).unwrap_err();
    assert_eq!(
        error,
        TemplateError::TooLong {
            path: FIELD.into(),
            size: 28,
            limit: 16
        }
    );
}

#[test]
fn output_stops_at_the_limit() {
    let limits = Limits {
        max_output_bytes: 100,
        ..Limits::default()
    };
    assert_eq!(
        render_with(&limits, "{% for i in range(25) %}abcd{% endfor %}")
            .unwrap()
            .len(),
        100
    );
    let message = render_message(render_with(
        &limits,
        "{% for i in range(26) %}abcd{% endfor %}",
    ));
    assert!(message.contains("longer than 100 bytes"), "{message}");
}

#[test]
fn loops_run_out_of_fuel() {
    let message = render_message(render(
        "{% for a in range(1000) %}{% for b in range(1000) %}{% endfor %}{% endfor %}",
    ));
    assert!(message.contains("out of fuel"), "{message}");
    let small = Limits {
        fuel: 500,
        ..Limits::default()
    };
    let message = render_message(render_with(
        &small,
        "{% for i in range(1000) %}{% endfor %}",
    ));
    assert!(message.contains("out of fuel"), "{message}");
    assert!(render_with(&small, "{% for i in range(10) %}{% endfor %}").is_ok());
}

#[test]
fn recursion_is_bounded() {
    let mut tree = json!([]);
    for _ in 0..100 {
        tree = json!([{ "children": tree }]);
    }
    let payload = json!({ "tree": tree });
    let event = Event { payload, ..event() };
    let subscription = subscription();
    let context = TemplateContext::new(&event, &subscription);
    let source = "{% for node in payload.tree recursive %}.{{ loop(node.children) }}{% endfor %}";
    let limits = Limits {
        max_depth: 20,
        ..Limits::default()
    };
    let error = Template::compile(FIELD, source, &limits)
        .unwrap()
        .render(&context)
        .unwrap_err();
    let message = render_message(Err(error));
    assert!(message.contains("recursion"), "{message}");
    let shallow = Limits {
        max_depth: 500,
        ..Limits::default()
    };
    let dots = Template::compile(FIELD, source, &shallow)
        .unwrap()
        .render(&context)
        .unwrap();
    assert_eq!(dots, ".".repeat(100));
}

#[test]
fn the_cache_compiles_each_text_once_and_stays_bounded() {
    let cache = TemplateCache::new(Limits::default(), 2);
    let a = cache.get("/a", "{{ payload.missing | required }}").unwrap();
    let b = cache.get("/b", "{{ payload.missing | required }}").unwrap();
    assert_eq!(cache.len(), 1);
    // One compiled text, two fields: each error names its own field.
    let (event, subscription) = (event(), subscription());
    let context = TemplateContext::new(&event, &subscription);
    assert_eq!(a.render(&context).unwrap_err().path(), "/a");
    assert_eq!(b.render(&context).unwrap_err().path(), "/b");

    assert!(cache.get("/c", "{{ oops").is_err());
    assert_eq!(cache.len(), 1, "compile errors are not kept");
    cache.get("/d", "{{ payload.title }}").unwrap();
    cache.get("/e", "{{ payload.severity }}").unwrap();
    assert_eq!(cache.len(), 2);
    assert_eq!(
        cache
            .get("/e", "{{ payload.severity }}")
            .unwrap()
            .render(&context)
            .unwrap(),
        "major"
    );
}

/// A config with the three kinds of template field.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)] // only its schema is used
struct Fields {
    /// The request body.
    #[schemars(schema_with = "template::json_template_schema")]
    body_template: String,
    /// The message.
    #[schemars(schema_with = "template::markdown_template_schema")]
    text: String,
    /// The title.
    #[schemars(schema_with = "template::text_template_schema")]
    title: String,
}

#[test]
fn template_fields_carry_editor_types_from_the_hosts_vocabulary() {
    let schema = switchyard_plugin_sdk::schema::schema_for::<Fields>().to_value();
    let properties = &schema["properties"];
    for (field, editor) in [
        ("bodyTemplate", "json"),
        ("text", "markdown"),
        ("title", "raw"),
    ] {
        assert_eq!(properties[field]["type"], "string", "{field}");
        assert_eq!(
            properties[field]["x-editor-types"],
            json!([editor]),
            "{field}"
        );
    }
    assert_eq!(
        properties["bodyTemplate"]["description"],
        "The request body."
    );
}
