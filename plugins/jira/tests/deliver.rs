//! The Jira provider's deliveries, called in-process against the SDK's `HttpSink` standing in
//! for a Jira Cloud site, every request checked against Jira's official spec: an incident's
//! lifecycle on one issue (create → comment → comment and transition), the retried create
//! that finds the issue a timed-out attempt made, the retried comment that finds its earlier
//! attempt's, transitions by name and id (unknown ones, issues already done), and each of
//! Jira's answers mapped to its outcome.

mod support;

use std::time::Duration;

use serde_json::{Value, json};
use support::{
    CREATED, RESOLVED, TOKEN, UPDATED, comment_added, config, conforming, context, created_earlier,
    issue_created, lines, provider,
};
use switchyard_plugin_sdk::testkit::{HttpSink, ResponseSpec};
use switchyard_plugin_sdk::{Outcome, Provider};

fn transitions() -> ResponseSpec {
    ResponseSpec::status(200).json(&json!({"transitions": [
        {"id": "11", "name": "To Do", "to": {"name": "To Do"}},
        {"id": "31", "name": "Done", "to": {"name": "Done"}}
    ]}))
}

fn delivered_as(result: &switchyard_plugin_sdk::DeliveryResult, key: &str) {
    assert_eq!(
        result.outcome,
        Outcome::Delivered {
            external_id: Some(key.into())
        },
        "{result:?}"
    );
    assert_eq!(
        result.state.as_deref(),
        Some(json!({"issueKey": key}).to_string().as_str())
    );
}

#[tokio::test]
async fn an_incident_is_one_issue_then_a_comment_then_a_comment_and_a_transition() {
    let sink = HttpSink::start().await;
    for response in [
        issue_created("OPS-7"),
        comment_added(),
        comment_added(),
        transitions(),
        ResponseSpec::status(204),
    ] {
        sink.push_response(response);
    }
    let mut c = config();
    c.priority_id = Some("2".into());
    c.labels = vec!["incident".into()];
    c.summary_template = Some("[{{ payload.severity }}]\n{{ payload.title }}".into());
    c.description_template = Some("## Impact\n**{{ payload.title }}** is *down*".into());
    c.resolve_transition = Some("done".into());
    let p = provider();
    delivered_as(
        &p.deliver(context(&sink, c.clone(), CREATED, 1, Vec::new()))
            .await,
        "OPS-7",
    );
    let updated = context(&sink, c.clone(), UPDATED, 1, created_earlier("OPS-7"));
    delivered_as(&p.deliver(updated).await, "OPS-7");
    let resolved = context(&sink, c, RESOLVED, 1, created_earlier("OPS-7"));
    delivered_as(&p.deliver(resolved).await, "OPS-7");

    let requests = conforming(&sink, 5).await;
    assert_eq!(
        lines(&requests),
        [
            "POST /rest/api/3/issue",
            "POST /rest/api/3/issue/OPS-7/comment",
            "POST /rest/api/3/issue/OPS-7/comment",
            "GET /rest/api/3/issue/OPS-7/transitions",
            "POST /rest/api/3/issue/OPS-7/transitions",
        ]
    );
    let fields = &requests[0].json()["fields"];
    assert_eq!(fields["project"], json!({"key": "OPS"}));
    assert_eq!(fields["issuetype"], json!({"id": "10001"}));
    assert_eq!(fields["priority"], json!({"id": "2"}));
    // One line: Jira refuses line breaks in a summary.
    assert_eq!(fields["summary"], "[critical] Checkout API down");
    assert_eq!(
        fields["labels"],
        json!(["incident", "switchyard-dlv_created"])
    );
    assert_eq!(
        fields["description"],
        json!({"type": "doc", "version": 1, "content": [
            {"type": "heading", "attrs": {"level": 2}, "content": [{"type": "text", "text": "Impact"}]},
            {"type": "paragraph", "content": [
                {"type": "text", "text": "Checkout API down", "marks": [{"type": "strong"}]},
                {"type": "text", "text": " is "},
                {"type": "text", "text": "down", "marks": [{"type": "em"}]}
            ]}
        ]})
    );
    let comment = requests[1].json();
    assert_eq!(comment["body"]["type"], "doc");
    let said = comment["body"].to_string();
    assert!(
        said.contains(UPDATED) && said.contains("Checkout API down (identified)"),
        "{said}"
    );
    assert_eq!(requests[4].json(), json!({"transition": {"id": "31"}}));
}

