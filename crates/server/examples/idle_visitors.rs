//! Load tool: memory per idle visitor WebSocket.
//!
//! Opens `COUNT` visitor connections to a running server (each sends `hello` and
//! waits for `welcome`, as a widget does at page load), then reports the
//! server's resident memory growth per connection, read from /proc.
//!
//! The server needs its per-address caps lifted (all connections come from
//! one address); docs/benchmarks.md has the commands:
//!
//! ```text
//! switchboard serve --demo --config bench.toml --data-dir /tmp/sb-bench &
//! cargo run --release --example idle_visitors -- http://127.0.0.1:8080 $! 5000
//! ```

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::{Message, client::IntoClientRequest, http::HeaderValue};

fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("server pid");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS line")
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (Some(base), Some(pid), Some(count)) = (args.get(1), args.get(2), args.get(3)) else {
        eprintln!("usage: idle_visitors PUBLIC_URL SERVER_PID COUNT");
        std::process::exit(2);
    };
    let pid: u32 = pid.parse().expect("pid");
    let count: usize = count.parse().expect("count");
    let url = format!(
        "{}/ws/visitor?tenant=demo&link=sales",
        base.replace("http://", "ws://")
    );
    let hello = r#"{"v":1,"type":"hello","context":{"url":"http://shop.example/","title":"Shop","referrer":"","pages":[{"url":"http://shop.example/","title":"Shop","at":1}],"language":"en-US","timezone":"Europe/Berlin"}}"#;

    // Warm up allocator and lazy statics with a few connections first.
    let mut sockets = Vec::with_capacity(count + 10);
    for _ in 0..10 {
        sockets.push(open(&url, base, hello).await);
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let before = rss_kib(pid);
    for _ in 0..count {
        sockets.push(open(&url, base, hello).await);
    }
    // Let the server settle (freed handshake buffers) before reading memory.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let after = rss_kib(pid);
    let per = (after.saturating_sub(before) as f64 * 1024.0) / count as f64;
    println!(
        "connections={count} rss_before={before}KiB rss_after={after}KiB per_connection={per:.0}B"
    );
    drop(sockets);
}

async fn open(
    url: &str,
    origin: &str,
    hello: &str,
) -> tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>> {
    let mut request = url.into_client_request().expect("url");
    request
        .headers_mut()
        .insert("origin", HeaderValue::from_str(origin).expect("origin"));
    let (mut ws, _) = tokio_tungstenite::connect_async(request)
        .await
        .expect("connect (raise ulimit -n, visitor_connects_per_minute and max_per_ip)");
    ws.send(Message::Text(hello.into())).await.expect("hello");
    loop {
        match ws.next().await {
            Some(Ok(Message::Text(t))) if t.contains("\"welcome\"") => return ws,
            Some(Ok(_)) => {}
            other => panic!("no welcome: {other:?}"),
        }
    }
}
