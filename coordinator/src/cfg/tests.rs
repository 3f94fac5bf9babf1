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
