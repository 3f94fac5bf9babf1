//! Transport and access of the platform API end to end, against a real `switchyard serve`:
//! TLS on the TCP listener (a client trusting the configured CA publishes, and the delivery
//! reaches a local HTTP server; plaintext clients and clients trusting another CA are refused),
//! client certificates when a client CA is configured, each role-scoped token refused outside
//! its role and accepted inside it, unusable TLS files stopping the start with the file named,
//! and reflection listing exactly the services that answer. Certificates are generated at run
//! time (rcgen); no key is committed.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose,
};
use serde_json::json;
use switchyard::cli::client::{ClientTls, Clients, connect, connect_tls};
use switchyard_e2e::coordinator::{
    Coordinator, CoordinatorOptions, INCIDENT, create_subscription, publish, register_incident,
    wait_final, webhook_subscription,
};
use switchyard_plugin_sdk::testkit::HttpSink;
use switchyard_proto::coordinator::v1 as api;
use tonic::Code;

const PUBLISH_TOKEN: &str = "pub-7d1e0c5a93b2";
const READ_TOKEN: &str = "read-4b8f2e6d10c7";
const ADMIN_TOKEN: &str = "adm-e95a3c71f804";
/// The variable the admin token is read from (`token_env`); the others come from files.
const ADMIN_ENV: &str = "SY_E2E_ADMIN_TOKEN";

/// A throw-away PKI in a temporary directory: CAs and the certificates they sign, as PEM files.
struct Pki {
    dir: tempfile::TempDir,
}

type Ca = CertifiedIssuer<'static, KeyPair>;

impl Pki {
    fn new() -> Self {
        Self {
            dir: tempfile::tempdir().expect("temp dir"),
        }
    }

    fn path(&self, file: &str) -> PathBuf {
        self.dir.path().join(file)
    }

    /// A CA named `name`; its certificate goes to `<name>.pem`.
    fn ca(&self, name: &str) -> Ca {
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
        params.distinguished_name.push(DnType::CommonName, name);
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let ca = CertifiedIssuer::self_signed(params, KeyPair::generate().expect("key"))
            .expect("self-signed CA");
        std::fs::write(self.path(&format!("{name}.pem")), ca.pem()).expect("write CA");
        ca
    }

    /// A leaf certificate signed by `ca`, for a server (valid for localhost and 127.0.0.1) or
    /// a client; written to `<name>.pem` and `<name>.key`.
    fn leaf(&self, name: &str, ca: &Ca, purpose: ExtendedKeyUsagePurpose) -> (PathBuf, PathBuf) {
        let sans = vec!["localhost".to_owned(), "127.0.0.1".to_owned()];
        let mut params = CertificateParams::new(sans).expect("leaf params");
        params.distinguished_name.push(DnType::CommonName, name);
        params.extended_key_usages = vec![purpose];
        let key = KeyPair::generate().expect("key");
        let cert = params.signed_by(&key, &**ca).expect("signed leaf");
        let (cert_file, key_file) = (
            self.path(&format!("{name}.pem")),
            self.path(&format!("{name}.key")),
        );
        std::fs::write(&cert_file, cert.pem()).expect("write cert");
        std::fs::write(&key_file, key.serialize_pem()).expect("write key");
        (cert_file, key_file)
    }

    /// A CA and a server certificate it signed: (CA file, `[api.tls]` table).
    fn server(&self, client_ca: Option<&Path>) -> (PathBuf, String) {
        let ca = self.ca("server-ca");
        let (cert, key) = self.leaf("server", &ca, ExtendedKeyUsagePurpose::ServerAuth);
        let client_ca = client_ca.map_or_else(String::new, |p| p.display().to_string());
        let table = format!(
            "[api.tls]\ncert_file = {:?}\nkey_file = {:?}\nclient_ca_file = {client_ca:?}\n",
            cert.display().to_string(),
            key.display().to_string(),
        );
        (self.path("server-ca.pem"), table)
    }
}

/// `[[api.tokens]]`: publish and read from files in `pki`'s directory, admin from [`ADMIN_ENV`].
fn role_tokens(pki: &Pki) -> String {
    let mut toml = String::new();
    for (role, token) in [("publish", PUBLISH_TOKEN), ("read", READ_TOKEN)] {
        let file = pki.path(&format!("{role}.token"));
        std::fs::write(&file, format!("{token}\n")).expect("write the token file");
        toml.push_str(&format!(
            "[[api.tokens]]\nrole = {role:?}\ntoken_file = {:?}\n",
            file.display().to_string()
        ));
    }
    toml.push_str(&format!(
        "[[api.tokens]]\nrole = \"admin\"\ntoken_env = {ADMIN_ENV:?}\n"
    ));
    toml
}

