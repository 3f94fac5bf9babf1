//! The network policy against real sockets: a `PolicyClient` sends to `testkit::HttpSink`s on
//! loopback. Refused targets (loopback, private, metadata, IPv4-mapped literals; names that
//! resolve to such addresses; a redirect) end as permanent outcomes whose text names the
//! address, the reason and the setting, and the sinks see nothing; an allowed subnet is
//! reached. Proxy variables are checked in a re-run of this test binary (test `proxy_child`,
//! active only with `ROLE_ENV` set), because they are read from the process environment.

use std::collections::HashMap;
use std::net::IpAddr;
use std::pin::Pin;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use switchyard_plugin_sdk::http::{self, PolicyClient};
use switchyard_plugin_sdk::net_policy::guard::{Lookup, PeerCheckLayer};
use switchyard_plugin_sdk::net_policy::{ALLOW_ENV, NetworkPolicy};
use switchyard_plugin_sdk::testkit::{HttpSink, ResponseSpec};
use switchyard_plugin_sdk::{DeliveryResult, Outcome};
use tokio::net::TcpListener;

/// Set in the environment of the re-run that sends with proxy variables set.
const ROLE_ENV: &str = "SDK_NET_POLICY_TEST_ROLE";
/// Where the re-run sends (the parent's sink), `host:port`.
const TARGET_ENV: &str = "SDK_NET_POLICY_TEST_TARGET";
/// Generous: a loaded 2-core machine.
const PATIENCE: Duration = Duration::from_secs(30);

/// Names resolved from a fixed table, as a DNS server would answer them.
#[derive(Debug, Default)]
struct TableLookup {
    table: HashMap<String, Vec<IpAddr>>,
}

impl TableLookup {
    fn with(host: &str, addresses: &[&str]) -> Arc<Self> {
        let addresses = addresses.iter().map(|a| a.parse().unwrap()).collect();
        Arc::new(Self {
            table: HashMap::from([(host.to_owned(), addresses)]),
        })
    }
}

impl Lookup for TableLookup {
    fn lookup(
        &self,
        host: &str,
    ) -> Pin<Box<dyn Future<Output = std::io::Result<Vec<IpAddr>>> + Send>> {
        let found = self.table.get(host).cloned();
        Box::pin(async move { found.ok_or_else(|| std::io::ErrorKind::NotFound.into()) })
    }
}

fn client(policy: &str, lookup: Option<Arc<TableLookup>>) -> PolicyClient {
    let policy = NetworkPolicy::parse(policy).unwrap();
    match lookup {
        Some(lookup) => PolicyClient::with_lookup(PATIENCE, &policy, lookup),
        None => PolicyClient::new(PATIENCE, &policy),
    }
    .unwrap()
}

/// One POST, judged as a provider would judge it.
async fn deliver(client: &PolicyClient, url: &str) -> DeliveryResult {
    match client.post(url) {
        Ok(request) => http::delivery_result(request.body("{}").send().await, |_| None).await,
        Err(refusal) => refusal.into(),
    }
}

fn permanent_error(result: &DeliveryResult) -> &str {
    match &result.outcome {
        Outcome::Permanent { error } => error,
        other => panic!("expected a permanent outcome, got {other:?}"),
    }
}

#[tokio::test]
async fn a_loopback_literal_is_refused_with_the_documented_error() {
    let sink = HttpSink::start().await;
    let result = deliver(&client("", None), &format!("{}/hook", sink.url())).await;
    let error = permanent_error(&result);
    assert!(error.contains("refused 127.0.0.1"), "{error}");
    assert!(error.contains("a loopback address"), "{error}");
    assert!(error.contains("127.0.0.1/32"), "{error}");
    assert!(error.contains(ALLOW_ENV), "{error}");
    assert_eq!(sink.request_count(), 0);
}

