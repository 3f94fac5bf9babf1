//! SHA-256 pins of plugin executables, checked before every start (the first one and every
//! restart after a crash), as Vault does for its plugin catalog. The file is opened once, hashed
//! through that open descriptor, and the same descriptor is what `spawn` executes
//! (`/proc/self/fd/N`), so a binary swapped after the check is never the one that runs: the
//! check and the exec see the same file, with no window between them.

use std::fmt;
use std::fs::File;
use std::path::Path;

use sha2::{Digest as _, Sha256 as Hasher};

use super::error::StartError;

/// A SHA-256 digest, written as 64 hex digits (what `sha256sum` prints).
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Sha256([u8; 32]);

impl Sha256 {
    /// Parses 64 hex digits (either case; surrounding blanks ignored).
    ///
    /// # Errors
    /// What is wrong with the text, for the config error.
    pub fn parse(text: &str) -> Result<Self, String> {
        let text = text.trim();
        if text.len() != 64 || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(format!(
                "{text:?} is not a SHA-256 digest: expected 64 hex digits, as `sha256sum FILE` prints"
            ));
        }
        let mut out = [0u8; 32];
        for (i, byte) in out.iter_mut().enumerate() {
            *byte = u8::from_str_radix(&text[2 * i..2 * i + 2], 16)
                .map_err(|e| format!("{text:?} is not a SHA-256 digest: {e}"))?;
        }
        Ok(Self(out))
    }

    /// The digest of everything `reader` yields.
    fn of(reader: &mut impl std::io::Read) -> std::io::Result<Self> {
        let mut hasher = Hasher::new();
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            match reader.read(&mut buf)? {
                0 => break,
                n => hasher.update(&buf[..n]),
            }
        }
        Ok(Self(hasher.finalize().into()))
    }
}

impl fmt::Display for Sha256 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for b in self.0 {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Sha256 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Sha256({self})")
    }
}

/// Opens `command` and checks its content against `pin`; returns the open file, which is
/// what must be executed.
pub(crate) fn verify(command: &Path, pin: Sha256) -> Result<File, StartError> {
    let unreadable = |source| StartError::PinUnreadable {
        command: command.to_owned(),
        source,
    };
    let mut file = File::open(command).map_err(unreadable)?;
    let actual = Sha256::of(&mut file).map_err(unreadable)?;
    if actual != pin {
        return Err(StartError::PinMismatch {
            command: command.to_owned(),
            expected: pin,
            actual,
        });
    }
    Ok(file)
}

#[cfg(test)]
mod tests {
    use super::*;

    const ABC: &str = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";

    #[test]
    fn digests_parse_and_print_as_sha256sum_does() {
        let d = Sha256::parse(&ABC.to_uppercase()).unwrap();
        assert_eq!(d.to_string(), ABC);
        assert_eq!(Sha256::of(&mut &b"abc"[..]).unwrap(), d);
        for bad in ["", "abc", &ABC[1..], &format!("{}g", &ABC[1..])] {
            assert!(Sha256::parse(bad).unwrap_err().contains("64 hex digits"));
        }
    }

    #[test]
    fn a_changed_byte_is_refused_with_both_hashes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("plugin");
        std::fs::write(&path, b"abc").unwrap();
        let pin = Sha256::parse(ABC).unwrap();
        assert!(verify(&path, pin).is_ok());
        std::fs::write(&path, b"abd").unwrap();
        let err = verify(&path, pin).unwrap_err().to_string();
        let actual = Sha256::of(&mut &b"abd"[..]).unwrap().to_string();
        assert!(err.contains(ABC) && err.contains(&actual), "{err}");
        let gone = verify(&dir.path().join("missing"), pin).unwrap_err();
        assert!(matches!(gone, StartError::PinUnreadable { .. }), "{gone}");
    }
}