/// A coordinator with a TCP listener on a free loopback port, `extra_config` and the admin
/// token in its environment.
async fn start(extra_config: String) -> Coordinator {
    Coordinator::start(CoordinatorOptions {
        env: vec![
            ("SWITCHYARD_API__TCP_LISTEN".into(), "127.0.0.1:0".into()),
            (ADMIN_ENV.into(), ADMIN_TOKEN.into()),
        ],
        extra_config,
        ..CoordinatorOptions::default()
    })
    .await
}

fn trusting(ca: &Path) -> ClientTls {
    ClientTls {
        ca_file: Some(ca.to_owned()),
        ..ClientTls::default()
    }
}

/// Connects and lists the providers: `Err` with the reason when either step fails.
async fn list_providers(addr: &str, token: Option<&str>, tls: &ClientTls) -> Result<(), String> {
    let mut c = connect_tls(addr, token, tls)
        .await
        .map_err(|e| format!("connect: {e}"))?;
    c.providers
        .list_providers(api::ListProvidersRequest {})
        .await
        .map(|_| ())
        .map_err(|s| format!("call: {s}"))
}

async fn unix_client(coord: &Coordinator, token: &str) -> Clients {
    connect(&coord.addr(), Some(token))
        .await
        .expect("connect over the Unix socket")
}

#[tokio::test]
async fn a_client_trusting_the_ca_publishes_over_tls_and_others_are_refused() {
    let pki = Pki::new();
    let (ca_file, tls_table) = pki.server(None);
    let _ = pki.ca("rogue-ca");
    let coord = start(format!("{tls_table}{}", role_tokens(&pki))).await;
    let sink = HttpSink::start().await;
    let mut admin = unix_client(&coord, ADMIN_TOKEN).await;
    register_incident(&mut admin).await;
    create_subscription(&mut admin, webhook_subscription("tls", &sink.url())).await;

    let https = format!("https://{}", coord.tcp_addr());
    let mut publisher = connect_tls(&https, Some(PUBLISH_TOKEN), &trusting(&ca_file))
        .await
        .expect("connect over TLS");
    let published = publish(
        &mut publisher,
        json!({"incidentId": "i-1", "title": "t"}),
        "k1",
    )
    .await;
    let delivery = &published.deliveries[0].id;
    let done = wait_final(&mut admin, delivery).await;
    assert_eq!(done.status(), api::DeliveryStatus::Succeeded, "{done:?}");
    assert_eq!(sink.request_count(), 1);

    let plaintext = format!("http://{}", coord.tcp_addr());
    let refused = list_providers(&plaintext, Some(ADMIN_TOKEN), &ClientTls::default()).await;
    assert!(refused.is_err(), "a plaintext client was served over TLS");
    let wrong_ca = trusting(&pki.path("rogue-ca.pem"));
    let refused = list_providers(&https, Some(ADMIN_TOKEN), &wrong_ca).await;
    assert!(refused.is_err(), "a client trusting another CA connected");

    // The Unix socket stays plaintext, and the refused clients published nothing.
    let list = admin
        .deliveries
        .list_deliveries(api::ListDeliveriesRequest::default())
        .await
        .expect("list over the Unix socket");
    assert_eq!(list.into_inner().total, 1);
}

#[tokio::test]
async fn client_certificates_are_required_when_a_client_ca_is_set() {
    let pki = Pki::new();
    let clients_ca = pki.ca("clients-ca");
    let alice = pki.leaf("alice", &clients_ca, ExtendedKeyUsagePurpose::ClientAuth);
    let rogue = pki.ca("rogue-ca");
    let mallory = pki.leaf("mallory", &rogue, ExtendedKeyUsagePurpose::ClientAuth);
    let (ca_file, tls_table) = pki.server(Some(&pki.path("clients-ca.pem")));
    let coord = start(tls_table).await;
    let https = format!("https://{}", coord.tcp_addr());

    let without = list_providers(&https, None, &trusting(&ca_file)).await;
    assert!(
        without.is_err(),
        "a client without a certificate was served"
    );
    let with = |(cert, key): &(PathBuf, PathBuf)| ClientTls {
        ca_file: Some(ca_file.clone()),
        cert_file: Some(cert.clone()),
        key_file: Some(key.clone()),
    };
    let foreign = list_providers(&https, None, &with(&mallory)).await;
    assert!(foreign.is_err(), "a certificate of another CA was accepted");
    list_providers(&https, None, &with(&alice))
        .await
        .expect("a client certificate signed by the client CA is accepted");
}

