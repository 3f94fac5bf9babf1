//! Bad input anywhere in the platform API is answered with the fitting status code and a
//! message that says what to fix (schema violations with their JSON path), and nothing partial
//! is stored. Also: the catalogue calls, TestConnection on a provider without the capability,
//! and GetConnectionOptions with an unknown resolver.

use serde_json::json;
use switchyard_e2e::assert_status;
use switchyard_e2e::coordinator::{Coordinator, INCIDENT, register_incident, webhook_subscription};
use switchyard_proto::coordinator::v1 as api;
use tonic::Code;

#[tokio::test]
async fn providers_and_event_types_describe_themselves() {
    let coord = Coordinator::start_default().await;
    let mut c = coord.clients().await;
    let providers = c
        .providers
        .list_providers(api::ListProvidersRequest {})
        .await
        .unwrap()
        .into_inner()
        .providers;
    let webhook = providers
        .iter()
        .find(|p| p.id == "webhook.webhook")
        .expect("the webhook provider");
    assert_eq!(webhook.plugin_id, "webhook");
    assert!(webhook.running);
    assert!(
        webhook
            .config_schema
            .as_ref()
            .is_some_and(|s| s.json_schema.contains("x-secret"))
    );
    assert_status(
        c.providers
            .get_provider(api::GetProviderRequest {
                id: "nope.nope".into(),
            })
            .await,
        Code::NotFound,
        "webhook.webhook",
    );

    register_incident(&mut c).await;
    let t = c
        .event_types
        .get_event_type(api::GetEventTypeRequest {
            id: INCIDENT.into(),
        })
        .await
        .unwrap()
        .into_inner();
    let paths = t.event_type.unwrap().payload_paths;
    assert!(
        paths.contains(&"payload.incidentId".to_owned()),
        "{paths:?}"
    );
    assert!(paths.contains(&"payload.systemIds".to_owned()), "{paths:?}");

    let bad_schema = api::EventType {
        id: "incident.incident.updated".into(),
        display_name: "x".into(),
        payload_schema_json: json!({"type": "objekt"}).to_string(),
        ..Default::default()
    };
    let r = c
        .event_types
        .register_event_type(api::RegisterEventTypeRequest {
            event_type: Some(bad_schema),
        })
        .await;
    assert_status(r, Code::InvalidArgument, "/type");
    let list = c
        .event_types
        .list_event_types(api::ListEventTypesRequest::default())
        .await
        .unwrap()
        .into_inner();
    // Besides the coordinator's own operational event types, registered at start.
    let platform = list
        .event_types
        .iter()
        .filter(|t| !t.id.starts_with("switchyard."));
    assert_eq!(
        platform.count(),
        1,
        "the invalid registration stored nothing"
    );
}

/// A change that makes a valid subscription invalid.
type Edit = Box<dyn FnOnce(&mut api::Subscription)>;

/// Creates a webhook subscription changed by `edit`; returns the call's result.
async fn create_edited(
    c: &mut switchyard::cli::client::Clients,
    edit: impl FnOnce(&mut api::Subscription),
) -> Result<tonic::Response<api::CreateSubscriptionResponse>, tonic::Status> {
    let mut sub = webhook_subscription("m", "http://127.0.0.1:9");
    edit(&mut sub);
    let req = api::CreateSubscriptionRequest {
        subscription: Some(sub),
    };
    c.subscriptions.create_subscription(req).await
}

#[tokio::test]
async fn subscription_mistakes_are_named_and_nothing_is_stored() {
    let coord = Coordinator::start_default().await;
    let mut c = coord.clients().await;
    register_incident(&mut c).await;
    let cases: Vec<(Edit, Code, &str)> = vec![
        (
            Box::new(|s| s.config_json = "{\"url\": ".into()),
            Code::InvalidArgument,
            "not valid JSON",
        ),
        (
            Box::new(|s| s.config_json = json!({"method": "POST"}).to_string()),
            Code::InvalidArgument,
            "url",
        ),
        (
            Box::new(|s| {
                s.config_json =
                    json!({"url": "http://127.0.0.1:9", "timeoutMs": "soon"}).to_string()
            }),
            Code::InvalidArgument,
            "/timeoutMs",
        ),
        (
            Box::new(|s| s.provider_id = "slack.slack".into()),
            Code::NotFound,
            "slack.slack",
        ),
        (
            Box::new(|s| s.event_types = vec!["incident.incident.exploded".into()]),
            Code::NotFound,
            "incident.incident.exploded",
        ),
        (
            Box::new(|s| s.event_types = vec!["incid*".into()]),
            Code::InvalidArgument,
            "incid*",
        ),
        (
            Box::new(|s| s.name = String::new()),
            Code::InvalidArgument,
            "name",
        ),
        (
            Box::new(|s| {
                s.retry_policy = Some(api::RetryPolicy {
                    retry_delays: vec!["soonish".into()],
                    jitter: None,
                })
            }),
            Code::InvalidArgument,
            "retry_delays",
        ),
    ];
    for (edit, code, needle) in cases {
        assert_status(create_edited(&mut c, edit).await, code, needle);
    }

    let all = api::ListSubscriptionsRequest::default();
    let page = c
        .subscriptions
        .list_subscriptions(all)
        .await
        .unwrap()
        .into_inner();
    assert_eq!(page.total, 0, "nothing partial stored");
    let unknown = api::GetSubscriptionRequest {
        id: "0190a0a0-0000-7000-8000-000000000000".into(),
    };
    assert_status(
        c.subscriptions.get_subscription(unknown).await,
        Code::NotFound,
        "does not exist",
    );
    let garbage = api::GetSubscriptionRequest { id: "nope".into() };
    assert_status(
        c.subscriptions.get_subscription(garbage).await,
        Code::InvalidArgument,
        "id",
    );
}

