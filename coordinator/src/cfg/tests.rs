//! Unit tests of configuration loading: defaults, file overrides, environment overrides, and
//! the errors that name what to fix.

use std::time::Duration;

use super::*;

fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

#[test]
fn embedded_defaults_need_no_file() {
    let cfg = load(None, env(&[])).expect("defaults load");
    assert_eq!(cfg.data_dir, PathBuf::from("./switchyard-data"));
    assert_eq!(
        cfg.api.socket,
        PathBuf::from("./switchyard-data/switchyard.sock")
    );
    assert_eq!(cfg.api.tcp_listen, Some("127.0.0.1:7400".parse().unwrap()));
    assert_eq!(
        cfg.delivery.retry_delays,
        [60, 300, 900].map(Duration::from_secs).to_vec()
    );
    assert_eq!(cfg.api.max_payload_bytes.get(), 512 * 1024);
}

#[test]
fn file_then_env_override_defaults() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("c.toml");
    std::fs::write(
        &file,
        "data_dir = \"/var/sy\"\n[delivery]\nretry_delays = [\"100ms\"]\njitter = 0.0\n",
    )
    .unwrap();
    let cfg = load(
        Some(&file),
        env(&[
            ("SWITCHYARD_DELIVERY__RETRY_DELAYS", "100ms, 200ms"),
            ("SWITCHYARD_API__TCP_LISTEN", ""),
            ("SWITCHYARD_SECRET_KEY", "ignored here"),
        ]),
    )
    .unwrap();
    assert_eq!(cfg.data_dir, PathBuf::from("/var/sy"));
    assert_eq!(
        cfg.delivery.retry_delays,
        vec![Duration::from_millis(100), Duration::from_millis(200)]
    );
    assert_eq!(cfg.delivery.jitter, 0.0);
    assert_eq!(cfg.api.tcp_listen, None);
}

#[test]
fn non_loopback_listener_requires_a_token() {
    let err = load(None, env(&[("SWITCHYARD_API__TCP_LISTEN", "0.0.0.0:7400")])).unwrap_err();
    assert!(err.to_string().contains("api.auth_token"), "{err}");
    let cfg = load(
        None,
        env(&[
            ("SWITCHYARD_API__TCP_LISTEN", "0.0.0.0:7400"),
            ("SWITCHYARD_API__AUTH_TOKEN", "s3cret"),
        ]),
    )
    .unwrap();
    assert!(!format!("{cfg:?}").contains("s3cret"));
}

#[test]
fn errors_name_the_key_to_fix() {
    let err = load(None, env(&[("SWITCHYARD_DELIVERY__RETENTION", "soon")])).unwrap_err();
    assert!(err.to_string().contains("delivery.retention"), "{err}");
    let err = load(None, env(&[("SWITCHYARD_DELIVERY__RETRY", "1s")])).unwrap_err();
    assert!(
        err.to_string().contains("SWITCHYARD_DELIVERY__RETRY"),
        "{err}"
    );
    let err = load(None, env(&[("SWITCHYARD_PLUGINS__MAX_IN_FLIGHT", "0")])).unwrap_err();
    assert!(err.to_string().contains("plugins.max_in_flight"), "{err}");
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("c.toml");
    std::fs::write(&file, "[api]\nsokcet = \"x\"\n").unwrap();
    let err = load(Some(&file), env(&[])).unwrap_err();
    assert!(err.to_string().contains("sokcet"), "{err}");
}

/// Loads `[api]` overrides written to a file in `dir`, with `vars` as the environment.
fn load_api(dir: &Path, api_toml: &str, vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
    let file = dir.join("c.toml");
    let text = format!("data_dir = {:?}\n{api_toml}", dir.display().to_string());
    std::fs::write(&file, text).unwrap();
    load(Some(&file), env(vars))
}

#[test]
fn tokens_come_from_files_and_variables_with_their_roles() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("pub.token"), "pub-s3cret\n").unwrap();
    let cfg = load_api(
        dir.path(),
        "[api]\nauth_token = \"legacy-s3cret\"\n\
         [[api.tokens]]\nrole = \"publish\"\ntoken_file = \"pub.token\"\n\
         [[api.tokens]]\nrole = \"read\"\ntoken_env = \"SY_READ\"\n",
        &[("SY_READ", "read-s3cret")],
    )
    .unwrap();
    let got: Vec<(&str, Role)> = cfg
        .api
        .tokens
        .iter()
        .map(|t| (t.token.expose(), t.role))
        .collect();
    assert_eq!(
        got,
        [
            ("legacy-s3cret", Role::Admin),
            ("pub-s3cret", Role::Publish),
            ("read-s3cret", Role::Read)
        ]
    );
    assert!(!format!("{cfg:?}").contains("s3cret"), "{cfg:?}");
}

