//! Connection floods: what one address holds open cannot starve another, and
//! connections that say nothing are closed.

mod common;

use std::{net::IpAddr, time::Duration};

use common::{TestServer, WAIT, Ws, hello};
use serde_json::json;
use switchboard::config::Connections;
use tokio::{io::AsyncReadExt, net::TcpStream};

fn quick_deadlines() -> Connections {
    Connections {
        header_read_timeout_secs: 2,
        hello_timeout_secs: 2,
        ..Connections::default()
    }
}

/// Reads until the server closes the connection (EOF or reset).
async fn closed_by_server(mut tcp: TcpStream) {
    let mut buf = [0u8; 512];
    loop {
        match tcp.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
    }
}

#[tokio::test]
async fn five_thousand_idle_connections_from_one_address_leave_a_chat_from_another() {
    let server = TestServer::builder()
        .connections(quick_deadlines())
        .start()
        .await;
    let per_ip = Connections::default().max_per_ip;
    let public = server.public.trim_start_matches("http://").to_owned();
    // 5,000 connections from 127.0.0.1 that never send a byte.
    let mut idle = Vec::with_capacity(5000);
    for _ in 0..5000 {
        idle.push(TcpStream::connect(&public).await.expect("connect"));
    }

    // Another address is served at once: a chat starts.
    let url = format!(
        "ws://{}/ws/visitor?tenant=demo&link=sales",
        server.public.trim_start_matches("http://")
    );
    let local: IpAddr = [127, 0, 0, 2].into();
    let mut visitor = Ws::connect_from(local, &url, &server.public).await;
    visitor
        .send(hello("http://shop.example/cart", None, None))
        .await;
    visitor.until_type("welcome").await;
    visitor
        .send(json!({"type": "start", "text": "is anyone there?"}))
        .await;
    visitor.until_type("queued").await;

    // Beyond its cap the flooding address was turned away at once, and the
    // connections it was allowed are closed by the header deadline.
    let metrics = server.metrics().await;
    let refused: f64 = metrics
        .lines()
        .find(|l| l.starts_with("switchboard_connections_refused_total{cap=\"per_ip\"}"))
        .and_then(|l| l.rsplit(' ').next()?.parse().ok())
        .unwrap_or_else(|| panic!("no per-ip refusals counted: {metrics}"));
    assert!(refused >= (5000 - per_ip) as f64, "{refused} refused");
    let all_closed = futures_util::future::join_all(idle.into_iter().map(closed_by_server));
    tokio::time::timeout(WAIT + Duration::from_secs(5), all_closed)
        .await
        .expect("every idle connection is closed by the server");

    // The chat from the other address is still there.
    visitor
        .send(json!({"type": "message", "text": "still here"}))
        .await;
    let echo = visitor.until_type("message").await;
    assert_eq!(echo["text"], "still here", "{echo}");
}

#[tokio::test]
async fn a_visitor_socket_without_hello_is_closed_with_a_reason() {
    let server = TestServer::builder()
        .connections(quick_deadlines())
        .start()
        .await;
    let mut silent = server.visitor("demo", "sales").await;
    let error = silent.until_type("error").await;
    assert_eq!(error["code"], "bad_state", "{error}");
    assert!(
        error["message"].as_str().unwrap().contains("hello"),
        "{error}"
    );
}
