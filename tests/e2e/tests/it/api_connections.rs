//! Connections end to end, through the real `switchyard serve` and the fixture plugin's `linked`
//! provider (whose connection holds a top-level, a nested and an array-item secret): create, get,
//! list, update, delete and test; configs checked against the connection schema; secrets
//! redacted in every response, absent from the coordinator's stderr and from every raw file of
//! the data dir, kept on update when sent back as the marker or left out; the plugin sees them
//! decrypted (checked at a local `HttpSink` standing in for the connection's server); and a
//! connection still used by a subscription cannot be deleted.

use std::time::Duration;

use serde_json::{Value, json};
use switchyard::cli::client::Clients;
use switchyard_e2e::coordinator::{
    Coordinator, assert_not_in_data_dir, create_subscription, publish, register_incident,
    wait_final, with_fixture_args,
};
use switchyard_plugin_sdk::testkit::{HttpSink, RecordedRequest};
use switchyard_proto::coordinator::v1 as api;
use tonic::Code;

const LINKED: &str = "fixture.linked";
const MARKER: &str = "[REDACTED]";
const TOKEN: &str = "tok-TOP-PLAINTEXT-9a41c2e7";
const EXTRA: &str = "tok-NESTED-PLAINTEXT-3b7d";
const LISTED: &str = "tok-ARRAY-PLAINTEXT-c0ffee";
const NEW_TOKEN: &str = "tok-ROTATED-PLAINTEXT-77d1";
const SECRETS: [&str; 4] = [TOKEN, EXTRA, LISTED, NEW_TOKEN];
const WAIT: Duration = Duration::from_secs(30);

fn assert_hidden(what: &str, text: &str) {
    for secret in SECRETS {
        assert!(!text.contains(secret), "a secret leaked in {what}: {text}");
    }
}

/// A full connection config pointing at `base`.
fn connection_config(base: &str) -> Value {
    json!({
        "baseUrl": base,
        "apiToken": TOKEN,
        "nested": {"region": "eu", "extraSecret": EXTRA},
        "tokens": [{"name": "backup", "value": LISTED}],
    })
}

async fn create_connection(
    c: &mut Clients,
    config: &Value,
) -> Result<api::Connection, tonic::Status> {
    let req = api::CreateConnectionRequest {
        provider_id: LINKED.into(),
        name: "Linked (ops)".into(),
        config_json: config.to_string(),
    };
    let conn = c.connections.create_connection(req).await?.into_inner();
    assert_hidden("CreateConnection", &format!("{conn:?}"));
    Ok(conn.connection.expect("a connection in the response"))
}

async fn update_connection(
    c: &mut Clients,
    id: &str,
    config: &Value,
) -> Result<api::Connection, tonic::Status> {
    let req = api::UpdateConnectionRequest {
        id: id.into(),
        name: String::new(),
        config_json: config.to_string(),
    };
    let conn = c.connections.update_connection(req).await?.into_inner();
    assert_hidden("UpdateConnection", &format!("{conn:?}"));
    Ok(conn.connection.expect("a connection in the response"))
}

async fn get_connection(c: &mut Clients, id: &str) -> Result<api::Connection, tonic::Status> {
    let req = api::GetConnectionRequest { id: id.into() };
    let conn = c.connections.get_connection(req).await?.into_inner();
    assert_hidden("GetConnection", &format!("{conn:?}"));
    Ok(conn.connection.expect("a connection in the response"))
}

async fn list_connections(c: &mut Clients, provider: &str) -> Vec<api::Connection> {
    let req = api::ListConnectionsRequest {
        provider_id: provider.into(),
    };
    let list = c
        .connections
        .list_connections(req)
        .await
        .expect("list connections")
        .into_inner();
    assert_hidden("ListConnections", &format!("{list:?}"));
    list.connections
}

/// Tests the saved connection `id`; returns the verdict and the `/check` request the plugin made.
async fn test_saved(
    c: &mut Clients,
    sink: &HttpSink,
    id: &str,
) -> (api::TestConnectionResponse, RecordedRequest) {
    let before = sink.request_count();
    let req = api::TestConnectionRequest {
        provider_id: LINKED.into(),
        kind: api::ConfigKind::Connection.into(),
        config_json: String::new(),
        connection_id: id.into(),
    };
    let verdict = c
        .connections
        .test_connection(req)
        .await
        .expect("test the connection")
        .into_inner();
    assert_hidden("TestConnection", &format!("{verdict:?}"));
    let requests = sink.wait_for_requests(before + 1, WAIT).await;
    let check = requests.last().cloned().expect("the plugin called /check");
    (verdict, check)
}

