//! Lets standard gRPC clients use the Unix socket: [`AuthorityFix`] wraps each accepted stream
//! and rewrites an `:authority` that is not a valid URI authority to `localhost` before the
//! HTTP/2 server sees it.
//!
//! Why: grpcio (≥ 1.57) sends the percent-encoded socket path as `:authority` and grpc-java the
//! raw path (`/run/x.sock`); h2 parses it as a URI authority and resets the stream with
//! PROTOCOL_ERROR, and will not relax that (hyperium/h2#487). So the client's bytes are
//! rewritten on the way in, on the Unix listener only (TCP clients send a host name):
//!
//! - the connection preface and every frame but HEADERS and CONTINUATION pass through
//!   unchanged, as they arrive; server→client bytes are never touched;
//! - a header block (HEADERS + CONTINUATIONs) is collected and decoded with an HPACK decoder
//!   that follows the client's dynamic table ([`hpack`]). While no block has needed a fix, the
//!   original frames go on unchanged, so the server's table tracks the client's. From the first
//!   fix on, every block of the connection is re-encoded as literals without indexing: the
//!   server's table then never changes again and nothing refers to it, so both stay
//!   consistent. Re-encoded blocks drop padding and dynamic table size updates, keep the
//!   PRIORITY fields and END_STREAM, and are split into frames of at most 16,384 octets, the
//!   frame size every HTTP/2 peer must accept;
//! - a header block is bounded ([`MAX_BLOCK`] encoded, [`MAX_LIST`] decoded, far above the
//!   server's own 16 KiB list limit); malformed or oversized input closes the connection
//!   with an I/O error, never a panic. Header values (bearer tokens) are never logged.

mod hpack;
mod huffman;

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use hpack::{Field, HpackError};

/// The longest header block accepted, encoded (all its frames' fragments).
pub const MAX_BLOCK: usize = 64 * 1024;

/// The largest header list accepted, decoded (RFC 7541 sizes: octets + 32 per field).
pub const MAX_LIST: usize = 64 * 1024;

/// What an invalid `:authority` becomes.
const REPLACEMENT: &[u8] = b"localhost";

/// The client connection preface ("PRI * HTTP/2.0…"): passed through unread.
const PREFACE_LEN: usize = 24;

const FRAME_HEAD: usize = 9;
/// The largest payload of the frames written: SETTINGS_MAX_FRAME_SIZE's initial value, which
/// no peer may go below.
const MAX_FRAME: usize = 16_384;

const HEADERS: u8 = 0x1;
const CONTINUATION: u8 = 0x9;
const END_STREAM: u8 = 0x1;
const END_HEADERS: u8 = 0x4;
const PADDED: u8 = 0x8;
const PRIORITY: u8 = 0x20;

/// Why a client's HTTP/2 stream was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthorityFixError {
    /// A header block could not be decoded.
    #[error("malformed HTTP/2 header block: {0}")]
    Hpack(#[from] HpackError),
    /// Another frame came between a HEADERS frame and its CONTINUATIONs.
    #[error("a header block was interrupted by another frame (type {kind:#x}, stream {stream})")]
    Interleaved {
        /// The frame's type.
        kind: u8,
        /// Its stream.
        stream: u32,
    },
    /// A HEADERS frame's padding or priority fields do not fit in it.
    #[error("a HEADERS frame on stream {0} is shorter than its padding and priority fields")]
    BadPadding(u32),
    /// A header block is longer than [`MAX_BLOCK`].
    #[error("a header block is longer than {MAX_BLOCK} bytes")]
    BlockTooLarge,
}

/// A frame header (RFC 9113 §4.1).
#[derive(Debug, Clone, Copy)]
struct FrameHead {
    len: usize,
    kind: u8,
    flags: u8,
    stream: u32,
}

impl FrameHead {
    fn parse(b: &[u8; FRAME_HEAD]) -> Self {
        Self {
            len: usize::from(b[0]) << 16 | usize::from(b[1]) << 8 | usize::from(b[2]),
            kind: b[3],
            flags: b[4],
            stream: u32::from_be_bytes([b[5], b[6], b[7], b[8]]) & 0x7fff_ffff,
        }
    }

