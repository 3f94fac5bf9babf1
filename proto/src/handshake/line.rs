//! The line a go-plugin plugin prints first on stdout, `CORE|APP|NETWORK|ADDR|PROTOCOL|CERT`,
//! parsed in one place for the host, the conformance harness and the tests. Parsing checks each
//! field's shape and says which one is wrong; what a reader requires beyond that — the versions
//! it offered, where the socket may lie, whether it tolerates what go-plugin's own client
//! tolerates (a missing sixth field, a `\r`) — is the reader's rule.
//!
//! Like go-plugin's client, the line is split into at most six fields, so a `|` after the fifth
//! belongs to the certificate field.

use std::fmt;
use std::path::PathBuf;

use super::CORE_PROTOCOL_VERSION;

/// A handshake line whose fields have the right shape.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HandshakeLine {
    /// Field 2: the app protocol version the plugin chose.
    pub app_version: u32,
    /// Field 4: the plugin's Unix socket, an absolute path.
    pub socket: PathBuf,
    /// Field 6: go-plugin's server certificate (AutoMTLS), empty when unused; `None` when the
    /// line has only five fields.
    pub server_cert: Option<String>,
    /// Whether the line ended in `\r\n` rather than `\n`.
    pub carriage_return: bool,
}

/// Which field of a handshake line is wrong, and how.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LineError {
    /// Fewer than five `|`-separated fields.
    TooFewFields(usize),
    /// Field 1 is not go-plugin's core protocol version 1.
    CoreVersion(String),
    /// Field 2 is not a number.
    AppVersion(String),
    /// Field 3 is not `unix` (the only network a Switchyard host dials).
    Network(String),
    /// Field 4 is not an absolute path.
    Socket(String),
    /// Field 5 is not `grpc` (Switchyard speaks no net/rpc).
    Protocol(String),
}

impl fmt::Display for LineError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::TooFewFields(n) => write!(
                f,
                "expected at least 5 `|`-separated fields (CORE|APP|unix|SOCKET|grpc|), found {n}"
            ),
            Self::CoreVersion(v) => write!(
                f,
                "field 1 (core protocol version) must be {CORE_PROTOCOL_VERSION}, found {v:?}"
            ),
            Self::AppVersion(v) => write!(
                f,
                "field 2 (app protocol version) must be a number, found {v:?}"
            ),
            Self::Network(v) => write!(f, "field 3 (network) must be `unix`, found {v:?}"),
            Self::Socket(v) => write!(
                f,
                "field 4 (socket path) must be an absolute path, found {v:?}"
            ),
            Self::Protocol(v) => write!(f, "field 5 (protocol) must be `grpc`, found {v:?}"),
        }
    }
}

impl std::error::Error for LineError {}

impl HandshakeLine {
    /// Parses one line (with or without its line ending).
    ///
    /// # Errors
    /// The first field, in order, whose shape is wrong.
    pub fn parse(line: &str) -> Result<Self, LineError> {
        let without_lf = line.strip_suffix('\n').unwrap_or(line);
        let text = without_lf.strip_suffix('\r');
        let carriage_return = text.is_some();
        let text = text.unwrap_or(without_lf);
        let fields: Vec<&str> = text.splitn(6, '|').collect();
        let &[core, app, network, socket, protocol, ref rest @ ..] = fields.as_slice() else {
            return Err(LineError::TooFewFields(fields.len()));
        };
        if core.parse::<u32>() != Ok(CORE_PROTOCOL_VERSION) {
            return Err(LineError::CoreVersion(core.to_owned()));
        }
        let app_version = app
            .parse::<u32>()
            .map_err(|_| LineError::AppVersion(app.to_owned()))?;
        if network != "unix" {
            return Err(LineError::Network(network.to_owned()));
        }
        let socket_path = PathBuf::from(socket);
        if !socket_path.is_absolute() {
            return Err(LineError::Socket(socket.to_owned()));
        }
        if protocol != "grpc" {
            return Err(LineError::Protocol(protocol.to_owned()));
        }
        Ok(Self {
            app_version,
            socket: socket_path,
            server_cert: rest.first().map(|cert| (*cert).to_owned()),
            carriage_return,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_go_plugin_line_parses() {
        let line = HandshakeLine::parse("1|2|unix|/tmp/sy/plugin.sock|grpc|\n").unwrap();
        assert_eq!(
            line,
            HandshakeLine {
                app_version: 2,
                socket: PathBuf::from("/tmp/sy/plugin.sock"),
                server_cert: Some(String::new()),
                carriage_return: false,
            }
        );
    }

    #[test]
    fn the_optional_parts_are_reported_not_refused() {
        let five = HandshakeLine::parse("1|1|unix|/s.sock|grpc").unwrap();
        assert_eq!(five.server_cert, None);
        let crlf = HandshakeLine::parse("1|1|unix|/s.sock|grpc|\r\n").unwrap();
        assert!(crlf.carriage_return);
        assert_eq!(crlf.server_cert.as_deref(), Some(""));
        // As in go-plugin's client, a `|` past the fifth field is part of the certificate.
        let more = HandshakeLine::parse("1|1|unix|/s.sock|grpc|a|b").unwrap();
        assert_eq!(more.server_cert.as_deref(), Some("a|b"));
    }

    #[test]
    fn each_wrong_field_is_named() {
        for (line, field) in [
            ("hello world", "at least 5"),
            ("2|1|unix|/s.sock|grpc|", "field 1"),
            ("x|1|unix|/s.sock|grpc|", "field 1"),
            ("1|x|unix|/s.sock|grpc|", "field 2"),
            ("1|1|tcp|127.0.0.1:1234|grpc|", "field 3"),
            ("1|1|unix|relative.sock|grpc|", "field 4"),
            ("1|1|unix|/s.sock|netrpc|", "field 5"),
        ] {
            let err = HandshakeLine::parse(line).expect_err(line);
            assert!(err.to_string().contains(field), "{line}: {err}");
        }
    }
}
