//! The registry: several plugins started together, providers addressed by qualified id, a
//! failing plugin reported without stopping the others, duplicate plugin ids refused.

use switchyard::host::{Registry, StartError};
use switchyard_e2e::{fixture, leftovers, options, socket_root, webhook};

#[tokio::test]
async fn plugins_start_together_and_providers_resolve_by_qualified_id() {
    let root = socket_root();
    let specs = vec![fixture("good"), webhook(), fixture("exit-early")];
    let (registry, errors) = Registry::start(specs, options(root.path())).await;
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(matches!(errors[0].1, StartError::ExitedEarly { .. }));

    let ids: Vec<String> = registry
        .providers()
        .into_iter()
        .map(|e| e.qualified_id)
        .collect();
    assert_eq!(ids, ["fixture.echo", "fixture.linked", "webhook.webhook"]);
    let entry = registry.resolve("fixture.echo").expect("resolve");
    assert_eq!(entry.local_id(), "echo");
    assert_eq!(entry.plugin.id(), "fixture");
    assert!(registry.resolve("fixture.nope").is_none());

    registry.stop_all().await;
    assert!(
        leftovers(root.path()).is_empty(),
        "{:?}",
        leftovers(root.path())
    );
}

#[tokio::test]
async fn a_second_binary_with_the_same_plugin_id_is_refused_and_stopped() {
    let root = socket_root();
    let (registry, errors) =
        Registry::start(vec![fixture("good"), fixture("good")], options(root.path())).await;
    assert_eq!(errors.len(), 1);
    assert!(matches!(&errors[0].1, StartError::DuplicatePluginId(id) if id == "fixture"));
    assert_eq!(registry.plugins().len(), 1);
    registry.stop_all().await;
    assert!(
        leftovers(root.path()).is_empty(),
        "{:?}",
        leftovers(root.path())
    );
}