#[tokio::test]
async fn private_metadata_and_mapped_literals_are_refused_before_connecting() {
    // None of these is reachable from the test machine: a connection attempt would end in a
    // retryable network error, not in the policy's permanent refusal.
    let client = client("", None);
    for (url, address, why) in [
        ("http://10.1.2.3/hook", "10.1.2.3", "a private address"),
        (
            "http://192.168.0.10/hook",
            "192.168.0.10",
            "a private address",
        ),
        ("http://100.64.0.1/", "100.64.0.1", "carrier-grade NAT"),
        (
            "http://169.254.169.254/latest/meta-data/",
            "169.254.169.254",
            "cloud metadata",
        ),
        ("http://[fd00:ec2::254]/", "fd00:ec2::254", "cloud metadata"),
        (
            "http://[::ffff:10.0.0.1]/",
            "::ffff:10.0.0.1",
            "IPv4-mapped form of 10.0.0.1",
        ),
        (
            "http://[64:ff9b::a9fe:a9fe]/",
            "64:ff9b::a9fe:a9fe",
            "NAT64 form of 169.254.169.254",
        ),
        ("http://[::1]:9/", "::1", "a loopback address"),
        ("http://0x7f.1:9/", "127.0.0.1", "a loopback address"),
        ("http://[fe80::1]/", "fe80::1", "a link-local address"),
        ("http://0.0.0.0:9/", "0.0.0.0", "an unspecified address"),
    ] {
        let result = deliver(&client, url).await;
        let error = permanent_error(&result);
        assert!(
            error.contains(&format!("refused {address}:")),
            "{url}: {error}"
        );
        assert!(error.contains(why), "{url}: {error}");
    }
}

#[tokio::test]
async fn a_name_resolving_to_a_private_address_is_refused() {
    let lookup = TableLookup::with("intranet.test", &["10.20.30.40"]);
    let result = deliver(&client("", Some(lookup)), "http://intranet.test/hook").await;
    let error = permanent_error(&result);
    assert!(
        error.contains("refused intranet.test (resolved to 10.20.30.40): it is a private address"),
        "{error}"
    );
    assert!(error.contains("10.20.30.40/32"), "{error}");
}

#[tokio::test]
async fn a_name_with_one_refused_address_among_public_ones_is_refused() {
    // The connector would try the addresses in turn; one bad one must not be left to chance.
    let lookup = TableLookup::with("mixed.test", &["93.184.216.34", "169.254.169.254"]);
    let result = deliver(&client("", Some(lookup)), "http://mixed.test/").await;
    let error = permanent_error(&result);
    assert!(error.contains("resolved to 169.254.169.254"), "{error}");
    assert!(error.contains("cloud metadata"), "{error}");
}

#[tokio::test]
async fn localhost_through_the_system_resolver_is_refused() {
    let sink = HttpSink::start().await;
    let url = format!("http://localhost:{}/hook", sink.addr().port());
    let result = deliver(&client("", None), &url).await;
    let error = permanent_error(&result);
    assert!(error.contains("refused localhost (resolved to"), "{error}");
    assert!(error.contains("a loopback address"), "{error}");
    assert_eq!(sink.request_count(), 0);
}

#[tokio::test]
async fn an_allowed_subnet_is_reached_by_address_and_by_name() {
    let sink = HttpSink::start().await;
    let lookup = TableLookup::with("receiver.test", &["127.0.0.1"]);
    let client = client("127.0.0.0/8", Some(lookup));
    let by_address = deliver(&client, &format!("{}/a", sink.url())).await;
    assert!(by_address.is_delivered(), "{by_address:?}");
    let port = sink.addr().port();
    let by_name = deliver(&client, &format!("http://receiver.test:{port}/b")).await;
    assert!(by_name.is_delivered(), "{by_name:?}");

    let requests = sink.wait_for_requests(2, PATIENCE).await;
    assert_eq!(requests.len(), 2);
    assert_eq!(requests[1].path, "/b");
    assert_eq!(
        requests[1].header("host"),
        Some(format!("receiver.test:{port}").as_str())
    );
}