/// Runs the `switchyard` CLI with `args` and the `SWITCHYARD_*` variables of `env` only:
/// (success, stdout, stderr).
fn cli(args: &[&str], env: &[(&str, &Path)]) -> (bool, String, String) {
    let mut cmd = Command::new(switchyard_e2e::binary(
        switchyard_e2e::coordinator::SWITCHYARD,
    ));
    for (var, _) in std::env::vars().filter(|(k, _)| k.starts_with("SWITCHYARD_")) {
        cmd.env_remove(var);
    }
    let out = cmd
        .args(args)
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .output()
        .expect("run the switchyard CLI");
    let text = |b: Vec<u8>| String::from_utf8_lossy(&b).into_owned();
    (out.status.success(), text(out.stdout), text(out.stderr))
}

#[tokio::test]
async fn the_cli_reaches_the_tls_listener_with_its_tls_options() {
    let pki = Pki::new();
    let clients_ca = pki.ca("clients-ca");
    let (cert, key) = pki.leaf("ops", &clients_ca, ExtendedKeyUsagePurpose::ClientAuth);
    let (ca_file, tls_table) = pki.server(Some(&pki.path("clients-ca.pem")));
    let coord = start(format!("{tls_table}{}", role_tokens(&pki))).await;
    let https = format!("https://{}", coord.tcp_addr());
    let path = |p: &Path| p.display().to_string();
    let (ca, cert, key) = (path(&ca_file), path(&cert), path(&key));
    let base = ["--addr", &https, "--token", READ_TOKEN];

    let flags = ["--tls-ca", &ca, "--tls-cert", &cert, "--tls-key", &key];
    let args = [&base[..], &flags, &["providers", "list"]].concat();
    let (ok, out, err) = cli(&args, &[]);
    assert!(ok && out.contains("webhook.webhook"), "{out}{err}");

    // The same from the environment, as a script would set it.
    let env: [(&str, &Path); 3] = [
        ("SWITCHYARD_TLS_CA", ca_file.as_ref()),
        ("SWITCHYARD_TLS_CERT", cert.as_ref()),
        ("SWITCHYARD_TLS_KEY", key.as_ref()),
    ];
    let (ok, out, err) = cli(&[&base[..], &["providers", "list"]].concat(), &env);
    assert!(ok && out.contains("webhook.webhook"), "{out}{err}");

    let (ok, _, err) = cli(&[&base[..], &["providers", "list"]].concat(), &[]);
    assert!(!ok && err.contains("--tls-ca"), "{err}");
    let rogue = path(&pki.path("rogue-ca.pem"));
    let _ = pki.ca("rogue-ca");
    let args = [&base[..], &["--tls-ca", &rogue, "providers", "list"]].concat();
    let (ok, _, err) = cli(&args, &[]);
    assert!(
        !ok && err.contains("certificate"),
        "the cause is shown: {err}"
    );
    let args = [&base[..], &["--tls-ca", &ca, "providers", "list"]].concat();
    let (ok, _, err) = cli(&args, &[]);
    assert!(!ok, "served without a client certificate: {err}");
    let args = [&base[..], &flags, &["subscriptions", "delete", "nope"]].concat();
    let (ok, _, err) = cli(&args, &[]);
    assert!(
        !ok && err.contains("`admin`"),
        "a read token deleted: {err}"
    );
}

/// The code of a refused call, or `Code::Ok` when it was served.
fn code<T>(result: Result<T, tonic::Status>) -> Code {
    result.map_or_else(|s| s.code(), |_| Code::Ok)
}

/// A coordinator with the three role tokens, the incident event type, one subscription to
/// `sink` and one event published with the publish token.
struct Roles {
    coord: Coordinator,
    admin: Clients,
    subscription: api::Subscription,
    delivery: String,
    _sink: HttpSink,
    _pki: Pki,
}

impl Roles {
    async fn start() -> Self {
        let pki = Pki::new();
        let coord = start(role_tokens(&pki)).await;
        let sink = HttpSink::start().await;
        let mut admin = unix_client(&coord, ADMIN_TOKEN).await;
        register_incident(&mut admin).await;
        let subscription = webhook_subscription("roles", &sink.url());
        let subscription = create_subscription(&mut admin, subscription).await;
        let mut publisher = unix_client(&coord, PUBLISH_TOKEN).await;
        let payload = json!({"incidentId": "i", "title": "t"});
        let published = publish(&mut publisher, payload, "k").await;
        Self {
            delivery: published.deliveries[0].id.clone(),
            coord,
            admin,
            subscription,
            _sink: sink,
            _pki: pki,
        }
    }

