//! Presence from the registrar, end to end: the demo member alice registers
//! a SIP device with sipp and shows online in the directory (and on its
//! event stream); unregistering turns her offline with a last-seen time.
//! Also the console heartbeat and the directory's paging and bad input.

mod common;

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use common::{TestServer, WAIT, free_sip_addr};
use serde_json::{Value, json};

const SIPP: &str = "/usr/bin/sipp";

/// sipp must be there in CI; elsewhere a missing sipp skips.
fn have_sipp() -> bool {
    let here = std::path::Path::new(SIPP).exists();
    assert!(
        here || std::env::var_os("CI").is_none(),
        "{SIPP} missing in CI"
    );
    here
}

/// The registrar's scenarios live with the SIP crate's tests.
fn scenario(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../sip/tests/scenarios")
        .join(format!("{name}.xml"))
}

/// sipp on `port` registers `user@demo` with the server for `expires` s.
async fn sipp_register(
    sip: std::net::SocketAddr,
    port: u16,
    user: &str,
    password: &str,
    expires: u32,
) -> bool {
    let status = tokio::process::Command::new(SIPP)
        .arg("-sf")
        .arg(scenario("registrar_register"))
        .args([
            "-i",
            "127.0.0.1",
            "-p",
            &port.to_string(),
            "-m",
            "1",
            "-nostdin",
        ])
        .args(["-timeout", "20s", "-timeout_error"])
        .args(["-s", user, "-au", user, "-ap", password])
        .args([
            "-key",
            "domain",
            "demo",
            "-key",
            "expires",
            &expires.to_string(),
        ])
        .arg(format!("{}:{}", sip.ip(), sip.port()))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .status()
        .await
        .expect("sipp runs");
    status.success()
}

fn alice(listing: &Value) -> Value {
    listing["members"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["name"] == "alice")
        .cloned()
        .unwrap_or_else(|| panic!("alice listed: {listing}"))
}

/// Polls the listing until alice's status is `want` (the change is applied
/// from a channel, so it lands shortly after sipp's 200).
async fn alice_becomes(staff: &common::Staff, want: &str) -> Value {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let (code, listing) = staff.get("/api/v1/directory?q=ali").await;
        assert_eq!(code, 200, "{listing}");
        let a = alice(&listing);
        if a["presence"]["status"] == want {
            return a;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "alice never {want}: {a}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn a_sip_registration_turns_a_member_online_and_unregistering_offline() {
    if !have_sipp() {
        return;
    }
    let sip = free_sip_addr();
    let server = TestServer::builder().sip_addr(sip).start().await;
    let staff = server.demo_staff("bob").await;
    let before = alice_becomes(&staff, "offline").await;
    assert_eq!(before["numbers"], json!(["2000 0000 0001"]));
    assert_eq!(before["presence"]["last_seen"], Value::Null);

    // Watch the event stream while alice's phone registers.
    let mut events = staff
        .client
        .get(format!("{}/api/v1/directory/events", staff.base))
        .send()
        .await
        .unwrap();
    assert_eq!(events.status(), 200);

    let device = free_sip_addr().port();
    assert!(
        sipp_register(sip, device, "alice", "demo-sip-alice", 120).await,
        "registered"
    );
    let online = alice_becomes(&staff, "online").await;
    assert_eq!(online["presence"]["devices"], 1);
    let mut seen = String::new();
    while !seen.contains("\"status\":\"online\"") {
        let chunk = tokio::time::timeout(WAIT, events.chunk())
            .await
            .expect("a presence event in time")
            .unwrap()
            .expect("stream open");
        seen.push_str(&String::from_utf8_lossy(&chunk));
    }
    assert!(seen.contains("event: presence"), "{seen}");
    assert!(
        seen.contains(&format!("\"member\":{}", online["id"])),
        "{seen}"
    );

    // A second phone by number; then the first unregisters: still online.
    let second = free_sip_addr().port();
    assert!(sipp_register(sip, second, "200000000001", "demo-sip-alice", 120).await);
    assert!(
        sipp_register(sip, device, "alice", "demo-sip-alice", 0).await,
        "unregistered one"
    );
    // A wrong password is refused and changes nothing.
    assert!(!sipp_register(sip, device, "alice", "wrong-password", 120).await);
    let still = alice_becomes(&staff, "online").await;
    assert_eq!(
        still["presence"]["devices"], 1,
        "SIP devices count as one source"
    );
    // The last one unregisters: offline, seen just now.
    let started = switchboard::store::now_ms();
    assert!(sipp_register(sip, second, "200000000001", "demo-sip-alice", 0).await);
    let offline = alice_becomes(&staff, "offline").await;
    let seen = offline["presence"]["last_seen"]
        .as_i64()
        .expect("last seen set");
    assert!(seen >= started - 1000, "{offline}");
    server.stop().await;
}

#[tokio::test]
async fn an_agents_routing_state_shows_as_presence() {
    let server = TestServer::start().await;
    let (alice, mut console) = server.ready_agent("alice").await;
    let online = alice_becomes(&alice, "online").await;
    assert_eq!(online["presence"]["devices"], 1);
    console
        .send(json!({"type": "status", "state": "not_ready", "reason": "break"}))
        .await;
    alice_becomes(&alice, "away").await;
    server.stop().await;
}

#[tokio::test]
async fn the_console_heartbeat_and_bad_directory_queries() {
    let server = TestServer::start().await;
    let bob = server.demo_staff("bob").await;
    let (code, body) = bob
        .send(
            reqwest::Method::POST,
            "/api/v1/directory/heartbeat",
            json!({"status": "away"}),
        )
        .await;
    assert_eq!(code, 200, "{body}");
    assert_eq!(body["presence"]["status"], "away");
    let (code, body) = bob
        .send(
            reqwest::Method::POST,
            "/api/v1/directory/heartbeat",
            json!({"status": "asleep"}),
        )
        .await;
    assert_eq!(code, 400, "{body}");
    let (_, listing) = bob.get("/api/v1/directory").await;
    let names: Vec<&str> = listing["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["alice", "bob", "dana"]);
    let bob_entry = listing["members"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["name"] == "bob")
        .unwrap()
        .clone();
    assert_eq!(bob_entry["presence"]["status"], "away");
    let (_, by_number) = bob.get("/api/v1/directory?q=2000%200000%200003").await;
    assert_eq!(by_number["members"][0]["name"], "dana");
    let (_, page) = bob.get("/api/v1/directory?limit=1&offset=1").await;
    assert_eq!(page["members"][0]["name"], "bob");
    for bad in [
        "/api/v1/directory?limit=0",
        "/api/v1/directory?limit=101",
        "/api/v1/directory?offset=-1",
    ] {
        let (code, body) = bob.get(bad).await;
        assert_eq!(code, 400, "{bad}: {body}");
    }
    let long = format!("/api/v1/directory?q={}", "a".repeat(65));
    assert_eq!(bob.get(&long).await.0, 400);
    // The page and its script are served to staff.
    let (code, page) = bob.get_text("/directory/").await;
    assert_eq!(code, 200);
    assert!(page.contains("/directory/directory.js"), "{page}");
    let (code, script) = bob.get_text("/directory/directory.js").await;
    assert_eq!(code, 200);
    assert!(script.contains("/api/v1/directory/events"));
    // The directory is staff-only and not on the public listener.
    let anonymous = reqwest::get(format!("{}/api/v1/directory", server.agent))
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 401);
    let public = reqwest::get(format!("{}/api/v1/directory", server.public))
        .await
        .unwrap();
    assert_eq!(public.status(), 404);
    server.stop().await;
}
