//! Who may reach the platform API, as configured: the TLS files of the TCP listener
//! (`[api.tls]`) and the bearer tokens with their roles (`api.auth_token`, `[[api.tokens]]`).
//! Token values are read here, once, from the files or environment variables the config names,
//! so that the config file itself need not hold a secret; no message of this module ever
//! contains a token. What each role may call is decided in `api::auth`, not here.

use std::fmt;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::{AuthToken, ConfigError, invalid};

/// What a bearer token may call (the table per RPC is in `api::auth`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// `EventService.PublishEvent` only: the platform's event emitter.
    Publish,
    /// Every read (Get, List, Watch, Stats): dashboards.
    Read,
    /// Everything, configuration included.
    Admin,
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Publish => "publish",
            Self::Read => "read",
            Self::Admin => "admin",
        })
    }
}

/// An accepted bearer token and its role; `Debug` hides the token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScopedToken {
    /// The token.
    pub token: AuthToken,
    /// What it may call.
    pub role: Role,
}

/// The TLS files of the TCP listener (paths resolved against the data dir).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    /// PEM certificate chain of the server, leaf first.
    pub cert_file: PathBuf,
    /// PEM private key of that certificate.
    pub key_file: PathBuf,
    /// PEM CA certificate(s); when set, clients must present a certificate signed by one.
    pub client_ca_file: Option<PathBuf>,
}

/// `[api.tls]` as written.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawTls {
    cert_file: PathBuf,
    key_file: PathBuf,
    client_ca_file: PathBuf,
}

/// One `[[api.tokens]]` entry as written.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawToken {
    role: Role,
    #[serde(default)]
    token_file: Option<PathBuf>,
    #[serde(default)]
    token_env: Option<String>,
}

/// Validates `[api.tls]`: all empty means no TLS; a certificate needs its key; a client CA needs
/// TLS; TLS needs a TCP listener (the Unix socket is always plaintext, protected by its mode).
pub(super) fn tls(
    raw: RawTls,
    data_dir: &Path,
    has_tcp: bool,
) -> Result<Option<TlsFiles>, ConfigError> {
    let resolve = |p: PathBuf| (!p.as_os_str().is_empty()).then(|| data_dir.join(p));
    let (cert, key, ca) = (
        resolve(raw.cert_file),
        resolve(raw.key_file),
        resolve(raw.client_ca_file),
    );
    let files = match (cert, key) {
        (None, None) if ca.is_some() => Err(invalid(
            "api.tls.client_ca_file",
            "client certificates need TLS: set api.tls.cert_file and api.tls.key_file too".into(),
        )),
        (None, None) => return Ok(None),
        (Some(_), None) => Err(invalid(
            "api.tls.key_file",
            "api.tls.cert_file is set, so the key of that certificate is needed too".into(),
        )),
        (None, Some(_)) => Err(invalid(
            "api.tls.cert_file",
            "api.tls.key_file is set, so the certificate of that key is needed too".into(),
        )),
        (Some(cert_file), Some(key_file)) => Ok(TlsFiles {
            cert_file,
            key_file,
            client_ca_file: ca,
        }),
    }?;
    if !has_tcp {
        return Err(invalid(
            "api.tls",
            "TLS applies to the TCP listener, but api.tcp_listen is empty; set it or remove \
             [api.tls]"
                .into(),
        ));
    }
    Ok(Some(files))
}

/// Collects every accepted token: `api.auth_token` (role admin, kept for existing setups), then
/// each `[[api.tokens]]` entry, its value read from `token_file` or the variable `token_env` of
/// `env`. Two entries with the same value are refused (which role would it have?).
pub(super) fn tokens(
    auth_token: &str,
    raw: Vec<RawToken>,
    env: &[(String, String)],
    data_dir: &Path,
) -> Result<Vec<ScopedToken>, ConfigError> {
    let mut out: Vec<ScopedToken> = Vec::new();
    if let Some(token) = AuthToken::new(auth_token) {
        check_header_safe("api.auth_token", token.expose())?;
        out.push(ScopedToken {
            token,
            role: Role::Admin,
        });
    }
    for (i, entry) in raw.into_iter().enumerate() {
        let key = format!("api.tokens[{i}]");
        let token = token_value(&key, entry.token_file, entry.token_env, env, data_dir)?;
        check_header_safe(&key, token.expose())?;
        if out.iter().any(|t| t.token == token) {
            return Err(invalid(
                &key,
                "this token is accepted already (by api.auth_token or an earlier entry); give \
                 each role its own token"
                    .into(),
            ));
        }
        out.push(ScopedToken {
            token,
            role: entry.role,
        });
    }
    Ok(out)
}

/// Reads the value of one `[[api.tokens]]` entry from exactly one of its two sources.
fn token_value(
    key: &str,
    file: Option<PathBuf>,
    var: Option<String>,
    env: &[(String, String)],
    data_dir: &Path,
) -> Result<AuthToken, ConfigError> {
    let (text, origin) = match (file, var) {
        (Some(file), None) => {
            let path = data_dir.join(file);
            let text = std::fs::read_to_string(&path).map_err(|e| {
                invalid(
                    &format!("{key}.token_file"),
                    format!("cannot read {}: {e}", path.display()),
                )
            })?;
            (text, path.display().to_string())
        }
        (None, Some(var)) if var.starts_with("SWITCHYARD_") => {
            return Err(invalid(
                &format!("{key}.token_env"),
                format!(
                    "{var} is in the SWITCHYARD_ namespace, which is read as configuration \
                     keys; name a variable outside it, e.g. SY_PUBLISH_TOKEN"
                ),
            ));
        }
        (None, Some(var)) => {
            let text = env.iter().find(|(k, _)| *k == var).map(|(_, v)| v.clone());
            let text = text.ok_or_else(|| {
                invalid(
                    &format!("{key}.token_env"),
                    format!("the environment variable {var} is not set"),
                )
            })?;
            (text, format!("the environment variable {var}"))
        }
        _ => {
            return Err(invalid(
                key,
                "set exactly one of token_file (a file holding the token) and token_env (the \
                 name of an environment variable holding it)"
                    .into(),
            ));
        }
    };
    // A trailing newline is how editors and `echo` write files; it is never part of a token.
    AuthToken::new(text.trim()).ok_or_else(|| invalid(key, format!("{origin} is empty")))
}

/// A token must fit in an `authorization` header, or no client could ever send it.
fn check_header_safe(key: &str, token: &str) -> Result<(), ConfigError> {
    if token.bytes().all(|b| b == b' ' || b.is_ascii_graphic()) {
        Ok(())
    } else {
        Err(invalid(
            key,
            "the token has characters that cannot be sent in an HTTP header; use printable \
             ASCII (e.g. the output of `openssl rand -hex 32`)"
                .into(),
        ))
    }
}