    /// How many deliveries and subscriptions exist, as admin sees them.
    async fn counts(&mut self) -> (u64, usize) {
        let deliveries = self.admin.deliveries.list_deliveries(list()).await;
        let subscriptions = self
            .admin
            .subscriptions
            .list_subscriptions(api::ListSubscriptionsRequest::default())
            .await;
        (
            deliveries.expect("list deliveries").into_inner().total,
            subscriptions
                .expect("list subscriptions")
                .into_inner()
                .subscriptions
                .len(),
        )
    }
}

fn list() -> api::ListDeliveriesRequest {
    api::ListDeliveriesRequest::default()
}

#[tokio::test]
async fn a_publish_token_may_publish_and_nothing_else() {
    let mut roles = Roles::start().await;
    let mut publisher = unix_client(&roles.coord, PUBLISH_TOKEN).await;
    let publish_req = api::PublishEventRequest {
        event_type: INCIDENT.into(),
        payload_json: json!({"incidentId": "i2", "title": "t"}).to_string(),
        ..Default::default()
    };
    assert_eq!(
        code(publisher.events.publish_event(publish_req).await),
        Code::Ok
    );
    let denied = Code::PermissionDenied;
    assert_eq!(
        code(publisher.deliveries.list_deliveries(list()).await),
        denied
    );
    let create = api::CreateSubscriptionRequest {
        subscription: Some(webhook_subscription("sneaky", "http://127.0.0.1:9/")),
    };
    let created = publisher.subscriptions.create_subscription(create).await;
    assert_eq!(code(created), denied);
    let providers = publisher
        .providers
        .list_providers(api::ListProvidersRequest {});
    assert_eq!(code(providers.await), denied);
    assert_eq!(
        roles.counts().await,
        (2, 1),
        "two events, no new subscription"
    );
}

#[tokio::test]
async fn a_read_token_may_read_and_nothing_else() {
    let mut roles = Roles::start().await;
    let mut reader = unix_client(&roles.coord, READ_TOKEN).await;
    assert_eq!(
        code(reader.deliveries.list_deliveries(list()).await),
        Code::Ok
    );
    let stats = reader
        .deliveries
        .get_delivery_stats(api::GetDeliveryStatsRequest::default());
    assert_eq!(code(stats.await), Code::Ok);
    let denied = Code::PermissionDenied;
    let publish_req = api::PublishEventRequest {
        event_type: INCIDENT.into(),
        payload_json: json!({"incidentId": "r", "title": "t"}).to_string(),
        ..Default::default()
    };
    assert_eq!(code(reader.events.publish_event(publish_req).await), denied);
    let id = roles.subscription.id.clone();
    let disable = api::DisableSubscriptionRequest { id: id.clone() };
    let disabled = reader
        .subscriptions
        .disable_subscription(disable.clone())
        .await;
    assert_eq!(code(disabled), denied);
    let redeliver = api::RedeliverDeliveryRequest {
        id: roles.delivery.clone(),
    };
    assert_eq!(
        code(reader.deliveries.redeliver_delivery(redeliver).await),
        denied
    );

    assert_eq!(
        roles.counts().await,
        (1, 1),
        "nothing published or redelivered"
    );
    let get = api::GetSubscriptionRequest { id };
    let got = roles.admin.subscriptions.get_subscription(get).await;
    let got = got.expect("get the subscription").into_inner().subscription;
    assert!(got.expect("a subscription").enabled, "still enabled");
    let disabled = roles
        .admin
        .subscriptions
        .disable_subscription(disable)
        .await;
    assert_eq!(code(disabled), Code::Ok, "admin may");
}

#[tokio::test]
async fn missing_or_unknown_tokens_are_unauthenticated_and_no_token_is_logged() {
    let roles = Roles::start().await;
    for token in [None, Some("adm-e95a3c71f805"), Some("pub-7d1e0c5a93b")] {
        let mut stranger = connect(&roles.coord.addr(), token).await.expect("connect");
        let listed = stranger.deliveries.list_deliveries(list()).await;
        assert_eq!(code(listed), Code::Unauthenticated, "{token:?}");
    }
    let mut health = tonic_health::pb::health_client::HealthClient::new(
        connect(&roles.coord.addr(), None)
            .await
            .expect("connect")
            .channel,
    );
    let check = tonic_health::pb::HealthCheckRequest::default();
    assert_eq!(
        code(health.check(check).await),
        Code::Ok,
        "health stays open"
    );
    let log = roles.coord.stderr();
    for token in [PUBLISH_TOKEN, READ_TOKEN, ADMIN_TOKEN] {
        assert!(!log.contains(token), "a token is in the log:\n{log}");
    }
}