/// Asserts that the plugin sent every secret, decrypted, in the `/check` request's headers.
fn assert_check_saw(check: &RecordedRequest, path: &str, token: &str) {
    assert_eq!((check.method.as_str(), check.path.as_str()), ("GET", path));
    assert_eq!(check.header("x-api-token"), Some(token));
    assert_eq!(check.header("x-extra-secret"), Some(EXTRA));
    assert_eq!(check.header("x-token-backup"), Some(LISTED));
}

fn options_request(
    connection: &str,
    resolver: &str,
    context: &Value,
) -> api::GetConnectionOptionsRequest {
    api::GetConnectionOptionsRequest {
        provider_id: LINKED.into(),
        connection_id: connection.into(),
        resolver_name: resolver.into(),
        context_json: context.to_string(),
    }
}

async fn option_values(c: &mut Clients, req: api::GetConnectionOptionsRequest) -> Vec<String> {
    let r = c
        .connections
        .get_connection_options(req)
        .await
        .expect("get connection options")
        .into_inner();
    assert_hidden("GetConnectionOptions", &format!("{r:?}"));
    assert!(r.problems.is_empty(), "{:?}", r.problems);
    r.options.into_iter().map(|o| o.value).collect()
}

/// The `token-<last four>` option the plugin derives from the decrypted token.
fn token_option(token: &str) -> String {
    format!("token-{}", &token[token.len() - 4..])
}

fn config_of(conn: &api::Connection) -> Value {
    serde_json::from_str(&conn.config_json).expect("config_json is JSON")
}

fn assert_redacted(conn: &api::Connection) {
    let config = config_of(conn);
    assert_eq!(config["apiToken"], json!(MARKER), "{config}");
    assert_eq!(config["nested"]["extraSecret"], json!(MARKER), "{config}");
    assert_eq!(config["tokens"][0]["value"], json!(MARKER), "{config}");
}

/// Stops the coordinator and checks its stderr and raw data files for every plaintext secret.
async fn assert_nothing_at_rest(mut coord: Coordinator) {
    let status = coord.terminate().await;
    assert!(status.success(), "{status}");
    assert_hidden("the coordinator's stderr", &coord.stderr());
    for secret in SECRETS {
        assert_not_in_data_dir(&coord, secret);
    }
}

#[tokio::test]
async fn invalid_connection_configs_are_refused_with_their_json_path_and_nothing_is_stored() {
    let coord = Coordinator::start(with_fixture_args(&["good"])).await;
    let mut c = coord.clients().await;
    let base = "http://127.0.0.1:9";
    let mut wrong_region = connection_config(base);
    wrong_region["nested"]["region"] = json!(7);
    let err = create_connection(&mut c, &wrong_region).await.unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument, "{err:?}");
    assert!(
        err.message().contains("/nested/region"),
        "{}",
        err.message()
    );
    assert_hidden("an error message", err.message());

    let mut no_token = connection_config(base);
    no_token.as_object_mut().map(|m| m.remove("apiToken"));
    let err = create_connection(&mut c, &no_token).await.unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument, "{err:?}");
    assert!(err.message().contains("apiToken"), "{}", err.message());

    let mut bad_item = connection_config(base);
    bad_item["tokens"][0]["value"] = json!(42);
    let err = create_connection(&mut c, &bad_item).await.unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument, "{err:?}");
    assert!(
        err.message().contains("/tokens/0/value"),
        "{}",
        err.message()
    );

    let err = c
        .connections
        .create_connection(api::CreateConnectionRequest {
            provider_id: "fixture.echo".into(),
            name: "echo has none".into(),
            config_json: "{}".into(),
        })
        .await
        .unwrap_err();
    assert!(
        matches!(err.code(), Code::InvalidArgument | Code::FailedPrecondition),
        "a provider without a connection schema: {err:?}"
    );
    assert!(
        list_connections(&mut c, "").await.is_empty(),
        "nothing is stored"
    );
}

#[tokio::test]
async fn the_plugins_validate_config_refuses_connections_and_subscriptions_at_save_time() {
    let coord = Coordinator::start(with_fixture_args(&["good"])).await;
    let mut c = coord.clients().await;
    register_incident(&mut c).await;
    let forbidden = connection_config("http://policy-forbidden.invalid:8080");
    let err = create_connection(&mut c, &forbidden).await.unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument, "{err:?}");
    assert!(err.message().contains("/baseUrl"), "{}", err.message());
    assert!(
        err.message().contains("network policy"),
        "{}",
        err.message()
    );
    assert_hidden("an error message", err.message());
    assert!(
        list_connections(&mut c, "").await.is_empty(),
        "nothing is stored"
    );

    let conn = create_connection(&mut c, &connection_config("http://127.0.0.1:9"))
        .await
        .expect("an allowed connection");
    let err = update_connection(&mut c, &conn.id, &forbidden)
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument, "{err:?}");
    let kept = get_connection(&mut c, &conn.id).await.expect("get");
    assert_eq!(config_of(&kept)["baseUrl"], json!("http://127.0.0.1:9"));

    let retired = json!({"connectionId": conn.id, "project": "retired-project", "labels": []});
    let err = c
        .subscriptions
        .create_subscription(api::CreateSubscriptionRequest {
            subscription: Some(linked_subscription(&retired)),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument, "{err:?}");
    assert!(err.message().contains("/project"), "{}", err.message());
    let listed = c
        .subscriptions
        .list_subscriptions(api::ListSubscriptionsRequest::default())
        .await
        .expect("list")
        .into_inner();
    assert_eq!(listed.total, 0, "nothing is stored");
}