#[tokio::test]
async fn a_retried_create_finds_the_issue_the_timed_out_attempt_made() {
    let sink = HttpSink::start().await;
    // Jira creates the issue but answers after the plugin stopped waiting.
    sink.push_response(issue_created("OPS-9").delay(Duration::from_secs(60)));
    sink.push_response(ResponseSpec::status(200).json(&json!({
        "issues": [{"id": "10009", "key": "OPS-9"}], "isLast": true
    })));
    let mut c = config();
    c.timeout_ms = 1_000;
    let p = provider();
    let first = p
        .deliver(context(&sink, c.clone(), CREATED, 1, Vec::new()))
        .await;
    assert!(
        matches!(first.outcome, Outcome::Retryable { .. }),
        "{first:?}"
    );
    let retry = p.deliver(context(&sink, c, CREATED, 2, Vec::new())).await;
    delivered_as(&retry, "OPS-9");

    let requests = conforming(&sink, 2).await;
    assert_eq!(
        lines(&requests),
        ["POST /rest/api/3/issue", "POST /rest/api/3/search/jql"]
    );
    let label = requests[0].json()["fields"]["labels"][0].clone();
    assert_eq!(label, "switchyard-dlv_created");
    let search = requests[1].json();
    assert_eq!(
        search["jql"],
        "project = \"OPS\" AND labels = \"switchyard-dlv_created\" ORDER BY created ASC"
    );
}

#[tokio::test]
async fn a_retried_create_creates_when_no_earlier_attempt_did() {
    let sink = HttpSink::start().await;
    sink.push_response(ResponseSpec::status(200).json(&json!({"issues": [], "isLast": true})));
    sink.push_response(issue_created("OPS-10"));
    let result = provider()
        .deliver(context(&sink, config(), CREATED, 3, Vec::new()))
        .await;
    delivered_as(&result, "OPS-10");
    let requests = conforming(&sink, 2).await;
    assert_eq!(
        lines(&requests),
        ["POST /rest/api/3/search/jql", "POST /rest/api/3/issue"]
    );
}

#[tokio::test]
async fn an_update_without_a_known_issue_creates_one() {
    let sink = HttpSink::start().await;
    sink.push_response(issue_created("OPS-11"));
    let result = provider()
        .deliver(context(&sink, config(), UPDATED, 1, Vec::new()))
        .await;
    delivered_as(&result, "OPS-11");
    assert_eq!(
        lines(&conforming(&sink, 1).await),
        ["POST /rest/api/3/issue"]
    );
}

#[tokio::test]
async fn transitions_are_chosen_by_id_and_unknown_ones_are_permanent() {
    let sink = HttpSink::start().await;
    let mut c = config();
    c.resolve_transition = Some("31".into());
    for response in [comment_added(), transitions(), ResponseSpec::status(204)] {
        sink.push_response(response);
    }
    let p = provider();
    let by_id = context(&sink, c.clone(), RESOLVED, 1, created_earlier("OPS-7"));
    delivered_as(&p.deliver(by_id).await, "OPS-7");

    c.resolve_transition = Some("Close issue".into());
    let open = json!({"fields": {"status": {"name": "In Progress",
        "statusCategory": {"key": "indeterminate"}}}});
    for response in [
        comment_added(),
        transitions(),
        ResponseSpec::status(200).json(&open),
    ] {
        sink.push_response(response);
    }
    let unknown = p
        .deliver(context(&sink, c, RESOLVED, 1, created_earlier("OPS-7")))
        .await;
    let Outcome::Permanent { error } = &unknown.outcome else {
        panic!("{unknown:?}");
    };
    assert!(error.contains("/resolveTransition"), "{error}");
    assert!(error.contains("\"Close issue\""), "{error}");
    assert!(error.contains("To Do (id 11), Done (id 31)"), "{error}");

    let requests = conforming(&sink, 6).await;
    assert_eq!(requests[2].json(), json!({"transition": {"id": "31"}}));
    assert_eq!(requests[5].path, "/rest/api/3/issue/OPS-7");
    assert_eq!(requests[5].query.as_deref(), Some("fields=status"));
}

