//! `SWITCHYARD_<SECTION>__<KEY>` environment overrides. The variable name maps to a key of the
//! embedded defaults (double underscore between table and key, lowercase); the value is parsed
//! as the type that key has in the defaults (a list is comma-separated). A variable that names
//! no key is an error, so typos do not pass silently; variables that belong to the CLI or to the
//! secret key are skipped.

use super::{ConfigError, ROTATION_PAUSE_ENV, SECRET_KEY_ENV};

/// `SWITCHYARD_*` variables that are not configuration keys.
const NOT_CONFIG: &[&str] = &[
    SECRET_KEY_ENV,
    ROTATION_PAUSE_ENV,
    "SWITCHYARD_ADDR",
    "SWITCHYARD_TOKEN",
    "SWITCHYARD_CONFIG",
    "SWITCHYARD_TLS_CA",
    "SWITCHYARD_TLS_CERT",
    "SWITCHYARD_TLS_KEY",
    // The PostgreSQL tests' database (scripts/with-postgres.sh), inherited by the coordinators
    // the end-to-end tests start.
    "SWITCHYARD_TEST_PG_URL",
];

/// Applies every `SWITCHYARD_*` variable of `env` to `table`.
pub(super) fn apply(
    table: &mut toml::Table,
    env: impl IntoIterator<Item = (String, String)>,
) -> Result<(), ConfigError> {
    let mut vars: Vec<(String, String)> = env
        .into_iter()
        .filter(|(k, _)| k.starts_with("SWITCHYARD_") && !NOT_CONFIG.contains(&k.as_str()))
        // The plugin handshake's variables are the host's business, never ours.
        .filter(|(k, _)| !k.starts_with("SWITCHYARD_PLUGIN_"))
        .collect();
    vars.sort();
    for (var, value) in vars {
        set(table, &var, &value)?;
    }
    Ok(())
}

fn set(table: &mut toml::Table, var: &str, value: &str) -> Result<(), ConfigError> {
    let path: Vec<String> = var["SWITCHYARD_".len()..]
        .split("__")
        .map(str::to_ascii_lowercase)
        .collect();
    let err = |message: String| ConfigError::Env {
        var: var.to_owned(),
        message,
    };
    let (last, parents) = path
        .split_last()
        .ok_or_else(|| err("names no configuration key".to_owned()))?;
    let mut current = table;
    for part in parents {
        current = match current.get_mut(part) {
            Some(toml::Value::Table(t)) => t,
            _ => return Err(err(format!("no configuration table `{part}`"))),
        };
    }
    let old = current.get(last).ok_or_else(|| {
        err(format!(
            "no configuration key `{}` (see `switchyard serve --print-default-config`)",
            path.join(".")
        ))
    })?;
    let new = parse_like(old, value).map_err(err)?;
    current.insert(last.clone(), new);
    Ok(())
}

/// Parses `text` as the same TOML type as `like`.
fn parse_like(like: &toml::Value, text: &str) -> Result<toml::Value, String> {
    Ok(match like {
        toml::Value::String(_) => toml::Value::String(text.to_owned()),
        toml::Value::Integer(_) => toml::Value::Integer(
            text.parse()
                .map_err(|_| format!("{text:?} is not an integer"))?,
        ),
        toml::Value::Float(_) => toml::Value::Float(
            text.parse()
                .map_err(|_| format!("{text:?} is not a number"))?,
        ),
        toml::Value::Boolean(_) => toml::Value::Boolean(
            text.parse()
                .map_err(|_| format!("{text:?} is not true or false"))?,
        ),
        toml::Value::Array(_) => toml::Value::Array(
            text.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(|s| toml::Value::String(s.to_owned()))
                .collect(),
        ),
        toml::Value::Datetime(_) | toml::Value::Table(_) => {
            return Err("this key cannot be set from the environment; use a config file".into());
        }
    })
}