    fn write(self, out: &mut Vec<u8>) {
        let len = u32::try_from(self.len).unwrap_or(u32::MAX).to_be_bytes();
        out.extend_from_slice(&len[1..]);
        out.extend_from_slice(&[self.kind, self.flags]);
        out.extend_from_slice(&self.stream.to_be_bytes());
    }
}

/// A header block being collected.
#[derive(Debug)]
struct Block {
    stream: u32,
    end_stream: bool,
    priority: Option<[u8; 5]>,
    fragment: Vec<u8>,
    /// The frames as received, sent on when nothing needs fixing.
    raw: Vec<u8>,
}

/// Where the parser is in the client's byte stream.
#[derive(Debug)]
enum State {
    Preface { left: usize },
    Head { buf: [u8; FRAME_HEAD], len: usize },
    Pass { left: usize },
    Collect { head: FrameHead, payload: Vec<u8> },
}

/// What [`Rewriter::advance`] found.
#[derive(Debug)]
enum Next {
    /// Keep going.
    More,
    /// A frame header is complete.
    Start(FrameHead),
    /// A collected frame is complete.
    End,
}

/// The client→server rewriter, without I/O: bytes in, bytes out.
#[derive(Debug)]
pub struct Rewriter {
    state: State,
    block: Option<Block>,
    decoder: hpack::Decoder,
    /// Set by the first fix: every later block is re-encoded.
    rewriting: bool,
}

impl Default for Rewriter {
    fn default() -> Self {
        Self {
            state: State::Preface { left: PREFACE_LEN },
            block: None,
            decoder: hpack::Decoder::default(),
            rewriting: false,
        }
    }
}

impl Rewriter {
    /// Takes the next bytes the client sent and appends what the server should read to `out`.
    ///
    /// # Errors
    /// [`AuthorityFixError`] when the client sent a malformed or oversized header block; the
    /// connection must then close.
    pub fn feed(&mut self, mut input: &[u8], out: &mut Vec<u8>) -> Result<(), AuthorityFixError> {
        while !input.is_empty() {
            let (taken, next) = self.advance(input, out);
            input = &input[taken..];
            match next {
                Next::More => {}
                Next::Start(head) => self.start_frame(head, out)?,
                Next::End => self.end_frame(out)?,
            }
        }
        Ok(())
    }

    /// Takes what the current state can of `input`; says how much, and what to do next.
    fn advance(&mut self, input: &[u8], out: &mut Vec<u8>) -> (usize, Next) {
        match &mut self.state {
            State::Preface { left } | State::Pass { left } => {
                let n = (*left).min(input.len());
                out.extend_from_slice(&input[..n]);
                *left -= n;
                if *left == 0 {
                    self.state = head_state();
                }
                (n, Next::More)
            }
            State::Head { buf, len } => {
                let n = (FRAME_HEAD - *len).min(input.len());
                buf[*len..*len + n].copy_from_slice(&input[..n]);
                *len += n;
                let next = if *len == FRAME_HEAD {
                    Next::Start(FrameHead::parse(buf))
                } else {
                    Next::More
                };
                (n, next)
            }
            State::Collect { head, payload } => {
                let n = (head.len - payload.len()).min(input.len());
                payload.extend_from_slice(&input[..n]);
                let next = if payload.len() == head.len {
                    Next::End
                } else {
                    Next::More
                };
                (n, next)
            }
        }
    }

    /// A frame header was read: collect a header block's frames, pass on every other frame.
    fn start_frame(&mut self, head: FrameHead, out: &mut Vec<u8>) -> Result<(), AuthorityFixError> {
        let collect = match &self.block {
            Some(block) if head.kind != CONTINUATION || head.stream != block.stream => {
                return Err(AuthorityFixError::Interleaved {
                    kind: head.kind,
                    stream: head.stream,
                });
            }
            Some(block) => {
                if block.fragment.len() + head.len > MAX_BLOCK {
                    return Err(AuthorityFixError::BlockTooLarge);
                }
                true
            }
            None if head.kind == HEADERS && head.len > MAX_BLOCK => {
                return Err(AuthorityFixError::BlockTooLarge);
            }
            None => head.kind == HEADERS,
        };
        if collect {
            self.state = State::Collect {
                head,
                payload: Vec::with_capacity(head.len),
            };
            if head.len == 0 {
                self.end_frame(out)?;
            }
        } else {
            head.write(out);
            self.state = match head.len {
                0 => head_state(),
                left => State::Pass { left },
            };
        }
        Ok(())
    }