#[tokio::test]
async fn reflection_lists_exactly_the_served_services() {
    use tonic_reflection::pb::v1::{
        ServerReflectionRequest, server_reflection_client::ServerReflectionClient,
        server_reflection_request::MessageRequest, server_reflection_response::MessageResponse,
    };
    let coord = Coordinator::start_default().await;
    let clients = coord.clients().await;
    let mut reflection = ServerReflectionClient::new(clients.channel.clone());
    let ask = |message| ServerReflectionRequest {
        host: String::new(),
        message_request: Some(message),
    };
    let requests = [
        ask(MessageRequest::ListServices(String::new())),
        ask(MessageRequest::FileContainingSymbol(
            "switchyard.plugin.v1.ProviderPlugin".into(),
        )),
    ];
    let mut answers = reflection
        .server_reflection_info(tokio_stream::iter(requests))
        .await
        .expect("reflection")
        .into_inner();
    let first = answers.message().await.expect("a reflection answer");
    let Some(MessageResponse::ListServicesResponse(list)) = first.and_then(|r| r.message_response)
    else {
        panic!("expected a service list");
    };
    let mut names: Vec<String> = list.service.into_iter().map(|s| s.name).collect();
    names.sort();
    let platform = [
        "ConnectionService",
        "DeliveryService",
        "EventService",
        "EventTypeService",
        "ProviderService",
        "SubscriptionService",
    ]
    .map(|s| format!("switchyard.coordinator.v1.{s}"));
    let mut expected: Vec<String> = platform.to_vec();
    expected.push("grpc.health.v1.Health".into());
    expected.push("grpc.reflection.v1.ServerReflection".into());
    expected.sort();
    assert_eq!(names, expected);
    // tonic-reflection ends the stream with NOT_FOUND for an unknown symbol.
    let unknown = answers.message().await;
    assert!(
        matches!(&unknown, Err(status) if status.code() == Code::NotFound),
        "the plugin protocol is described by a server that does not serve it: {unknown:?}"
    );
}

/// Runs `switchyard serve` with TLS files that cannot work and returns its stderr (it must
/// exit on its own, with a failure; it is killed after 60 s otherwise).
fn serve_with_tls_files(cert: &Path, key: &Path) -> String {
    let data = tempfile::tempdir().expect("temp dir");
    let mut child = Command::new(switchyard_e2e::binary(
        switchyard_e2e::coordinator::SWITCHYARD,
    ))
    .arg("serve")
    .env("SWITCHYARD_DATA_DIR", data.path())
    .env("SWITCHYARD_API__TCP_LISTEN", "127.0.0.1:0")
    .env("SWITCHYARD_PLUGINS__DISCOVER_NEXT_TO_BINARY", "false")
    .env("SWITCHYARD_API__TLS__CERT_FILE", cert)
    .env("SWITCHYARD_API__TLS__KEY_FILE", key)
    .stdin(Stdio::null())
    .stdout(Stdio::null())
    .stderr(Stdio::piped())
    .spawn()
    .expect("spawn switchyard serve");
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while child.try_wait().ok().flatten().is_none() {
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("switchyard serve started with unusable TLS files");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = child.wait_with_output().expect("the exit status");
    assert!(!out.status.success());
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn unusable_tls_files_stop_the_start_naming_the_file() {
    let pki = Pki::new();
    let ca = pki.ca("ca");
    let (cert, key) = pki.leaf("one", &ca, ExtendedKeyUsagePurpose::ServerAuth);
    let (_, other_key) = pki.leaf("two", &ca, ExtendedKeyUsagePurpose::ServerAuth);
    let missing = pki.path("missing.pem");

    let err = serve_with_tls_files(&missing, &key);
    assert!(
        err.contains(&missing.display().to_string()) && err.contains("cannot be read"),
        "{err}"
    );
    let err = serve_with_tls_files(&cert, &cert);
    assert!(
        err.contains(&cert.display().to_string()) && err.contains("no PEM private key"),
        "{err}"
    );
    let err = serve_with_tls_files(&cert, &other_key);
    assert!(
        err.contains(&other_key.display().to_string()) && err.contains("cannot be used together"),
        "{err}"
    );
}