#[tokio::test]
async fn publish_mistakes_are_named_and_nothing_is_stored() {
    let coord = Coordinator::start(switchyard_e2e::coordinator::CoordinatorOptions {
        max_payload_bytes: 1024,
        ..Default::default()
    })
    .await;
    let mut c = coord.clients().await;
    register_incident(&mut c).await;
    c.subscriptions
        .create_subscription(api::CreateSubscriptionRequest {
            subscription: Some(webhook_subscription("s", "http://127.0.0.1:9")),
        })
        .await
        .unwrap();
    let publish = |event_type: &str, payload: String| api::PublishEventRequest {
        event_type: event_type.into(),
        payload_json: payload,
        idempotency_key: String::new(),
        timestamp: None,
    };
    let ok = json!({"incidentId": "i", "title": "t"}).to_string();
    assert_status(
        c.events
            .publish_event(publish("incident.nope.created", ok))
            .await,
        Code::NotFound,
        "RegisterEventType",
    );
    assert_status(
        c.events
            .publish_event(publish(INCIDENT, "{oops".into()))
            .await,
        Code::InvalidArgument,
        "payload_json",
    );
    let missing = json!({"incidentId": "i"}).to_string();
    assert_status(
        c.events.publish_event(publish(INCIDENT, missing)).await,
        Code::InvalidArgument,
        "title",
    );
    let wrong = json!({"incidentId": "i", "title": "t", "severity": "apocalyptic"}).to_string();
    assert_status(
        c.events.publish_event(publish(INCIDENT, wrong)).await,
        Code::InvalidArgument,
        "/severity",
    );
    let big = json!({"incidentId": "i", "title": "x".repeat(2000)}).to_string();
    assert_status(
        c.events.publish_event(publish(INCIDENT, big)).await,
        Code::InvalidArgument,
        "limit",
    );
    let total = c
        .deliveries
        .list_deliveries(api::ListDeliveriesRequest::default())
        .await
        .unwrap()
        .into_inner()
        .total;
    assert_eq!(total, 0, "no rejected event created deliveries");
}

#[tokio::test]
async fn plugin_calls_check_capabilities_connections_and_resolvers() {
    let coord = Coordinator::start_default().await;
    let mut c = coord.clients().await;
    let test = api::TestConnectionRequest {
        provider_id: "webhook.webhook".into(),
        kind: api::ConfigKind::Provider.into(),
        config_json: json!({"url": "http://127.0.0.1:9"}).to_string(),
        connection_id: String::new(),
    };
    assert_status(
        c.connections.test_connection(test).await,
        Code::FailedPrecondition,
        "not supported",
    );

    let conn = api::CreateConnectionRequest {
        provider_id: "webhook.webhook".into(),
        name: "n".into(),
        config_json: "{}".into(),
    };
    assert_status(
        c.connections.create_connection(conn).await,
        Code::FailedPrecondition,
        "uses no connections",
    );
    let conn = api::CreateConnectionRequest {
        provider_id: "jira.jira".into(),
        name: "n".into(),
        config_json: "{}".into(),
    };
    assert_status(
        c.connections.create_connection(conn).await,
        Code::NotFound,
        "jira.jira",
    );
    assert_status(
        c.connections
            .get_connection(api::GetConnectionRequest {
                id: "0190a0a0-0000-7000-8000-000000000000".into(),
            })
            .await,
        Code::NotFound,
        "does not exist",
    );
    let options = api::GetConnectionOptionsRequest {
        provider_id: "webhook.webhook".into(),
        connection_id: String::new(),
        resolver_name: "projectOptions".into(),
        context_json: String::new(),
    };
    assert_status(
        c.connections.get_connection_options(options).await,
        Code::NotFound,
        "projectOptions",
    );
}
