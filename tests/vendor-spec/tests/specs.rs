//! The checker against the real vendor specs: requests as the vendors document them pass, and
//! each kind of mistake a plugin could make is reported with what is wrong.

use switchyard_plugin_sdk::testkit::RecordedRequest;
use switchyard_vendor_spec::{Dialect, Spec};

fn request(method: &str, target: &str, headers: &[(&str, &str)], body: &str) -> RecordedRequest {
    let (path, query) = match target.split_once('?') {
        Some((p, q)) => (p.to_owned(), Some(q.to_owned())),
        None => (target.to_owned(), None),
    };
    RecordedRequest {
        method: method.into(),
        path,
        query,
        headers: headers
            .iter()
            .map(|(k, v)| (k.to_ascii_lowercase(), (*v).to_owned()))
            .collect(),
        body: body.as_bytes().to_vec(),
    }
}

const JSON: (&str, &str) = ("content-type", "application/json; charset=utf-8");
const BEARER: (&str, &str) = ("authorization", "Bearer xoxb-1");

fn violations(spec: &Spec, r: &RecordedRequest) -> String {
    spec.check(r).expect_err("expected violations").join("\n")
}

#[test]
fn slack_post_message_as_json_with_bearer_conforms() {
    let spec = Spec::vendor("slack");
    assert_eq!(spec.dialect(), Dialect::Swagger2);
    let body = r#"{"channel":"C1","text":"hi","blocks":[{"type":"section"}],"thread_ts":"1.2","mrkdwn":true}"#;
    let r = request("POST", "/api/chat.postMessage", &[JSON, BEARER], body);
    assert_eq!(spec.assert_conforms(&r), "chat_postMessage");
}

#[test]
fn slack_reports_missing_required_field_unknown_field_and_missing_token() {
    let spec = Spec::vendor("slack");
    let r = request(
        "POST",
        "/api/chat.postMessage",
        &[JSON, BEARER],
        r#"{"text":"hi","thread_tss":"1"}"#,
    );
    let v = violations(spec, &r);
    assert!(
        v.contains("required body field `channel` is missing"),
        "{v}"
    );
    assert!(
        v.contains("body field `thread_tss` is not a parameter"),
        "{v}"
    );
    let r = request(
        "POST",
        "/api/chat.postMessage",
        &[JSON],
        r#"{"channel":"C1"}"#,
    );
    let v = violations(spec, &r);
    assert!(v.contains("required header `token` is missing"), "{v}");
    assert!(v.contains("no credentials"), "{v}");
}

#[test]
fn slack_form_body_and_query_parameters_are_typed() {
    let spec = Spec::vendor("slack");
    let form = ("content-type", "application/x-www-form-urlencoded");
    let r = request(
        "POST",
        "/api/chat.postMessage",
        &[form, BEARER],
        "channel=C1&text=a+b&mrkdwn=false",
    );
    spec.assert_conforms(&r);
    let r = request(
        "POST",
        "/api/chat.postMessage",
        &[form, BEARER],
        "channel=C1&mrkdwn=maybe",
    );
    assert!(violations(spec, &r).contains("mrkdwn"));
    let r = request(
        "GET",
        "/api/conversations.list?limit=200&cursor=abc&types=public_channel",
        &[BEARER],
        "",
    );
    assert_eq!(spec.assert_conforms(&r), "conversations_list");
    let r = request(
        "GET",
        "/api/conversations.list?limit=lots&page_size=3",
        &[BEARER],
        "",
    );
    let v = violations(spec, &r);
    assert!(v.contains("query parameter `limit`"), "{v}");
    assert!(
        v.contains("query parameter `page_size` is not in the spec"),
        "{v}"
    );
}

#[test]
fn unknown_paths_and_methods_are_named() {
    let spec = Spec::vendor("slack");
    let v = violations(
        spec,
        &request("POST", "/api/chat.postMesage", &[JSON, BEARER], "{}"),
    );
    assert!(v.contains("no operation of the spec has this path"), "{v}");
    let v = violations(
        spec,
        &request("DELETE", "/api/chat.postMessage", &[BEARER], ""),
    );
    assert!(v.contains("only for [\"POST\"]"), "{v}");
}

#[test]
fn pagerduty_events_are_validated_against_the_schema() {
    let spec = Spec::vendor("pagerduty");
    let ok = r#"{"routing_key":"R","event_action":"trigger","dedup_key":"inc-1",
        "payload":{"summary":"Down","source":"checkstack","severity":"critical"}}"#;
    assert_eq!(
        spec.assert_conforms(&request("POST", "/v2/enqueue", &[JSON], ok)),
        "createV2Event"
    );
    let bad = r#"{"routing_key":"R","event_action":"explode","payload":{"summary":"Down","source":"x","severity":"fatal"}}"#;
    let v = violations(spec, &request("POST", "/v2/enqueue", &[JSON], bad));
    assert!(v.contains("body/event_action"), "{v}");
    assert!(v.contains("body/payload/severity"), "{v}");
    let v = violations(spec, &request("POST", "/v2/enqueue", &[JSON], ""));
    assert!(v.contains("requires a body"), "{v}");
    let v = violations(
        spec,
        &request(
            "POST",
            "/v2/enqueue",
            &[("content-type", "text/plain")],
            "x",
        ),
    );
    assert!(v.contains("content type \"text/plain\""), "{v}");
}