#[tokio::test]
async fn connection_crud_keeps_secrets_encrypted_redacted_and_usable() {
    let coord = Coordinator::start(with_fixture_args(&["good"])).await;
    let mut c = coord.clients().await;
    let sink = HttpSink::start().await;

    let created = create_connection(&mut c, &connection_config(&sink.url()))
        .await
        .expect("create the connection");
    assert_redacted(&created);
    assert_eq!(config_of(&created)["nested"]["region"], json!("eu"));
    assert_eq!(created.provider_id, LINKED);
    assert_eq!(created.config_version, 1);
    let id = created.id.clone();
    assert_redacted(&get_connection(&mut c, &id).await.expect("get"));
    let listed = list_connections(&mut c, LINKED).await;
    assert_eq!(listed.len(), 1);
    assert_redacted(&listed[0]);
    assert_eq!(list_connections(&mut c, "").await.len(), 1);

    // The plugin gets every secret decrypted, in TestConnection and GetConnectionOptions.
    let (verdict, check) = test_saved(&mut c, &sink, &id).await;
    assert!(verdict.success, "{verdict:?}");
    assert_check_saw(&check, "/check", TOKEN);
    let projects = option_values(&mut c, options_request(&id, "projects", &json!({}))).await;
    assert!(projects.contains(&token_option(TOKEN)), "{projects:?}");
    let items = json!({"project": "alpha", "query": "2"});
    let items = option_values(&mut c, options_request(&id, "items", &items)).await;
    assert_eq!(items, ["alpha-2"]);

    update_keeps_secrets(&mut c, &sink, &id).await;
    assert_nothing_at_rest(coord).await;
}

/// Updates with the marker, then with the secrets left out, then with a new token; each time
/// the plugin proves which plaintext the coordinator kept.
async fn update_keeps_secrets(c: &mut Clients, sink: &HttpSink, id: &str) {
    let marked = json!({
        "baseUrl": format!("{}/v2", sink.url()),
        "apiToken": MARKER,
        "nested": {"region": "us", "extraSecret": MARKER},
        "tokens": [{"name": "backup", "value": MARKER}],
    });
    let updated = update_connection(c, id, &marked)
        .await
        .expect("update with markers");
    assert_redacted(&updated);
    assert_eq!(config_of(&updated)["nested"]["region"], json!("us"));
    let (verdict, check) = test_saved(c, sink, id).await;
    assert!(verdict.success, "{verdict:?}");
    assert_check_saw(&check, "/v2/check", TOKEN);

    let absent = json!({
        "baseUrl": sink.url(),
        "nested": {"region": "us"},
        "tokens": [{"name": "backup", "value": MARKER}],
    });
    let updated = update_connection(c, id, &absent)
        .await
        .expect("update without secrets");
    assert_redacted(&updated);
    let (_, check) = test_saved(c, sink, id).await;
    assert_check_saw(&check, "/check", TOKEN);

    let mut rotated = absent.clone();
    rotated["apiToken"] = json!(NEW_TOKEN);
    update_connection(c, id, &rotated)
        .await
        .expect("rotate the token");
    let (_, check) = test_saved(c, sink, id).await;
    assert_check_saw(&check, "/check", NEW_TOKEN);
    let projects = option_values(c, options_request(id, "projects", &json!({}))).await;
    assert!(projects.contains(&token_option(NEW_TOKEN)), "{projects:?}");

    // A refused update changes nothing.
    let mut invalid = rotated.clone();
    invalid["baseUrl"] = json!(5);
    let err = update_connection(c, id, &invalid).await.unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument, "{err:?}");
    assert!(err.message().contains("/baseUrl"), "{}", err.message());
    let (_, check) = test_saved(c, sink, id).await;
    assert_check_saw(&check, "/check", NEW_TOKEN);
}

