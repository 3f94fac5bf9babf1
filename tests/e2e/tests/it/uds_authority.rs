//! The Unix socket accepts the `:authority` grpc-java sends: the raw socket path
//! (`/run/x.sock`), which is not a valid URI authority. No Rust HTTP/2 client can send one
//! (they build it from a `Uri`), so the test speaks HTTP/2 itself: hand-encoded HPACK
//! (literals, no Huffman) to the real `switchyard serve`, and reads the server's frames. The
//! second request refers to the first one's `:authority` through the HPACK dynamic table.

use std::time::Duration;

use switchyard_e2e::coordinator::Coordinator;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::UnixStream;

const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
const DATA: u8 = 0x0;
const HEADERS: u8 = 0x1;
const RST_STREAM: u8 = 0x3;
const SETTINGS: u8 = 0x4;
const GOAWAY: u8 = 0x7;
const END_STREAM: u8 = 0x1;
const END_HEADERS: u8 = 0x4;
const ACK: u8 = 0x1;

fn frame(kind: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
    let len = u32::try_from(payload.len())
        .expect("small frame")
        .to_be_bytes();
    let mut out = len[1..].to_vec();
    out.extend_from_slice(&[kind, flags]);
    out.extend_from_slice(&stream.to_be_bytes());
    out.extend_from_slice(payload);
    out
}

/// An HPACK string literal, raw (shorter than 127 octets).
fn string(s: &[u8], out: &mut Vec<u8>) {
    out.push(u8::try_from(s.len()).expect("short string"));
    out.extend_from_slice(s);
}

/// A ListProviders call's HEADERS block; `authority` is already encoded.
fn list_providers(authority: &[u8]) -> Vec<u8> {
    let mut block = vec![0x83, 0x86]; // :method POST, :scheme http (static table)
    block.push(0x04); // :path: literal without indexing, static name
    string(
        b"/switchyard.coordinator.v1.ProviderService/ListProviders",
        &mut block,
    );
    block.extend_from_slice(authority);
    block.push(0x0f);
    block.push(31 - 15); // content-type (static index 31): 4-bit prefix, then 16
    string(b"application/grpc", &mut block);
    block.push(0x00);
    string(b"te", &mut block);
    string(b"trailers", &mut block);
    block
}

/// What the server answered on one stream.
#[derive(Debug, Default)]
struct Answer {
    data: Vec<u8>,
    ended: bool,
    reset: Option<u32>,
}

/// Reads frames until `stream` ends or is reset (acknowledging the server's SETTINGS).
async fn answer(conn: &mut UnixStream, stream: u32) -> Answer {
    let mut got = Answer::default();
    while !got.ended && got.reset.is_none() {
        let mut head = [0u8; 9];
        conn.read_exact(&mut head).await.expect("a frame head");
        let len = usize::from(head[0]) << 16 | usize::from(head[1]) << 8 | usize::from(head[2]);
        let mut payload = vec![0; len];
        conn.read_exact(&mut payload)
            .await
            .expect("a frame payload");
        let on_stream = u32::from_be_bytes([head[5], head[6], head[7], head[8]]) == stream;
        match head[3] {
            SETTINGS if head[4] & ACK == 0 => {
                conn.write_all(&frame(SETTINGS, ACK, 0, &[]))
                    .await
                    .expect("ack");
            }
            GOAWAY => panic!("the server closed the connection: {payload:?}"),
            DATA if on_stream => got.data.extend_from_slice(&payload),
            HEADERS if on_stream => got.ended = head[4] & END_STREAM != 0,
            RST_STREAM if on_stream => {
                got.reset = Some(u32::from_be_bytes(payload[..4].try_into().expect("code")));
            }
            _ => {}
        }
    }
    got
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_raw_socket_path_as_authority_is_served_like_grpc_java_sends_it() {
    let coord = Coordinator::start_default().await;
    let socket = coord.socket();
    let mut conn = UnixStream::connect(&socket).await.expect("connect");
    let path = socket.display().to_string();

    // First call: `:authority` as a literal the client's table keeps (index 62 after it).
    let mut authority = vec![0x41];
    string(path.as_bytes(), &mut authority);
    let mut first = PREFACE.to_vec();
    first.extend(frame(SETTINGS, 0, 0, &[]));
    first.extend(frame(HEADERS, END_HEADERS, 1, &list_providers(&authority)));
    first.extend(frame(DATA, END_STREAM, 1, &[0; 5])); // an empty gRPC message
    conn.write_all(&first).await.expect("send");
    let bound = Duration::from_secs(30);
    let one = tokio::time::timeout(bound, answer(&mut conn, 1))
        .await
        .expect("an answer on stream 1");

    // Second call on the same connection: `:authority` only by its dynamic table index.
    let mut second = frame(HEADERS, END_HEADERS, 3, &list_providers(&[0xbe]));
    second.extend(frame(DATA, END_STREAM, 3, &[0; 5]));
    conn.write_all(&second).await.expect("send");
    let two = tokio::time::timeout(bound, answer(&mut conn, 3))
        .await
        .expect("an answer on stream 3");

    for (n, got) in [one, two].iter().enumerate() {
        assert_eq!(
            got.reset, None,
            "call {n} was reset (code 1 is PROTOCOL_ERROR)"
        );
        let found = got.data.windows(15).any(|w| w == b"webhook.webhook");
        assert!(found, "call {n}: no webhook provider in {:?}", got.data);
    }
}
