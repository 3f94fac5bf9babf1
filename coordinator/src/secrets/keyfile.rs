//! Where the keys live and how they are read and written: the `SWITCHYARD_SECRET_KEY`
//! variable, a configured key file, or `<data_dir>/secret.key` (generated on first start).
//!
//! Each source holds a list of base64 keys, separated by commas or newlines (lines starting
//! with `#` are comments): the first is the current key, the others are previous keys. A
//! one-key source is what every coordinator before key rotation had, and still works. A key
//! file is only ever replaced whole and atomically (a private temporary file beside it,
//! fsync, rename, fsync of the directory), so a crash leaves either the old or the new list,
//! never a torn one. The variable is never written: the operator owns it.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;

use super::SecretsError;
use super::keyring::Key;

/// File name of the generated key inside the data directory.
pub const KEY_FILE_NAME: &str = "secret.key";

/// Where the coordinator's keys come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeySource {
    /// The `SWITCHYARD_SECRET_KEY` environment variable (read-only for the coordinator).
    Env,
    /// A key file (the configured one or `<data_dir>/secret.key`); rotation rewrites it.
    File(PathBuf),
    /// Keys handed over in memory (tests, embedding); nothing to rewrite.
    Memory,
}

impl std::fmt::Display for KeySource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Env => f.write_str("the environment variable SWITCHYARD_SECRET_KEY"),
            Self::File(path) => write!(f, "the key file {}", path.display()),
            Self::Memory => f.write_str("memory"),
        }
    }
}

/// The keys of the first source that is set, in order of precedence: `env_value`,
/// `key_file`, `<data_dir>/secret.key` (generated with one fresh key, mode 0600, when absent;
/// the flag says so).
pub(crate) fn load(
    data_dir: &Path,
    key_file: Option<&Path>,
    env_value: Option<String>,
) -> Result<(Vec<Key>, KeySource, bool), SecretsError> {
    if let Some(text) = env_value {
        return Ok((parse(&text, &KeySource::Env)?, KeySource::Env, false));
    }
    let path = key_file.map_or_else(|| data_dir.join(KEY_FILE_NAME), Path::to_owned);
    let source = KeySource::File(path.clone());
    if key_file.is_some() || path.exists() {
        let text = std::fs::read_to_string(&path).map_err(|e| io_error(&path, e))?;
        return Ok((parse(&text, &source)?, source, false));
    }
    std::fs::create_dir_all(data_dir).map_err(|e| io_error(&path, e))?;
    let key = Key::generate();
    write_new(&path, std::slice::from_ref(&key))?;
    Ok((vec![key], source, true))
}

/// Replaces the key file at `path` with `keys` (the first is the current one), atomically.
pub(crate) fn replace(path: &Path, keys: &[Key]) -> Result<(), SecretsError> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy())
        .unwrap_or_default();
    let tmp = path.with_file_name(format!(".{name}.tmp"));
    // A leftover from a crash mid-write holds nothing that is not in the real file.
    match std::fs::remove_file(&tmp) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(io_error(&tmp, e)),
        _ => {}
    }
    write_new(&tmp, keys)?;
    std::fs::rename(&tmp, path).map_err(|e| io_error(path, e))?;
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty());
    let dir = std::fs::File::open(dir.unwrap_or(Path::new(".")));
    dir.and_then(|d| d.sync_all())
        .map_err(|e| io_error(path, e))
}

/// Writes `keys` into a new file (mode 0600) and syncs it.
fn write_new(path: &Path, keys: &[Key]) -> Result<(), SecretsError> {
    use std::os::unix::fs::OpenOptionsExt as _;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| io_error(path, e))?;
    let text: String = keys
        .iter()
        .map(|k| format!("{}\n", B64.encode(k.bytes())))
        .collect();
    file.write_all(text.as_bytes())
        .and_then(|()| file.sync_all())
        .map_err(|e| io_error(path, e))
}

/// The keys of `text`; at least one.
fn parse(text: &str, source: &KeySource) -> Result<Vec<Key>, SecretsError> {
    let items = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.starts_with('#'))
        .flat_map(|l| l.split(','))
        .map(str::trim)
        .filter(|s| !s.is_empty());
    let keys = items
        .enumerate()
        .map(|(i, s)| decode(s, source, i + 1))
        .collect::<Result<Vec<Key>, SecretsError>>()?;
    if keys.is_empty() {
        return Err(SecretsError::BadKey {
            origin: source.to_string(),
            reason: "it holds no key".into(),
        });
    }
    Ok(keys)
}

fn decode(text: &str, source: &KeySource, n: usize) -> Result<Key, SecretsError> {
    let bad = |reason: String| SecretsError::BadKey {
        origin: source.to_string(),
        reason: format!("key {n}: {reason}"),
    };
    let bytes = B64
        .decode(text)
        .map_err(|e| bad(format!("not base64: {e}")))?;
    <[u8; 32]>::try_from(bytes.as_slice())
        .map(Key::new)
        .map_err(|_| bad(format!("{} bytes instead of 32", bytes.len())))
}

fn io_error(path: &Path, source: std::io::Error) -> SecretsError {
    SecretsError::KeyFile {
        path: path.to_owned(),
        source,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b64(b: u8) -> String {
        B64.encode([b; 32])
    }

    #[test]
    fn lists_are_split_on_commas_and_lines_with_comments_and_blanks_ignored() {
        let text = format!("# keys\n{}\n\n {} , {}\n", b64(1), b64(2), b64(3));
        let keys = parse(&text, &KeySource::Memory).expect("parse");
        let ids: Vec<_> = keys.iter().map(|k| k.id().clone()).collect();
        let want: Vec<_> = [1, 2, 3].map(|b| Key::new([b; 32]).id().clone()).into();
        assert_eq!(ids, want);
    }

    #[test]
    fn a_bad_key_is_named_by_position_and_source_but_never_shown() {
        let text = format!("{},c2hvcnQ=", b64(1));
        let err = parse(&text, &KeySource::Env).expect_err("must fail");
        let msg = err.to_string();
        assert!(
            msg.contains("key 2") && msg.contains("SWITCHYARD_SECRET_KEY"),
            "{msg}"
        );
        assert!(msg.contains("5 bytes instead of 32"), "{msg}");
        assert!(!msg.contains(&b64(1)) && !msg.contains("c2hvcnQ="), "{msg}");
        assert!(parse(" \n# only a comment\n", &KeySource::Env).is_err());
    }

    #[test]
    fn replace_swaps_the_whole_file_keeps_it_private_and_ignores_a_leftover() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("k");
        std::fs::write(dir.path().join(".k.tmp"), "torn").expect("leftover");
        let keys = [Key::new([1; 32]), Key::new([2; 32])];
        replace(&path, &keys).expect("replace");
        replace(&path, &keys[1..]).expect("replace again");
        let text = std::fs::read_to_string(&path).expect("read");
        assert_eq!(text, format!("{}\n", b64(2)));
        let mode = std::fs::metadata(&path).expect("meta").permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        assert!(!dir.path().join(".k.tmp").exists());
    }
}