#[tokio::test]
async fn an_issue_already_done_is_not_transitioned_again() {
    let sink = HttpSink::start().await;
    let done = json!({"fields": {"status": {"name": "Done", "statusCategory": {"key": "done"}}}});
    for response in [
        comment_added(),
        ResponseSpec::status(200).json(&json!({"transitions": [{"id": "11", "name": "Reopen"}]})),
        ResponseSpec::status(200).json(&done),
    ] {
        sink.push_response(response);
    }
    let mut c = config();
    c.resolve_transition = Some("Done".into());
    let result = provider()
        .deliver(context(&sink, c, RESOLVED, 1, created_earlier("OPS-7")))
        .await;
    delivered_as(&result, "OPS-7");
    let requests = conforming(&sink, 3).await;
    assert!(
        lines(&requests)
            .iter()
            .all(|l| l != "POST /rest/api/3/issue/OPS-7/transitions")
    );
}

fn outcome_of(status: u16, body: Value, retry_after: Option<&str>) -> ResponseSpec {
    let mut spec = ResponseSpec::status(status).json(&body);
    if let Some(after) = retry_after {
        spec = spec.header("retry-after", after);
    }
    spec
}

#[tokio::test]
async fn jiras_answers_map_to_outcomes() {
    let sink = HttpSink::start().await;
    let invalid = json!({"errorMessages": [], "errors": {
        "customfield_10010": "Field 'customfield_10010' cannot be set.",
        "summary": "You must specify a summary of the issue."
    }});
    for response in [
        outcome_of(400, invalid, None),
        outcome_of(401, json!({"errorMessages": ["Unauthorized"]}), None),
        outcome_of(403, json!({}), None),
        outcome_of(429, json!({}), Some("7")),
        outcome_of(503, json!({}), None),
        outcome_of(
            500,
            json!({"errorMessages": ["Internal server error"]}),
            None,
        ),
    ] {
        sink.push_response(response);
    }
    let p = provider();
    let mut outcomes = Vec::new();
    for _ in 0..6 {
        outcomes.push(
            p.deliver(context(&sink, config(), CREATED, 1, Vec::new()))
                .await
                .outcome,
        );
    }
    let permanent = |o: &Outcome, needle: &str| matches!(o, Outcome::Permanent { error } if error.contains(needle));
    assert!(
        permanent(
            &outcomes[0],
            "summary: You must specify a summary of the issue."
        ) && permanent(
            &outcomes[0],
            "customfield_10010: Field 'customfield_10010' cannot be set."
        ),
        "{:?}",
        outcomes[0]
    );
    assert!(
        permanent(&outcomes[1], "check the connection's email and API token"),
        "{:?}",
        outcomes[1]
    );
    assert!(permanent(&outcomes[1], "Unauthorized"), "{:?}", outcomes[1]);
    assert!(permanent(&outcomes[2], "HTTP 403"), "{:?}", outcomes[2]);
    assert!(
        matches!(outcomes[3], Outcome::RateLimited { retry_after, .. } if retry_after == Duration::from_secs(7)),
        "{:?}",
        outcomes[3]
    );
    assert!(
        matches!(outcomes[4], Outcome::RateLimited { .. }),
        "{:?}",
        outcomes[4]
    );
    assert!(
        matches!(outcomes[5], Outcome::Retryable { .. }),
        "{:?}",
        outcomes[5]
    );
    for o in &outcomes {
        assert!(!format!("{o:?}").contains(TOKEN));
    }
    conforming(&sink, 6).await;
}

#[tokio::test]
async fn a_comment_on_a_deleted_issue_is_permanent_with_jiras_message() {
    let sink = HttpSink::start().await;
    sink.push_response(outcome_of(
        404,
        json!({"errorMessages": ["Issue does not exist or you do not have permission to see it."], "errors": {}}),
        None,
    ));
    let result = provider()
        .deliver(context(
            &sink,
            config(),
            UPDATED,
            1,
            created_earlier("OPS-7"),
        ))
        .await;
    assert!(
        matches!(&result.outcome, Outcome::Permanent { error } if error.contains("Issue does not exist")),
        "{result:?}"
    );
    conforming(&sink, 1).await;
}

fn newest_comments(ids: &[&str]) -> ResponseSpec {
    let comments: Vec<Value> = ids.iter().map(|id| json!({"id": id})).collect();
    ResponseSpec::status(200)
        .json(&json!({"startAt": 0, "maxResults": 20, "total": ids.len(), "comments": comments}))
}

