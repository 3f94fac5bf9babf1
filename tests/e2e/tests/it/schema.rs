//! Describe's schemas are checked before a plugin is accepted: one failing the draft 2020-12
//! meta-schema, or misusing Switchyard's `x-` keys, is refused naming the provider and the path.

use switchyard::host::{Plugin, StartError};
use switchyard_e2e::{fixture, leftovers, options, socket_root};

async fn refusal(mode: &str) -> (String, Vec<String>) {
    let root = socket_root();
    let err = match Plugin::start(fixture(mode), options(root.path())).await {
        Ok(plugin) => {
            plugin.stop().await;
            panic!("mode {mode} was accepted")
        }
        Err(err) => err,
    };
    assert!(leftovers(root.path()).is_empty());
    let text = err.to_string();
    let StartError::InvalidDescribe {
        provider, problems, ..
    } = err
    else {
        panic!("{text}")
    };
    assert_eq!(provider, "echo");
    (text, problems.into_iter().map(|p| p.json_path).collect())
}

#[tokio::test]
async fn an_invalid_json_schema_is_refused_naming_provider_and_path() {
    let (text, paths) = refusal("invalid-schema").await;
    assert!(
        paths
            .iter()
            .any(|p| p == "config_schema/properties/delayMs/type"),
        "{text}"
    );
    assert!(
        text.contains("\"echo\"") && text.contains("config_schema/properties/delayMs/type"),
        "{text}"
    );
}

#[tokio::test]
async fn depends_on_without_a_resolver_is_refused() {
    let (text, paths) = refusal("bad-x-keys").await;
    assert_eq!(
        paths,
        ["config_schema/properties/url/x-depends-on"],
        "{text}"
    );
}

#[tokio::test]
async fn the_good_fixture_and_the_webhook_describe_valid_schemas() {
    let root = socket_root();
    for spec in [fixture("good"), switchyard_e2e::webhook()] {
        let plugin = Plugin::start(spec, options(root.path()))
            .await
            .expect("start");
        for provider in &plugin.describe().providers {
            let schema = provider.config_schema.as_ref().expect("config schema");
            let json: serde_json::Value = serde_json::from_str(&schema.json_schema).expect("json");
            assert_eq!(switchyard::schema::check_schema(&json), Ok(()));
        }
        plugin.stop().await;
    }
}
