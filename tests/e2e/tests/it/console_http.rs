//! The web console's side of the TCP listener, over plain HTTP/1.1 as a browser speaks it: the
//! embedded files at `/`, a 404 for other pages, and gRPC-Web calls that go through the same
//! token check as gRPC (the browser tests in `console/test` drive the console itself).

use switchyard_e2e::coordinator::{Coordinator, CoordinatorOptions};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

const TOKEN: &str = "console-e2e-token";
const LIST_PROVIDERS: &str = "/switchyard.coordinator.v1.ProviderService/ListProviders";

async fn start() -> Coordinator {
    Coordinator::start(CoordinatorOptions {
        env: vec![
            ("SWITCHYARD_API__TCP_LISTEN".into(), "127.0.0.1:0".into()),
            ("SWITCHYARD_API__AUTH_TOKEN".into(), TOKEN.into()),
        ],
        ..Default::default()
    })
    .await
}

/// One HTTP/1.1 exchange on a fresh connection; the whole answer, as (lossy) text.
async fn exchange(coord: &Coordinator, head: &str, body: &[u8]) -> String {
    let mut stream = tokio::net::TcpStream::connect(coord.tcp_addr())
        .await
        .expect("connect to the TCP listener");
    let request = format!(
        "{head}\r\nHost: localhost\r\nConnection: close\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    stream.write_all(request.as_bytes()).await.expect("write");
    stream.write_all(body).await.expect("write the body");
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).await.expect("read");
    String::from_utf8_lossy(&answer).into_owned()
}

/// A gRPC-Web call of ListProviders (an empty message: a 5-byte frame of length 0).
async fn grpc_web_list(coord: &Coordinator, token: Option<&str>) -> String {
    let auth = token.map_or(String::new(), |t| format!("\r\nAuthorization: Bearer {t}"));
    let head = format!(
        "POST {LIST_PROVIDERS} HTTP/1.1\r\nContent-Type: application/grpc-web+proto\r\n\
         X-Grpc-Web: 1{auth}"
    );
    exchange(coord, &head, &[0, 0, 0, 0, 0]).await
}

#[tokio::test]
async fn the_console_is_served_at_the_root_and_other_pages_are_not_found() {
    let coord = start().await;
    let index = exchange(&coord, "GET / HTTP/1.1", b"").await;
    assert!(index.starts_with("HTTP/1.1 200"), "{index}");
    assert!(
        index
            .to_ascii_lowercase()
            .contains("content-type: text/html"),
        "{index}"
    );
    assert!(index.contains("/assets/console.js"), "{index}");
    let script = exchange(&coord, "GET /assets/console.js HTTP/1.1", b"").await;
    assert!(script.starts_with("HTTP/1.1 200"), "{}", &script[..200]);
    let missing = exchange(&coord, "GET /favicon.ico HTTP/1.1", b"").await;
    assert!(missing.starts_with("HTTP/1.1 404"), "{missing}");
}

#[tokio::test]
async fn grpc_web_calls_need_the_token_like_grpc_calls() {
    let coord = start().await;
    let anonymous = grpc_web_list(&coord, None).await;
    assert!(anonymous.contains("grpc-status: 16"), "{anonymous}");
    assert!(!anonymous.contains("webhook.webhook"), "{anonymous}");
    let wrong = grpc_web_list(&coord, Some("not-it")).await;
    assert!(wrong.contains("grpc-status: 16"), "{wrong}");
    let allowed = grpc_web_list(&coord, Some(TOKEN)).await;
    assert!(allowed.starts_with("HTTP/1.1 200"), "{allowed}");
    assert!(
        allowed
            .to_ascii_lowercase()
            .contains("content-type: application/grpc-web"),
        "{allowed}"
    );
    assert!(allowed.contains("webhook.webhook"), "{allowed}");
    // The trailers travel in the body's last frame: grpc-status 0.
    assert!(allowed.contains("grpc-status:0"), "{allowed}");
}