#[tokio::test]
async fn options_need_a_declared_resolver_and_a_connection_of_the_provider() {
    let coord = Coordinator::start(with_fixture_args(&["good"])).await;
    let mut c = coord.clients().await;
    let conn = create_connection(&mut c, &connection_config("http://127.0.0.1:9"))
        .await
        .expect("create the connection");

    let err = c
        .connections
        .get_connection_options(options_request(&conn.id, "teams", &json!({})))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound, "{err:?}");
    assert!(err.message().contains("\"teams\""), "{}", err.message());
    assert!(err.message().contains("declared"), "{}", err.message());

    let err = c
        .connections
        .get_connection_options(options_request("", "projects", &json!({})))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument, "{err:?}");
    assert!(err.message().contains("connection_id"), "{}", err.message());

    let missing = "0193a8f0-0000-7000-8000-000000000000";
    let err = c
        .connections
        .get_connection_options(options_request(missing, "projects", &json!({})))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound, "{err:?}");

    // The plugin's own answer to a context without the field `items` depends on.
    let r = c
        .connections
        .get_connection_options(options_request(&conn.id, "items", &json!({})))
        .await
        .expect("an in-band answer")
        .into_inner();
    assert!(r.options.is_empty());
    assert_eq!(
        r.problems.first().map(|p| p.json_path.as_str()),
        Some("/project")
    );
}

#[tokio::test]
async fn a_subscription_delivers_through_its_connection_which_cannot_be_deleted_under_it() {
    let coord = Coordinator::start(with_fixture_args(&["good"])).await;
    let mut c = coord.clients().await;
    let sink = HttpSink::start().await;
    register_incident(&mut c).await;
    let conn = create_connection(&mut c, &connection_config(&sink.url()))
        .await
        .expect("create the connection");
    let config = json!({"connectionId": conn.id, "project": "alpha", "labels": ["sev1"]});
    let sub = create_subscription(&mut c, linked_subscription(&config)).await;

    let id = publish(&mut c, json!({"incidentId": "i-1", "title": "t"}), "")
        .await
        .deliveries[0]
        .id
        .clone();
    let requests = sink.wait_for_requests(1, WAIT).await;
    let req = &requests[0];
    assert_eq!(
        (req.method.as_str(), req.path.as_str()),
        ("POST", "/deliver")
    );
    assert_eq!(req.header("x-api-token"), Some(TOKEN));
    assert_eq!(req.header("x-delivery-id"), Some(id.as_str()));
    assert_eq!(req.header("x-linked-labels"), Some("sev1"));
    assert_eq!(req.json()["connectionId"], json!(conn.id));
    assert_eq!(req.json()["data"]["incidentId"], json!("i-1"));
    assert_eq!(
        wait_final(&mut c, &id).await.status(),
        api::DeliveryStatus::Succeeded
    );

    // Deleting the connection under the subscription is refused, naming the subscription.
    let delete = api::DeleteConnectionRequest {
        id: conn.id.clone(),
    };
    let err = c
        .connections
        .delete_connection(delete.clone())
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition, "{err:?}");
    assert!(err.message().contains(&sub.id), "{}", err.message());
    get_connection(&mut c, &conn.id).await.expect("still there");
    let again = publish(&mut c, json!({"incidentId": "i-2", "title": "t"}), "").await;
    let d = wait_final(&mut c, &again.deliveries[0].id).await;
    assert_eq!(d.status(), api::DeliveryStatus::Succeeded, "{d:?}");

    // A subscription naming a connection that does not exist is refused.
    let bogus = json!({"connectionId": "0193a8f0-0000-7000-8000-000000000000", "project": "alpha"});
    let err = c
        .subscriptions
        .create_subscription(api::CreateSubscriptionRequest {
            subscription: Some(linked_subscription(&bogus)),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound, "{err:?}");
    assert!(err.message().contains("connectionId"), "{}", err.message());

    // Once the subscription is gone the connection can go.
    c.subscriptions
        .delete_subscription(api::DeleteSubscriptionRequest { id: sub.id.clone() })
        .await
        .expect("delete the subscription");
    c.connections
        .delete_connection(delete.clone())
        .await
        .expect("delete the connection");
    let err = get_connection(&mut c, &conn.id).await.unwrap_err();
    assert_eq!(err.code(), Code::NotFound, "{err:?}");
    let err = c.connections.delete_connection(delete).await.unwrap_err();
    assert_eq!(err.code(), Code::NotFound, "{err:?}");
    drop(c);
    assert_nothing_at_rest(coord).await;
}

/// An enabled `fixture.linked` subscription to every incident with `config`.
fn linked_subscription(config: &Value) -> api::Subscription {
    api::Subscription {
        name: "linked".into(),
        provider_id: LINKED.into(),
        config_json: config.to_string(),
        event_types: vec!["incident.*".into()],
        enabled: true,
        ..api::Subscription::default()
    }
}
