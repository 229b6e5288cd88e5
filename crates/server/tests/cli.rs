//! The `switchboard` binary: help, tenant and user administration, clear
//! start-up failures, and no personal data in logs at info level.

mod common;

use std::{
    io::Write,
    process::{Command, Stdio},
};

use common::{Tenant, Ws, hello};
use serde_json::json;

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_switchboard"))
}

fn temp_dir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("sb-cli-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn run(args: &[&str], stdin: Option<&str>) -> (bool, String, String) {
    let mut child = bin()
        .args(args)
        .env_remove("SWITCHBOARD_DATABASE_URL")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    if let Some(input) = stdin {
        // The command may exit before reading (e.g. a bad --role); a closed pipe
        // then is expected, not a failure of the test.
        let _ = child.stdin.take().unwrap().write_all(input.as_bytes());
    }
    drop(child.stdin.take());
    let out = child.wait_with_output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn help_lists_the_commands() {
    let (ok, out, _) = run(&["--help"], None);
    assert!(ok);
    for word in ["serve", "tenant", "user", "apikey", "simulate"] {
        assert!(out.contains(word), "{out}");
    }
}

#[test]
fn simulate_prints_the_day_beside_erlang_c() {
    // 20 agents at about 90 % load for two hours: people wait, so the estimate
    // error is measured too.
    let (ok, out, err) = run(
        &[
            "simulate",
            "--hours",
            "2",
            "--arrivals-per-hour",
            "360",
            "--seed",
            "7",
        ],
        None,
    );
    assert!(ok, "{err}");
    assert!(out.contains("Erlang C"), "{out}");
    for line in [
        "service level (20 s)",
        "average speed of answer",
        "abandonment",
        "occupancy",
        "wait estimate MAE",
    ] {
        assert!(out.contains(line), "{line} missing: {out}");
    }
    // The same seed gives the same day.
    let (_, again, _) = run(
        &[
            "simulate",
            "--hours",
            "2",
            "--arrivals-per-hour",
            "360",
            "--seed",
            "7",
        ],
        None,
    );
    assert_eq!(out, again);
    // Bad input is one clear line, not a panic.
    let (ok, _, err) = run(&["simulate", "--agents", "0"], None);
    assert!(!ok);
    assert!(err.contains("must be above zero"), "{err}");
    let (ok, _, err) = run(&["simulate", "--media", "fax"], None);
    assert!(!ok);
    assert!(err.contains("chat or voice"), "{err}");
}

#[test]
fn tenant_and_user_administration() {
    let dir = temp_dir("admin");
    let d = dir.to_str().unwrap();
    let (ok, out, err) = run(
        &["--data-dir", d, "tenant", "add", "shop", "--name", "Shop"],
        None,
    );
    assert!(ok, "{err}");
    assert!(out.contains("widget signing secret"));
    let (ok, out, err) = run(
        &[
            "--data-dir",
            d,
            "user",
            "add",
            "--tenant",
            "shop",
            "--name",
            "kim",
            "--role",
            "agent",
        ],
        Some("a-long-password\n"),
    );
    assert!(ok, "{err}");
    assert!(
        !out.contains("a-long-password"),
        "a given password is not echoed"
    );
    let (ok, _, err) = run(
        &[
            "--data-dir",
            d,
            "user",
            "add",
            "--tenant",
            "shop",
            "--name",
            "kim2",
            "--role",
            "boss",
        ],
        Some("a-long-password\n"),
    );
    assert!(!ok && err.contains("boss"), "{err}");

    let file = dir.join("shop.toml");
    let shop = Tenant::new("shop")
        .allowed_origins(&["https://shop.example"])
        .queue("q", |q| q.skill("s"))
        .link("help", "q")
        .agent("lee", &["s"]);
    std::fs::write(&file, shop.to_string()).unwrap();
    let (ok, out, err) = run(
        &["--data-dir", d, "tenant", "apply", file.to_str().unwrap()],
        None,
    );
    assert!(ok, "{err}");
    assert!(
        out.contains("1 links") && out.contains("new user lee"),
        "{out}"
    );

    std::fs::write(&file, "[tenant]\nslug = \"shop\"\n\n[[links]]\nslug = \"help\"\nname = \"Help\"\nqueue = \"missing\"\n").unwrap();
    let (ok, _, err) = run(
        &["--data-dir", d, "tenant", "apply", file.to_str().unwrap()],
        None,
    );
    assert!(!ok);
    assert!(
        err.contains("line 7") && err.contains("links.queue"),
        "{err}"
    );
    assert_eq!(err.trim().lines().count(), 1, "one clear line: {err}");

    let (ok, out, _) = run(
        &[
            "--data-dir",
            d,
            "apikey",
            "add",
            "--tenant",
            "shop",
            "--name",
            "crm",
        ],
        None,
    );
    assert!(ok && out.contains("sbk_"));
    let (ok, out, err) = run(
        &[
            "--data-dir",
            d,
            "apikey",
            "add",
            "--tenant",
            "shop",
            "--name",
            "archive",
            "--expires-in-days",
            "30",
            "--scope",
            "recordings",
        ],
        None,
    );
    assert!(ok && out.contains("sbk_"), "{err}");
    let (ok, _, err) = run(
        &[
            "--data-dir",
            d,
            "apikey",
            "add",
            "--tenant",
            "shop",
            "--name",
            "x",
            "--scope",
            "everything",
        ],
        None,
    );
    assert!(!ok && err.contains("unknown scope"), "{err}");
    let (ok, out, err) = run(
        &["--data-dir", d, "apikey", "list", "--tenant", "shop"],
        None,
    );
    assert!(ok, "{err}");
    assert!(
        out.contains("crm") && out.contains("archive") && out.contains("recordings"),
        "{out}"
    );
    assert!(!out.contains("sbk_"), "keys are never listed: {out}");
    let first_id = out.split('\t').next().unwrap().trim().to_owned();
    let delete = |id: &str| {
        run(
            &[
                "--data-dir",
                d,
                "apikey",
                "delete",
                "--tenant",
                "shop",
                "--id",
                id,
            ],
            None,
        )
    };
    assert!(delete(&first_id).0);
    let (ok, _, err) = delete(&first_id);
    assert!(!ok && err.contains("no API key"), "{err}");
    for (verb, done) in [("disable", "disabled"), ("enable", "enabled")] {
        let (ok, out, err) = run(
            &[
                "--data-dir",
                d,
                "user",
                verb,
                "--tenant",
                "shop",
                "--name",
                "kim",
            ],
            None,
        );
        assert!(ok && out.contains(done), "{err}");
    }
    let (ok, _, err) = run(
        &[
            "--data-dir",
            d,
            "user",
            "disable",
            "--tenant",
            "shop",
            "--name",
            "nobody",
        ],
        None,
    );
    assert!(!ok && err.contains("no user"), "{err}");
    let (ok, out, _) = run(
        &[
            "--data-dir",
            d,
            "tenant",
            "sign",
            "--tenant",
            "shop",
            "--sub",
            "c1",
        ],
        None,
    );
    assert!(ok && out.trim().split('.').count() == 3, "{out}");
}

#[test]
fn unwritable_data_dir_and_bad_database_fail_with_one_line() {
    let (ok, _, err) = run(
        &["serve", "--data-dir", "/proc/switchboard-cannot-write"],
        None,
    );
    assert!(!ok);
    assert!(
        err.contains("data directory") && err.trim().lines().count() == 1,
        "{err}"
    );
    let dir = temp_dir("baddb");
    let (ok, _, err) = run(
        &[
            "serve",
            "--data-dir",
            dir.to_str().unwrap(),
            "--database-url",
            "postgres://127.0.0.1:1/none",
        ],
        None,
    );
    assert!(!ok);
    assert!(
        err.contains("database") && err.trim().lines().count() == 1,
        "{err}"
    );
    let (ok, _, err) = run(
        &[
            "serve",
            "--data-dir",
            dir.to_str().unwrap(),
            "--database-url",
            "sqlite:/nowhere/x.db",
        ],
        None,
    );
    assert!(!ok && err.contains("does not exist"), "{err}");
}

/// Message bodies, visitor emails and client addresses never reach the logs at
/// info level.
#[tokio::test]
async fn no_personal_data_in_info_logs() {
    let dir = temp_dir("pii");
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_switchboard"))
        .args([
            "serve",
            "--demo",
            "--data-dir",
            dir.to_str().unwrap(),
            "--public-addr",
            "127.0.0.1:0",
            "--agent-addr",
            "127.0.0.1:0",
        ])
        // rsipstack logs whole SIP messages at info; the server keeps it at
        // warn unless RUST_LOG names it (docs/operations.md).
        .env("RUST_LOG", "info")
        .env_remove("SWITCHBOARD_DATABASE_URL")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut line = String::new();
    tokio::io::AsyncBufReadExt::read_line(&mut tokio::io::BufReader::new(stdout), &mut line)
        .await
        .unwrap();
    let public = line
        .split("public=http://")
        .nth(1)
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .to_owned();
    let url = format!("ws://{public}/ws/visitor?tenant=demo&link=sales");
    let mut v = Ws::connect(&url, Some(&format!("http://{public}")), None).await;
    let mut frame = hello(
        "http://shop.example/secret-page",
        Some("bad.token.here"),
        None,
    );
    frame["attributes"] = json!({"name": "Secret Name", "email": "secret@example.com"});
    v.send(frame).await;
    v.until_type("welcome").await;
    v.send(json!({"type": "start", "text": "my card is 4111-1111-1111-1111"}))
        .await;
    v.until_type("queued").await;
    v.send(json!({"type": "end"})).await;
    v.until_type("ended").await;
    child.start_kill().unwrap();
    let out = child.wait_with_output().await.unwrap();
    let logs = String::from_utf8_lossy(&out.stderr);
    assert!(
        logs.contains("contact queued"),
        "the log is captured: {logs}"
    );
    for secret in [
        "4111-1111",
        "secret@example.com",
        "Secret Name",
        "secret-page",
        "bad.token.here",
    ] {
        assert!(!logs.contains(secret), "{secret} leaked into logs: {logs}");
    }
    // The only address in the log is the server's own bind address at start-up.
    let client_ip_lines = logs
        .lines()
        .filter(|l| l.contains("127.0.0.1") && !l.contains("switchboard started"))
        .count();
    assert_eq!(client_ip_lines, 0, "{logs}");
}