#[test]
fn bad_token_entries_name_what_to_fix() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("a.token"), "same-s3cret").unwrap();
    std::fs::write(dir.path().join("empty.token"), "\n").unwrap();
    let cases: &[(&str, &str)] = &[
        ("role = \"read\"\n", "exactly one of token_file"),
        (
            "role = \"read\"\ntoken_file = \"a.token\"\ntoken_env = \"X\"\n",
            "exactly one of token_file",
        ),
        (
            "role = \"read\"\ntoken_file = \"missing.token\"\n",
            "missing.token",
        ),
        (
            "role = \"read\"\ntoken_file = \"empty.token\"\n",
            "is empty",
        ),
        (
            "role = \"read\"\ntoken_env = \"SY_UNSET\"\n",
            "SY_UNSET is not set",
        ),
        (
            "role = \"read\"\ntoken_env = \"SWITCHYARD_X\"\n",
            "outside it",
        ),
        ("role = \"reader\"\ntoken_file = \"a.token\"\n", "reader"),
        (
            "role = \"read\"\ntoken_env = \"SY_BAD\"\n",
            "printable ASCII",
        ),
    ];
    for (entry, expected) in cases {
        let err = load_api(
            dir.path(),
            &format!("[[api.tokens]]\n{entry}"),
            &[("SY_BAD", "tab\there")],
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains(expected), "{entry}: {err}");
        assert!(!err.contains("same-s3cret"), "{err}");
    }
    let err = load_api(
        dir.path(),
        "[[api.tokens]]\nrole = \"read\"\ntoken_file = \"a.token\"\n\
         [[api.tokens]]\nrole = \"admin\"\ntoken_env = \"SY_SAME\"\n",
        &[("SY_SAME", "same-s3cret")],
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("api.tokens[1]") && err.contains("accepted already"),
        "{err}"
    );
    assert!(!err.contains("same-s3cret"), "{err}");
}

#[test]
fn scoped_tokens_allow_a_non_loopback_listener() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = load_api(
        dir.path(),
        "[api]\ntcp_listen = \"0.0.0.0:7400\"\n[[api.tokens]]\nrole = \"admin\"\ntoken_env = \"SY_A\"\n",
        &[("SY_A", "a")],
    )
    .unwrap();
    assert_eq!(cfg.api.tokens.len(), 1);
}

#[test]
fn tls_files_are_resolved_and_must_come_in_pairs() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = load_api(
        dir.path(),
        "[api.tls]\ncert_file = \"c.pem\"\nkey_file = \"/etc/k.pem\"\n",
        &[("SWITCHYARD_API__TLS__CLIENT_CA_FILE", "ca.pem")],
    )
    .unwrap();
    let tls = cfg.api.tls.expect("TLS configured");
    assert_eq!(tls.cert_file, dir.path().join("c.pem"));
    assert_eq!(tls.key_file, PathBuf::from("/etc/k.pem"));
    assert_eq!(tls.client_ca_file, Some(dir.path().join("ca.pem")));
    assert_eq!(load(None, env(&[])).unwrap().api.tls, None);

    let cases: &[(&str, &str)] = &[
        ("cert_file = \"c.pem\"\n", "api.tls.key_file"),
        ("key_file = \"k.pem\"\n", "api.tls.cert_file"),
        ("client_ca_file = \"ca.pem\"\n", "api.tls.client_ca_file"),
    ];
    for (entry, key) in cases {
        let err = load_api(dir.path(), &format!("[api.tls]\n{entry}"), &[])
            .unwrap_err()
            .to_string();
        assert!(err.contains(key), "{entry}: {err}");
    }
    let err = load_api(
        dir.path(),
        "[api]\ntcp_listen = \"\"\n[api.tls]\ncert_file = \"c\"\nkey_file = \"k\"\n",
        &[],
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("api.tcp_listen is empty"), "{err}");
}

#[test]
fn the_network_allow_list_takes_subnets_and_addresses_only() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("c.toml");
    std::fs::write(
        &file,
        "[plugins]\nnetwork_allow = [\"127.0.0.0/8\", \"10.1.2.3\", \"fd00::/8\"]\n",
    )
    .unwrap();
    let cfg = load(Some(&file), env(&[])).expect("valid subnets");
    assert_eq!(
        cfg.plugins.network_allow,
        ["127.0.0.0/8", "10.1.2.3", "fd00::/8"]
    );
    std::fs::write(&file, "[plugins]\nnetwork_allow = [\"localhost\"]\n").unwrap();
    let err = load(Some(&file), env(&[])).unwrap_err().to_string();
    assert!(
        err.contains("plugins.network_allow") && err.contains("localhost"),
        "{err}"
    );
}
