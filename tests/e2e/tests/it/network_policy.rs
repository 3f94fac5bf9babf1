//! The network policy through the real host and the real webhook plugin: the host hands the
//! operator's allow-list to the plugin, and without it a receiver on loopback is refused before
//! any byte is sent, with an error that names the address, why, and the setting that allows
//! it; with it, the same receiver gets the event.

use switchyard::host::{HostOptions, Plugin};
use switchyard_e2e::{deliver_request, options, socket_root, webhook};
use switchyard_plugin_sdk::testkit::HttpSink;
use switchyard_proto::plugin::v1 as pb;

async fn deliver_to(sink: &HttpSink, network_allow: Vec<String>) -> pb::DeliverResponse {
    let root = socket_root();
    let opts = HostOptions {
        network_allow,
        ..options(root.path())
    };
    let plugin = Plugin::start(webhook(), opts)
        .await
        .expect("start the webhook");
    let config = serde_json::json!({"url": format!("{}/hook", sink.url())});
    let answer = plugin
        .deliver(deliver_request("webhook", &config))
        .await
        .expect("deliver");
    plugin.stop().await;
    answer
}

#[tokio::test]
async fn a_loopback_receiver_is_refused_unless_the_operator_allows_it() {
    let sink = HttpSink::start().await;
    let refused = deliver_to(&sink, Vec::new()).await;
    assert_eq!(refused.outcome(), pb::Outcome::Permanent, "{refused:?}");
    for needle in ["127.0.0.1", "loopback", "network_allow"] {
        assert!(
            refused.error.contains(needle),
            "{needle}: {}",
            refused.error
        );
    }
    assert_eq!(sink.request_count(), 0, "nothing may be sent");

    let allowed = deliver_to(&sink, vec!["127.0.0.0/8".into()]).await;
    assert_eq!(allowed.outcome(), pb::Outcome::Delivered, "{allowed:?}");
    assert_eq!(sink.request_count(), 1);
}