#[tokio::test]
async fn the_peer_check_refuses_a_connection_made_without_the_other_checks() {
    // A bare client with only the connector layer: it connects to the loopback sink, and the
    // layer refuses the connection before a byte of the request is written.
    let sink = HttpSink::start().await;
    let policy = Arc::new(NetworkPolicy::public_only());
    let bare = reqwest::Client::builder()
        .no_proxy()
        .connector_layer(PeerCheckLayer::new(policy))
        .build()
        .unwrap();
    let response = bare.post(sink.url()).body("{}").send().await;
    let result = http::delivery_result(response, |_| None).await;
    let error = permanent_error(&result);
    assert!(
        error.contains("refused 127.0.0.1: it is a loopback address"),
        "{error}"
    );
    assert_eq!(sink.request_count(), 0);
}

#[tokio::test]
async fn a_redirect_is_not_followed() {
    let sink = HttpSink::start().await;
    let elsewhere = HttpSink::start().await;
    sink.push_response(
        ResponseSpec::status(302).header("location", format!("{}/moved", elsewhere.url())),
    );
    let result = deliver(
        &client("127.0.0.0/8", None),
        &format!("{}/hook", sink.url()),
    )
    .await;
    let error = permanent_error(&result);
    assert!(error.starts_with("HTTP 302 Found"), "{error}");
    assert!(error.contains("redirects are not followed"), "{error}");
    assert_eq!(result.status_code, Some(302));
    assert_eq!(sink.request_count(), 1);
    assert_eq!(elsewhere.request_count(), 0);
}

/// The re-run's side of `proxy_variables_are_ignored`: sends one request to the target by
/// name (a proxy would be used for it, were proxies honoured) and fails unless delivered.
#[tokio::test]
async fn proxy_child() {
    if std::env::var_os(ROLE_ENV).is_none() {
        return;
    }
    let target = std::env::var(TARGET_ENV).expect("the parent sets the target");
    let (_, port) = target.rsplit_once(':').expect("host:port");
    let lookup = TableLookup::with("receiver.test", &["127.0.0.1"]);
    let result = deliver(
        &client("127.0.0.0/8", Some(lookup)),
        &format!("http://receiver.test:{port}/via-env"),
    )
    .await;
    assert!(result.is_delivered(), "{result:?}");
}

#[tokio::test]
async fn proxy_variables_are_ignored() {
    let sink = HttpSink::start().await;
    let proxy = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let proxy_url = format!("http://{}", proxy.local_addr().unwrap());
    let connections = Arc::new(AtomicUsize::new(0));
    let counted = connections.clone();
    let accepting = tokio::spawn(async move {
        // Accepts and drops: a client that used the proxy fails, and is counted.
        while proxy.accept().await.is_ok() {
            counted.fetch_add(1, Ordering::SeqCst);
        }
    });

    let mut child = Command::new(std::env::current_exe().unwrap());
    child
        .args(["proxy_child", "--exact", "--nocapture", "--test-threads=1"])
        .env(ROLE_ENV, "1")
        .env(TARGET_ENV, sink.addr().to_string());
    for name in [
        "HTTP_PROXY",
        "http_proxy",
        "HTTPS_PROXY",
        "https_proxy",
        "ALL_PROXY",
        "all_proxy",
    ] {
        child.env(name, &proxy_url);
    }
    child.env_remove("NO_PROXY").env_remove("no_proxy");
    let status = tokio::task::spawn_blocking(move || child.status())
        .await
        .unwrap()
        .unwrap();
    accepting.abort();

    assert!(status.success(), "the re-run failed: {status}");
    assert_eq!(connections.load(Ordering::SeqCst), 0, "the proxy was used");
    let requests = sink.wait_for_requests(1, PATIENCE).await;
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].path, "/via-env");
}