#[test]
fn jira_path_parameters_refs_and_basic_auth() {
    let spec = Spec::vendor("jira");
    let basic = ("authorization", "Basic dTpw");
    let issue =
        r#"{"fields":{"project":{"key":"OPS"},"summary":"Down","issuetype":{"id":"10001"}}}"#;
    let r = request("POST", "/rest/api/3/issue", &[JSON, basic], issue);
    spec.assert_conforms(&r);
    let r = request(
        "GET",
        "/rest/api/3/project/search?startAt=50&maxResults=50",
        &[basic],
        "",
    );
    spec.assert_conforms(&r);
    let r = request(
        "POST",
        "/rest/api/3/issue/OPS-1/transitions",
        &[JSON, basic],
        r#"{"transition":{"id":"31"}}"#,
    );
    spec.assert_conforms(&r);
    let r = request("GET", "/rest/api/3/myself", &[], "");
    assert!(violations(spec, &r).contains("no credentials"));
    let r = request(
        "POST",
        "/rest/api/3/issue",
        &[JSON, basic],
        r#"{"fields":"summary"}"#,
    );
    assert!(violations(spec, &r).contains("body/fields"));
}

#[test]
fn discord_openapi_31_execute_webhook() {
    let spec = Spec::vendor("discord");
    assert_eq!(spec.dialect(), Dialect::OpenApi31);
    let body = r#"{"content":"hi","embeds":[{"title":"Down","color":15158332}]}"#;
    let r = request(
        "POST",
        "/api/v10/webhooks/123/tok-en?wait=true",
        &[JSON],
        body,
    );
    assert_eq!(spec.assert_conforms(&r), "execute_webhook");
    let r = request(
        "POST",
        "/api/v10/webhooks/123/tok-en?wait=perhaps",
        &[JSON],
        body,
    );
    assert!(violations(spec, &r).contains("query parameter `wait`"));
}

#[test]
fn graph_yaml_spec_and_webex_base_path() {
    let spec = Spec::vendor("msgraph");
    let bearer = ("authorization", "Bearer eyJ");
    let body = r#"{"body":{"contentType":"html","content":"<b>Down</b>"}}"#;
    let r = request(
        "POST",
        "/v1.0/teams/t-1/channels/19:abc@thread.tacv2/messages",
        &[JSON, bearer],
        body,
    );
    spec.assert_conforms(&r);
    let r = request(
        "POST",
        "/v1.0/teams/t-1/channels/c/messages/m-1/replies",
        &[JSON, bearer],
        body,
    );
    spec.assert_conforms(&r);
    // A card attachment and a summary (an array and a string of the derived chatMessage type)
    // pass; a misspelt string field does not.
    let card = r#"{"body":{"contentType":"html","content":"<attachment id=\"a1\"></attachment>"},
        "summary":"Down","attachments":[{"id":"a1","contentType":"application/vnd.microsoft.card.adaptive",
        "content":"{\"type\":\"AdaptiveCard\"}"}]}"#;
    let r = request(
        "POST",
        "/v1.0/teams/t-1/channels/c/messages",
        &[JSON, bearer],
        card,
    );
    spec.assert_conforms(&r);
    let r = request(
        "POST",
        "/v1.0/teams/t-1/channels/c/messages",
        &[JSON, bearer],
        r#"{"body":{"content":"x"},"sumary":"Down"}"#,
    );
    assert!(violations(spec, &r).contains("body/sumary"));
    let webex = Spec::vendor("webex");
    let r = request(
        "POST",
        "/v1/messages",
        &[JSON, bearer],
        r#"{"roomId":"R","markdown":"**Down**","parentId":"M"}"#,
    );
    spec_ok(webex, &r);
    let r = request("POST", "/v1/messages", &[JSON, bearer], r#"{"roomId":7}"#);
    assert!(violations(webex, &r).contains("body/roomId"));
}

fn spec_ok(spec: &Spec, r: &RecordedRequest) {
    spec.assert_conforms(r);
}

#[test]
fn opsgenie_genie_key_header() {
    let spec = Spec::vendor("opsgenie");
    let key = ("authorization", "GenieKey abc");
    let r = request(
        "POST",
        "/v2/alerts",
        &[JSON, key],
        r#"{"message":"Down","alias":"inc-1","priority":"P1"}"#,
    );
    spec.assert_conforms(&r);
    let r = request("POST", "/v2/alerts", &[JSON], r#"{"message":"Down"}"#);
    assert!(violations(spec, &r).contains("no credentials"));
    let r = request(
        "POST",
        "/v2/alerts",
        &[JSON, key],
        r#"{"alias":"inc-1","priority":"P9"}"#,
    );
    let v = violations(spec, &r);
    assert!(v.contains("message") && v.contains("priority"), "{v}");
}