    /// A HEADERS or CONTINUATION frame is complete: add it to the block, and on END_HEADERS
    /// send the block on.
    fn end_frame(&mut self, out: &mut Vec<u8>) -> Result<(), AuthorityFixError> {
        let State::Collect { head, payload } = std::mem::replace(&mut self.state, head_state())
        else {
            return Ok(());
        };
        let block = match self.block.take() {
            Some(mut block) => {
                block.fragment.extend_from_slice(&payload);
                block
            }
            None => Block::open(head, &payload)?,
        };
        let mut block = block;
        head.write(&mut block.raw);
        block.raw.extend_from_slice(&payload);
        if head.flags & END_HEADERS == 0 {
            self.block = Some(block);
            return Ok(());
        }
        self.send_block(&block, out)
    }

    /// Decodes a complete block and sends either its original frames or, once a fix was
    /// needed on this connection, re-encoded ones.
    fn send_block(&mut self, block: &Block, out: &mut Vec<u8>) -> Result<(), AuthorityFixError> {
        let mut fixed = false;
        let mut encoded = Vec::with_capacity(block.fragment.len() + 64);
        self.decoder.decode(&block.fragment, MAX_LIST, |field| {
            let field = if field.name == b":authority" && !valid_authority(field.value) {
                fixed = true;
                Field {
                    value: REPLACEMENT,
                    ..field
                }
            } else {
                field
            };
            hpack::encode_literal(field, &mut encoded);
        })?;
        if fixed && !self.rewriting {
            tracing::debug!(
                "rewriting the :authority of requests on a Unix-socket connection (not a valid authority)"
            );
            self.rewriting = true;
        }
        if self.rewriting {
            write_block(block, &encoded, out);
        } else {
            out.extend_from_slice(&block.raw);
        }
        Ok(())
    }
}

impl Block {
    /// Starts a block from its HEADERS frame, without the padding.
    fn open(head: FrameHead, payload: &[u8]) -> Result<Self, AuthorityFixError> {
        let bad = || AuthorityFixError::BadPadding(head.stream);
        let mut rest = payload;
        let mut pad = 0;
        if head.flags & PADDED != 0 {
            let (&len, tail) = rest.split_first().ok_or_else(bad)?;
            (pad, rest) = (usize::from(len), tail);
        }
        let mut priority = None;
        if head.flags & PRIORITY != 0 {
            let (fields, tail) = rest.split_first_chunk::<5>().ok_or_else(bad)?;
            (priority, rest) = (Some(*fields), tail);
        }
        let end = rest.len().checked_sub(pad).ok_or_else(bad)?;
        Ok(Self {
            stream: head.stream,
            end_stream: head.flags & END_STREAM != 0,
            priority,
            fragment: rest[..end].to_vec(),
            raw: Vec::with_capacity(FRAME_HEAD + payload.len()),
        })
    }
}

/// Writes `fragment` as a HEADERS frame (with the block's END_STREAM and PRIORITY) and as
/// many CONTINUATIONs as [`MAX_FRAME`] requires.
fn write_block(block: &Block, fragment: &[u8], out: &mut Vec<u8>) {
    let mut flags = if block.end_stream { END_STREAM } else { 0 };
    let mut room = MAX_FRAME;
    if block.priority.is_some() {
        flags |= PRIORITY;
        room -= 5;
    }
    let (first, mut rest) = fragment.split_at(room.min(fragment.len()));
    let last = |rest: &[u8]| if rest.is_empty() { END_HEADERS } else { 0 };
    let head = FrameHead {
        len: first.len() + if block.priority.is_some() { 5 } else { 0 },
        kind: HEADERS,
        flags: flags | last(rest),
        stream: block.stream,
    };
    head.write(out);
    out.extend_from_slice(block.priority.as_ref().map_or(&[][..], |p| &p[..]));
    out.extend_from_slice(first);
    while !rest.is_empty() {
        let (chunk, tail) = rest.split_at(MAX_FRAME.min(rest.len()));
        rest = tail;
        let head = FrameHead {
            len: chunk.len(),
            kind: CONTINUATION,
            flags: last(rest),
            stream: block.stream,
        };
        head.write(out);
        out.extend_from_slice(chunk);
    }
}

