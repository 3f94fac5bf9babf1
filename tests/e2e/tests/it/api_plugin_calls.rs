//! The API calls that reach into a plugin, against the fixture plugin's `echo` provider (which
//! declares every capability and an `items` options resolver): TestConnection on an unsaved
//! config, GetConnectionOptions with a declared and an undeclared resolver, and that the
//! coordinator's own secret key never reaches a plugin's environment.

use serde_json::json;
use switchyard_e2e::coordinator::{
    Coordinator, CoordinatorOptions, create_subscription, publish, register_incident, wait_final,
};
use switchyard_proto::coordinator::v1 as api;
use tonic::Code;

fn with_fixture(mode: &str, env: Vec<(String, String)>) -> CoordinatorOptions {
    CoordinatorOptions {
        extra_plugins: vec![(switchyard_e2e::FIXTURE.to_owned(), vec![mode.to_owned()])],
        env,
        ..CoordinatorOptions::default()
    }
}

#[tokio::test]
async fn test_connection_and_options_go_to_a_capable_provider() {
    let coord = Coordinator::start(with_fixture("good", Vec::new())).await;
    let mut c = coord.clients().await;
    let echo = c
        .providers
        .get_provider(api::GetProviderRequest {
            id: "fixture.echo".into(),
        })
        .await
        .expect("fixture.echo")
        .into_inner();
    assert!(
        echo.provider
            .and_then(|p| p.capabilities)
            .is_some_and(|caps| caps.test_connection && caps.connection_options)
    );

    let test = api::TestConnectionRequest {
        provider_id: "fixture.echo".into(),
        kind: api::ConfigKind::Provider.into(),
        config_json: json!({"url": "http://127.0.0.1:9", "secret": "s3"}).to_string(),
        connection_id: String::new(),
    };
    let verdict = c
        .connections
        .test_connection(test.clone())
        .await
        .expect("test connection")
        .into_inner();
    assert!(verdict.success, "{verdict:?}");
    let unspecified = api::TestConnectionRequest {
        kind: api::ConfigKind::Unspecified.into(),
        ..test.clone()
    };
    let err = c
        .connections
        .test_connection(unspecified)
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    let invalid = api::TestConnectionRequest {
        config_json: json!({"delayMs": "slow"}).to_string(),
        ..test
    };
    let err = c.connections.test_connection(invalid).await.unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    assert!(err.message().contains("/delayMs"), "{}", err.message());

    let options = |resolver: &str| api::GetConnectionOptionsRequest {
        provider_id: "fixture.echo".into(),
        connection_id: String::new(),
        resolver_name: resolver.into(),
        context_json: json!({"url": "http://127.0.0.1:9"}).to_string(),
    };
    let items = c
        .connections
        .get_connection_options(options("items"))
        .await
        .expect("options")
        .into_inner();
    let values: Vec<String> = items.options.into_iter().map(|o| o.value).collect();
    assert_eq!(values, ["a", "b"]);
    let err = c
        .connections
        .get_connection_options(options("projects"))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    assert!(
        err.message().contains("declared: items"),
        "{}",
        err.message()
    );
}

#[tokio::test]
async fn the_coordinators_secret_key_never_reaches_a_plugin() {
    // 32 bytes, base64: the coordinator's master key, given through its environment.
    let key = "c3dpdGNoeWFyZC10ZXN0LWtleS0zMi1ieXRlcy0hISE=";
    let env = vec![("SWITCHYARD_SECRET_KEY".to_owned(), key.to_owned())];
    let coord = Coordinator::start(with_fixture("env-dump", env)).await;
    let mut c = coord.clients().await;
    register_incident(&mut c).await;
    let sub = api::Subscription {
        name: "env".into(),
        provider_id: "fixture.echo".into(),
        config_json: "{}".into(),
        event_types: vec!["*".into()],
        enabled: true,
        ..api::Subscription::default()
    };
    create_subscription(&mut c, sub).await;
    let id = publish(&mut c, json!({"incidentId": "i", "title": "t"}), "")
        .await
        .deliveries[0]
        .id
        .clone();
    assert_eq!(
        wait_final(&mut c, &id).await.status(),
        api::DeliveryStatus::Succeeded
    );
    let attempts = switchyard_e2e::coordinator::attempts(&mut c, &id).await;
    let plugin_env = &attempts[0].external_id;
    assert!(
        plugin_env.starts_with('{'),
        "the fixture reports its environment: {plugin_env}"
    );
    assert!(
        !plugin_env.contains("SWITCHYARD_SECRET_KEY") && !plugin_env.contains(key),
        "{plugin_env}"
    );
}