fn comments_by_id(delivery_ids: &[(&str, &str)]) -> ResponseSpec {
    let values: Vec<Value> = delivery_ids
        .iter()
        .map(|(id, delivery)| {
            json!({"id": id, "properties": [
                {"key": "switchyard", "value": {"deliveryId": delivery}}
            ]})
        })
        .collect();
    ResponseSpec::status(200).json(&json!({"isLast": true, "values": values}))
}

#[tokio::test]
async fn a_resolution_retried_after_its_transition_failed_does_not_comment_twice() {
    let sink = HttpSink::start().await;
    for response in [
        comment_added(),
        ResponseSpec::status(503).header("retry-after", "1"),
        newest_comments(&["10100", "10099"]),
        comments_by_id(&[("10100", "dlv_resolved"), ("10099", "dlv_updated")]),
        transitions(),
        ResponseSpec::status(204),
    ] {
        sink.push_response(response);
    }
    let mut c = config();
    c.resolve_transition = Some("Done".into());
    let p = provider();
    let first = p
        .deliver(context(
            &sink,
            c.clone(),
            RESOLVED,
            1,
            created_earlier("OPS-7"),
        ))
        .await;
    assert!(
        matches!(first.outcome, Outcome::RateLimited { .. }),
        "{first:?}"
    );
    let retry = p
        .deliver(context(&sink, c, RESOLVED, 2, created_earlier("OPS-7")))
        .await;
    delivered_as(&retry, "OPS-7");
    let requests = conforming(&sink, 6).await;
    assert_eq!(
        lines(&requests),
        [
            "POST /rest/api/3/issue/OPS-7/comment",
            "GET /rest/api/3/issue/OPS-7/transitions",
            "GET /rest/api/3/issue/OPS-7/comment",
            "POST /rest/api/3/comment/list",
            "GET /rest/api/3/issue/OPS-7/transitions",
            "POST /rest/api/3/issue/OPS-7/transitions",
        ]
    );
    assert_eq!(
        requests[0].json()["properties"],
        json!([{"key": "switchyard", "value": {"deliveryId": "dlv_resolved"}}])
    );
    assert_eq!(
        requests[2].query.as_deref(),
        Some("orderBy=-created&maxResults=20")
    );
    assert_eq!(requests[3].query.as_deref(), Some("expand=properties"));
    assert_eq!(requests[3].json(), json!({"ids": [10100, 10099]}));
}

#[tokio::test]
async fn a_retried_update_comments_when_no_earlier_attempt_did() {
    let sink = HttpSink::start().await;
    for response in [
        newest_comments(&["10099"]),
        comments_by_id(&[("10099", "dlv_someone_else")]),
        comment_added(),
    ] {
        sink.push_response(response);
    }
    let result = provider()
        .deliver(context(
            &sink,
            config(),
            UPDATED,
            2,
            created_earlier("OPS-7"),
        ))
        .await;
    delivered_as(&result, "OPS-7");
    let requests = conforming(&sink, 3).await;
    assert_eq!(lines(&requests)[2], "POST /rest/api/3/issue/OPS-7/comment");
}

#[tokio::test]
async fn a_comment_template_is_markdown_and_one_rendering_nothing_gets_the_default() {
    let sink = HttpSink::start().await;
    sink.push_response(comment_added());
    sink.push_response(comment_added());
    let mut c = config();
    c.comment_template = Some("Now **{{ payload.status }}**".into());
    let p = provider();
    let said = context(&sink, c.clone(), UPDATED, 1, created_earlier("OPS-7"));
    assert!(p.deliver(said).await.is_delivered());
    c.comment_template = Some("{{ payload.missing }}".into());
    let empty = context(&sink, c, UPDATED, 1, created_earlier("OPS-7"));
    assert!(p.deliver(empty).await.is_delivered());
    let requests = conforming(&sink, 2).await;
    assert_eq!(
        requests[0].json()["body"]["content"][0]["content"][1],
        json!({"type": "text", "text": "identified", "marks": [{"type": "strong"}]})
    );
    let fallback = requests[1].json()["body"].to_string();
    assert!(
        fallback.contains("Checkout API down (identified)"),
        "{fallback}"
    );
}
