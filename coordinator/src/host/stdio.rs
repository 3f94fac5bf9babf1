//! go-plugin's `plugin.GRPCStdio`: a plugin served by hashicorp/go-plugin redirects its own
//! stdout and stderr into pipes that only this stream drains, so a handler that prints much
//! blocks (and its calls time out) unless the host reads the stream. The host opens it once
//! after connecting and logs every line with the plugin's name: stdout lines at info with
//! `stream = "stdio-stdout"`, stderr lines with their own level (hclog JSON or `[LEVEL]`), like
//! the process's own stderr. Lines are scrubbed of the secrets of the plugin's recent calls.
//!
//! A plugin that does not serve the service (the Rust and Python SDKs) answers UNIMPLEMENTED;
//! the task then ends quietly. Chunks are not lines: they are split on `\n`, and a line longer
//! than [`MAX_LINE`] is logged in pieces rather than held in memory.

use super::log_secrets::LogSecrets;
use super::stderr::log_line;
use switchyard_proto::go_plugin::grpc_stdio_client::GrpcStdioClient;
use switchyard_proto::go_plugin::stdio_data::Channel as StdioChannel;
use tokio::task::JoinHandle;
use tonic::transport::Channel;

/// The longest line kept whole; longer ones are logged in pieces of this size.
pub(crate) const MAX_LINE: usize = 16 * 1024;

/// Starts reading the plugin's stdio stream in the background; the task ends with the stream
/// (when the plugin exits) or at once if the plugin does not serve it.
pub(crate) fn follow(
    name: String,
    pid: u32,
    channel: Channel,
    secrets: LogSecrets,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut client = GrpcStdioClient::new(channel);
        let mut stream = match client.stream_stdio(()).await {
            Ok(response) => response.into_inner(),
            Err(status) => {
                tracing::debug!(plugin = %name, pid, code = ?status.code(), "plugin.GRPCStdio not served");
                return;
            }
        };
        let log = Sink { name, pid, secrets };
        let (mut out, mut err) = (LineBuffer::default(), LineBuffer::default());
        while let Ok(Some(chunk)) = stream.message().await {
            match chunk.channel() {
                StdioChannel::Stdout => out.push(&chunk.data, |l| log.stdout(l)),
                StdioChannel::Stderr => err.push(&chunk.data, |l| log.stderr(l)),
                StdioChannel::Invalid => {}
            }
        }
        out.finish(|l| log.stdout(l));
        err.finish(|l| log.stderr(l));
    })
}

/// Where the lines go.
struct Sink {
    name: String,
    pid: u32,
    secrets: LogSecrets,
}

impl Sink {
    fn stdout(&self, line: &str) {
        let line = self.secrets.scrub(line.to_owned());
        tracing::info!(target: "switchyard::plugin", plugin = %self.name, pid = self.pid, stream = "stdio-stdout", "{line}");
    }

    fn stderr(&self, line: &str) {
        log_line(&self.name, self.pid, &self.secrets.scrub(line.to_owned()));
    }
}

/// Bytes of one channel, cut into lines.
#[derive(Debug, Default)]
struct LineBuffer {
    pending: Vec<u8>,
}

impl LineBuffer {
    /// Adds a chunk and hands `emit` every line it completes (without the `\n`, a trailing
    /// `\r` dropped), and pieces of an over-long line.
    fn push(&mut self, chunk: &[u8], mut emit: impl FnMut(&str)) {
        for part in chunk.split_inclusive(|&b| b == b'\n') {
            let (bytes, complete) = match part.strip_suffix(b"\n") {
                Some(line) => (line, true),
                None => (part, false),
            };
            self.pending.extend_from_slice(bytes);
            while self.pending.len() > MAX_LINE {
                let rest = self.pending.split_off(MAX_LINE);
                emit(&String::from_utf8_lossy(&self.pending));
                self.pending = rest;
            }
            if complete {
                let line = self.pending.strip_suffix(b"\r").unwrap_or(&self.pending);
                emit(&String::from_utf8_lossy(line));
                self.pending.clear();
            }
        }
    }

    /// Hands over what is left after the stream ended.
    fn finish(&mut self, mut emit: impl FnMut(&str)) {
        if !self.pending.is_empty() {
            emit(&String::from_utf8_lossy(&self.pending));
            self.pending.clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(chunks: &[&[u8]]) -> Vec<String> {
        let mut buf = LineBuffer::default();
        let mut out = Vec::new();
        for c in chunks {
            buf.push(c, |l| out.push(l.to_owned()));
        }
        buf.finish(|l| out.push(l.to_owned()));
        out
    }

    #[test]
    fn chunks_are_joined_and_split_into_lines() {
        assert_eq!(
            lines(&[b"one\ntw", b"o\r\n", b"\nthree"]),
            ["one", "two", "", "three"]
        );
    }

    #[test]
    fn an_over_long_line_comes_in_pieces() {
        let long = vec![b'x'; MAX_LINE * 2 + 5];
        let out = lines(&[&long, b"\n"]);
        assert_eq!(
            out.iter().map(String::len).collect::<Vec<_>>(),
            [MAX_LINE, MAX_LINE, 5]
        );
    }
}