fn head_state() -> State {
    State::Head {
        buf: [0; FRAME_HEAD],
        len: 0,
    }
}

/// Whether h2 accepts `value` as `:authority` (it parses it with the same type).
fn valid_authority(value: &[u8]) -> bool {
    http::uri::Authority::try_from(value).is_ok()
}

/// An accepted Unix-socket stream whose client→server bytes go through a [`Rewriter`].
#[derive(Debug)]
pub struct AuthorityFix<S> {
    inner: S,
    rewriter: Rewriter,
    /// Rewritten bytes not yet read by the server, from `out_at` on.
    out: Vec<u8>,
    out_at: usize,
    scratch: Box<[u8]>,
    failed: bool,
}

impl<S> AuthorityFix<S> {
    /// Wraps an accepted stream.
    pub fn new(inner: S) -> Self {
        Self {
            inner,
            rewriter: Rewriter::default(),
            out: Vec::new(),
            out_at: 0,
            scratch: vec![0; MAX_FRAME].into_boxed_slice(),
            failed: false,
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for AuthorityFix<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        loop {
            if this.failed {
                return Poll::Ready(Err(io::ErrorKind::InvalidData.into()));
            }
            if this.out_at < this.out.len() {
                let n = buf.remaining().min(this.out.len() - this.out_at);
                buf.put_slice(&this.out[this.out_at..this.out_at + n]);
                this.out_at += n;
                if this.out_at == this.out.len() {
                    this.out.clear();
                    this.out_at = 0;
                }
                return Poll::Ready(Ok(()));
            }
            let mut read = ReadBuf::new(&mut this.scratch);
            ready!(Pin::new(&mut this.inner).poll_read(cx, &mut read))?;
            if read.filled().is_empty() {
                return Poll::Ready(Ok(()));
            }
            if let Err(e) = this.rewriter.feed(read.filled(), &mut this.out) {
                tracing::warn!(error = %e, "closing an API connection on the Unix socket");
                this.failed = true;
                return Poll::Ready(Err(io::Error::new(io::ErrorKind::InvalidData, e)));
            }
        }
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for AuthorityFix<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

impl<S: tonic::transport::server::Connected> tonic::transport::server::Connected
    for AuthorityFix<S>
{
    type ConnectInfo = S::ConnectInfo;

    fn connect_info(&self) -> Self::ConnectInfo {
        self.inner.connect_info()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    type Fields = Vec<(String, String)>;

    const PREFACE: &[u8; PREFACE_LEN] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

    fn frame(kind: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        FrameHead {
            len: payload.len(),
            kind,
            flags,
            stream,
        }
        .write(&mut out);
        out.extend_from_slice(payload);
        out
    }

    /// A field as literal with incremental indexing and a literal name (the client's table
    /// gains it), the value Huffman-coded if `huffman`.
    fn indexed_literal(name: &str, value: &str, huffman: bool, out: &mut Vec<u8>) {
        out.push(0x40);
        string(name.as_bytes(), false, out);
        string(value.as_bytes(), huffman, out);
    }

    fn string(s: &[u8], huffman: bool, out: &mut Vec<u8>) {
        let coded = if huffman {
            huffman::tests::encode(s)
        } else {
            s.to_vec()
        };
        assert!(coded.len() < 127, "short strings only in these tests");
        out.push(if huffman { 0x80 } else { 0 } | coded.len() as u8);
        out.extend_from_slice(&coded);
    }

    /// POST /svc/Method, http, with `authority`; indexed from the static table otherwise.
    fn request(authority: &str, huffman: bool) -> Vec<u8> {
        let mut block = vec![0x83, 0x86]; // :method POST, :scheme http
        block.push(0x04); // :path, literal without indexing, indexed name
        string(b"/svc/Method", false, &mut block);
        indexed_literal(":authority", authority, huffman, &mut block);
        indexed_literal("te", "trailers", false, &mut block);
        block
    }

    fn rewrite(input: &[u8]) -> Result<Vec<u8>, AuthorityFixError> {
        let mut out = Vec::new();
        Rewriter::default().feed(input, &mut out).map(|()| out)
    }

    /// What the server makes of the bytes: (stream, END_STREAM, fields) per header block,
    /// decoded with one table for the connection, as h2 does; asserts the frame sizes.
    fn server_view(bytes: &[u8]) -> Vec<(u32, bool, Fields)> {
        assert_eq!(&bytes[..PREFACE_LEN], PREFACE);
        let mut rest = &bytes[PREFACE_LEN..];
        let (mut decoder, mut blocks, mut open) = (hpack::Decoder::default(), Vec::new(), None);
        while !rest.is_empty() {
            let head = FrameHead::parse(rest[..FRAME_HEAD].try_into().expect("a frame head"));
            assert!(head.len <= MAX_FRAME, "a {}-byte frame", head.len);
            let mut payload = &rest[FRAME_HEAD..FRAME_HEAD + head.len];
            rest = &rest[FRAME_HEAD + head.len..];
            if head.kind == HEADERS {
                let pad = if head.flags & PADDED != 0 {
                    let p = usize::from(payload[0]);
                    payload = &payload[1..];
                    p
                } else {
                    0
                };
                if head.flags & PRIORITY != 0 {
                    payload = &payload[5..];
                }
                let end = payload.len() - pad;
                open = Some((
                    head.stream,
                    head.flags & END_STREAM != 0,
                    payload[..end].to_vec(),
                ));
            } else if head.kind == CONTINUATION {
                open.as_mut()
                    .expect("an open block")
                    .2
                    .extend_from_slice(payload);
            } else {
                continue;
            }
            if head.flags & END_HEADERS != 0 {
                let (stream, end_stream, fragment) = open.take().expect("an open block");
                let mut fields = Vec::new();
                decoder
                    .decode(&fragment, MAX_LIST, |f| {
                        let s = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
                        fields.push((s(f.name), s(f.value)));
                    })
                    .expect("the server can decode every block");
                blocks.push((stream, end_stream, fields));
            }
        }
        blocks
    }

    fn authority(fields: &[(String, String)]) -> Option<&str> {
        fields
            .iter()
            .find(|(n, _)| n == ":authority")
            .map(|(_, v)| v.as_str())
    }

    fn connection(frames: &[Vec<u8>]) -> Vec<u8> {
        let mut bytes = PREFACE.to_vec();
        bytes.extend(frame(0x4, 0, 0, &[])); // SETTINGS
        for f in frames {
            bytes.extend_from_slice(f);
        }
        bytes
    }

    #[test]
    fn a_valid_authority_passes_through_byte_for_byte() {
        let bytes = connection(&[
            frame(HEADERS, END_HEADERS, 1, &request("localhost", true)),
            frame(0x0, END_STREAM, 1, b"\0\0\0\0\x02hi"),
        ]);
        assert_eq!(rewrite(&bytes), Ok(bytes));
    }

    #[test]
    fn a_percent_encoded_or_raw_socket_path_becomes_localhost() {
        // grpcio sends the first (Huffman-coded), grpc-java the second.
        for (path, huffman) in [("%2Ftmp%2Fsy%2Fapi.sock", true), ("/run/x.sock", false)] {
            let bytes = connection(&[frame(
                HEADERS,
                END_HEADERS | END_STREAM,
                1,
                &request(path, huffman),
            )]);
            let blocks = server_view(&rewrite(&bytes).expect("rewritten"));
            let want: Vec<(String, String)> = [
                (":method", "POST"),
                (":scheme", "http"),
                (":path", "/svc/Method"),
                (":authority", "localhost"),
                ("te", "trailers"),
            ]
            .iter()
            .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
            .collect();
            assert_eq!(blocks, vec![(1, true, want)], "{path}");
        }
    }

    #[test]
    fn later_requests_referring_to_the_clients_dynamic_table_still_decode() {
        // 1: valid, passed through (the server's table gains `user-agent: py`);
        // 2: a socket path, rewritten (the client's table gains it, the server's does not);
        // 3: only references to the client's table, which the server cannot follow any more.
        let mut first = request("localhost", false);
        indexed_literal("user-agent", "py", true, &mut first);
        let second = request("/run/x.sock", true);
        // Client table now, newest first: 62 te, 63 :authority /run/x.sock, 64 user-agent,
        // 65 te, 66 :authority localhost.
        let third = vec![0x83, 0x86, 0x84, 0xbf, 0xc0, 0xbe];
        let bytes = connection(&[
            frame(HEADERS, END_HEADERS, 1, &first),
            frame(HEADERS, END_HEADERS, 3, &second),
            frame(HEADERS, END_HEADERS, 5, &third),
        ]);
        let blocks = server_view(&rewrite(&bytes).expect("rewritten"));
        let authorities: Vec<_> = blocks.iter().map(|b| authority(&b.2)).collect();
        assert_eq!(authorities, [Some("localhost"); 3]);
        let third_fields = &blocks[2].2;
        assert!(third_fields.contains(&("user-agent".into(), "py".into())));
        assert!(third_fields.contains(&("te".into(), "trailers".into())));
        assert_eq!(blocks[2].0, 5);
    }

    #[test]
    fn input_split_anywhere_gives_the_same_bytes() {
        let mut big = request("/run/x.sock", false);
        indexed_literal("x-a", &"a".repeat(100), false, &mut big);
        let (head, tail) = big.split_at(20);
        let bytes = connection(&[
            frame(HEADERS, END_HEADERS, 1, &request("localhost", false)),
            frame(0x0, END_STREAM, 1, &[7; 300]),
            frame(HEADERS, 0, 3, head),
            frame(CONTINUATION, END_HEADERS, 3, tail),
            frame(0x8, 0, 0, &[0, 0, 1, 0]), // WINDOW_UPDATE
        ]);
        let whole = rewrite(&bytes).expect("rewritten");
        let mut r = Rewriter::default();
        let mut bytewise = Vec::new();
        for b in &bytes {
            r.feed(std::slice::from_ref(b), &mut bytewise).expect("fed");
        }
        assert_eq!(bytewise, whole);
        let blocks = server_view(&whole);
        assert_eq!(authority(&blocks[1].2), Some("localhost"));
        // The DATA and WINDOW_UPDATE frames come through unchanged.
        assert!(whole.windows(300).any(|w| w == [7; 300]));
        assert!(whole.ends_with(&frame(0x8, 0, 0, &[0, 0, 1, 0])));
    }

    #[test]
    fn a_rewritten_block_larger_than_a_frame_is_split_into_continuations() {
        let mut block = request("/run/x.sock", false);
        // Nine 4,000-octet values sent as indexed references would not fit the tests'
        // string helper; literals without indexing do.
        for n in 0..9 {
            block.push(0x00);
            string(format!("x-{n}").as_bytes(), false, &mut block);
            block.push(0x7f); // length 4000: 127 + 3873 (0xa1 0x1e)
            block.extend_from_slice(&[0xa1, 0x1e]);
            block.extend(std::iter::repeat_n(b'v', 4000));
        }
        let (a, rest) = block.split_at(10_000);
        let (b, c) = rest.split_at(10_000);
        let bytes = connection(&[
            frame(HEADERS, 0, 1, a),
            frame(CONTINUATION, 0, 1, b),
            frame(CONTINUATION, END_HEADERS, 1, c),
        ]);
        let out = rewrite(&bytes).expect("rewritten");
        let blocks = server_view(&out);
        assert_eq!(blocks.len(), 1);
        assert_eq!(authority(&blocks[0].2), Some("localhost"));
        assert_eq!(blocks[0].2.len(), 5 + 9);
        assert!(
            blocks[0]
                .2
                .iter()
                .all(|(n, v)| !n.starts_with("x-") || v.len() == 4000)
        );
    }

    #[test]
    fn padding_is_dropped_and_priority_and_end_stream_are_kept() {
        let block = request("/run/x.sock", false);
        let mut payload = vec![3]; // pad length
        payload.extend_from_slice(&[0x80, 0, 0, 1, 15]); // exclusive on stream 1, weight 16
        payload.extend_from_slice(&block);
        payload.extend_from_slice(&[0; 3]);
        let flags = END_HEADERS | END_STREAM | PADDED | PRIORITY;
        let out = rewrite(&connection(&[frame(HEADERS, flags, 3, &payload)])).expect("ok");
        let at = PREFACE_LEN + FRAME_HEAD;
        let head = FrameHead::parse(out[at..at + FRAME_HEAD].try_into().expect("head"));
        assert_eq!(head.flags, END_HEADERS | END_STREAM | PRIORITY);
        assert_eq!(
            &out[at + FRAME_HEAD..at + FRAME_HEAD + 5],
            &[0x80, 0, 0, 1, 15]
        );
        assert_eq!(authority(&server_view(&out)[0].2), Some("localhost"));
    }

    #[test]
    fn malformed_or_oversized_input_is_an_error() {
        let interleaved = connection(&[
            frame(HEADERS, 0, 1, &request("localhost", false)),
            frame(0x0, 0, 1, b"x"),
        ]);
        assert_eq!(
            rewrite(&interleaved),
            Err(AuthorityFixError::Interleaved { kind: 0, stream: 1 })
        );
        let bad_pad = connection(&[frame(HEADERS, END_HEADERS | PADDED, 1, &[9, 0x82])]);
        assert_eq!(rewrite(&bad_pad), Err(AuthorityFixError::BadPadding(1)));
        let mut huge = PREFACE.to_vec();
        FrameHead {
            len: MAX_BLOCK + 1,
            kind: HEADERS,
            flags: 0,
            stream: 1,
        }
        .write(&mut huge);
        assert_eq!(rewrite(&huge), Err(AuthorityFixError::BlockTooLarge));
        let bad_index = connection(&[frame(HEADERS, END_HEADERS, 1, &[0xff, 0x10])]);
        assert_eq!(
            rewrite(&bad_index),
            Err(AuthorityFixError::Hpack(HpackError::BadIndex(143)))
        );
    }

    #[tokio::test]
    async fn the_stream_adapter_rewrites_reads_and_reports_errors_as_io_errors() {
        use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
        let (mut client, server) = tokio::io::duplex(64);
        let mut fixed = AuthorityFix::new(server);
        let bytes = connection(&[frame(
            HEADERS,
            END_HEADERS,
            1,
            &request("/run/x.sock", false),
        )]);
        let writer = tokio::spawn(async move {
            for chunk in bytes.chunks(7) {
                client.write_all(chunk).await.expect("write");
            }
            client
                .write_all(&frame(0x0, 0, 3, b"x")[..5])
                .await
                .expect("write");
            client
        });
        let mut got = Vec::new();
        let mut buf = [0u8; 5];
        while got.len() < PREFACE_LEN + FRAME_HEAD * 2 {
            let n = fixed.read(&mut buf).await.expect("read");
            got.extend_from_slice(&buf[..n]);
        }
        let mut client = writer.await.expect("writer");
        let len = usize::from(got[PREFACE_LEN + FRAME_HEAD + 2]);
        while got.len() < PREFACE_LEN + FRAME_HEAD * 2 + len {
            let n = fixed.read(&mut buf).await.expect("read");
            got.extend_from_slice(&buf[..n]);
        }
        assert_eq!(authority(&server_view(&got)[0].2), Some("localhost"));
        // A DATA frame's head, then an interrupted block: HEADERS without END_HEADERS + DATA.
        client
            .write_all(&frame(0x0, 0, 3, b"x")[5..])
            .await
            .expect("write");
        client
            .write_all(&frame(HEADERS, 0, 5, &[0x82]))
            .await
            .expect("write");
        client
            .write_all(&frame(0x0, 0, 5, b"x"))
            .await
            .expect("write");
        let err = loop {
            match fixed.read(&mut buf).await {
                Ok(n) => assert!(n > 0, "no EOF before the error"),
                Err(e) => break e,
            }
        };
        assert_eq!(err.kind(), io::ErrorKind::InvalidData);
        assert!(err.to_string().contains("interrupted"), "{err}");
    }
}
