//! The tenant's setup in the admin pages: `tenant export` prints a file that
//! `tenant apply` accepts and that changes nothing when applied again; the
//! admin API reads and applies it with `tenant apply`'s checks and messages,
//! only for the admin's own tenant, and keeps an audit log of each change.

mod common;

use common::{Tenant, TestServer};
use reqwest::Method;
use serde_json::json;
use switchboard::{tenant_export, tenant_file};

async fn export(server: &TestServer, slug: &str) -> String {
    let tenant = server.store.tenant_by_slug(slug).await.unwrap().unwrap();
    tenant_export::export(&server.store, tenant.id, tenant_export::Secrets::Include)
        .await
        .unwrap()
}

#[tokio::test]
async fn an_export_applies_and_round_trips_unchanged() {
    let demo = TestServer::start().await;
    let text = export(&demo, "demo").await;
    // Everything the demo file sets is there.
    for part in [
        "[[centers]]",
        "[[queues]]",
        "[[links]]",
        "[[agents]]",
        "[[classes]]",
        "[[media_rules]]",
        "[calls]",
        "[context]",
    ] {
        assert!(text.contains(part), "{part} missing from\n{text}");
    }
    let file = tenant_file::parse(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
    // Applied again to the same tenant: nothing changes.
    tenant_file::apply(&demo.store, &file, &|_| None)
        .await
        .unwrap();
    assert_eq!(export(&demo, "demo").await, text);
    // Applied to a fresh server: the same setup.
    let fresh = TestServer::builder().without_demo().start().await;
    tenant_file::apply(&fresh.store, &file, &|_| None)
        .await
        .unwrap();
    assert_eq!(export(&fresh, "demo").await, text);
    fresh.stop().await;
    demo.stop().await;
}

/// Trunks, numbers, push codes and routing points come back as they went in;
/// the audit's copy hides the trunk's password.
#[tokio::test]
async fn a_phone_setup_round_trips_and_its_password_stays_out_of_the_audit_copy() {
    let tenant = Tenant::new("phoneco")
        .center("hq", |c| c.phone("+15125550100").trunk("carrier"))
        .queue("sales", |q| q)
        .link_with("center", "sales", |l| {
            l.calls(&["voice"]).route_calls_to_phone()
        })
        .link_with("desk", "sales", |l| l.calls(&["voice"]).dial_in())
        .agent("pat", &["sales"])
        .phone(|p| {
            p.allowed_destinations(&["+1512"])
                .caller_ids(&["+15125550900"])
                .push_code("*76", "https://shop.example/checkout")
                .routing_points(&["+15125550130"])
                .trunk("carrier", |t| t.host("127.0.0.1").port(5099))
                .number("+15125550123", "desk")
        });
    // The builder has no trunk password; the file gets one by hand.
    let with_password = tenant.to_string().replacen(
        "name = \"carrier\"\n",
        "name = \"carrier\"\nusername = \"shop\"\npassword = \"trunk-pw-123\"\n",
        1,
    );
    assert!(with_password.contains("trunk-pw-123"), "{with_password}");
    let server = TestServer::builder()
        .without_demo()
        .tenant_file(&with_password)
        .start()
        .await;
    let text = export(&server, "phoneco").await;
    for part in [
        "[[phone.trunks]]",
        "+15125550123",
        "*76",
        "+15125550130",
        "trunk-pw-123",
    ] {
        assert!(text.contains(part), "{part} missing from\n{text}");
    }
    let file = tenant_file::parse(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
    tenant_file::apply(&server.store, &file, &|_| None)
        .await
        .unwrap();
    assert_eq!(export(&server, "phoneco").await, text);
    let id = server
        .store
        .tenant_by_slug("phoneco")
        .await
        .unwrap()
        .unwrap()
        .id;
    let masked = tenant_export::export(&server.store, id, tenant_export::Secrets::Masked)
        .await
        .unwrap();
    assert!(
        !masked.contains("trunk-pw-123") && masked.contains("[[phone.trunks]]"),
        "{masked}"
    );
    server.stop().await;
}

#[tokio::test]
async fn admins_change_the_setup_with_tenant_apply_checks_and_an_audit_log() {
    let server = TestServer::builder()
        .tenant(&Tenant::help_desk("other").agent_with("oz", |a| a.role("admin")))
        .start()
        .await;
    let ada = server.demo_staff("ada").await;
    let (status, got) = ada.get("/api/v1/tenant/config").await;
    assert_eq!(status, 200, "{got}");
    let text = got["toml"].as_str().unwrap().to_owned();
    assert!(
        !text.contains("widget_secret"),
        "the widget secret is not shown"
    );

    // Agents and supervisors do not read or change it.
    let alice = server.demo_staff("alice").await;
    assert_eq!(alice.get("/api/v1/tenant/config").await.0, 403);
    let sam = server.demo_staff("sam").await;
    let (status, _) = sam
        .send(Method::PUT, "/api/v1/tenant/config", json!({"toml": text}))
        .await;
    assert_eq!(status, 403);

    // A change tenant apply would refuse is refused with its message.
    let bad =
        format!("{text}\n[[links]]\nslug = \"returns\"\nname = \"Returns\"\nqueue = \"nowhere\"\n");
    let expected = tenant_file::parse(&bad).unwrap_err().to_string();
    let (status, refused) = ada
        .send(Method::PUT, "/api/v1/tenant/config", json!({"toml": bad}))
        .await;
    assert_eq!(status, 400, "{refused}");
    assert_eq!(refused["error"]["message"], expected.as_str());
    assert!(expected.contains("links.queue"), "{expected}");

    // Another tenant's file is refused, and that tenant is untouched.
    let theirs = export(&server, "other").await;
    let hijack = theirs.replace(
        "[[queues]]",
        "[[queues]]\nname = \"stolen\"\nskill = \"x\"\n\n[[queues]]",
    );
    let (status, refused) = ada
        .send(
            Method::PUT,
            "/api/v1/tenant/config",
            json!({"toml": hijack}),
        )
        .await;
    assert_eq!(status, 403, "{refused}");
    assert_eq!(export(&server, "other").await, theirs);

    // A good change: a new queue and link.
    let good = format!(
        "{text}\n[[queues]]\nname = \"returns\"\nskill = \"returns\"\n\n[[links]]\nslug = \"returns\"\nname = \"Returns\"\nqueue = \"returns\"\n"
    );
    let (status, applied) = ada
        .send(Method::PUT, "/api/v1/tenant/config", json!({"toml": good}))
        .await;
    assert_eq!(
        (status, applied["changed"].as_bool()),
        (200, Some(true)),
        "{applied}"
    );
    let (_, links) = ada.get("/api/v1/links").await;
    assert!(
        links["links"]
            .as_array()
            .unwrap()
            .iter()
            .any(|l| l["slug"] == "returns"),
        "{links}"
    );
    // The same file again changes nothing and logs nothing.
    let (_, again) = ada
        .send(Method::PUT, "/api/v1/tenant/config", json!({"toml": good}))
        .await;
    assert_eq!(again["changed"], false);

    let (status, log) = ada.get("/api/v1/audit").await;
    assert_eq!(status, 200);
    let entries = log["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 1, "{log}");
    let entry = &entries[0];
    assert_eq!(entry["actor"], "ada");
    assert!(!entry["before"].as_str().unwrap().contains("returns"));
    assert!(
        entry["after"]
            .as_str()
            .unwrap()
            .contains("name = \"returns\"")
    );
    assert!(entry["at"].as_i64().unwrap() > 0);
    // Only the admins of this tenant read it.
    assert_eq!(alice.get("/api/v1/audit").await.0, 403);
    let oz = server.staff("other", "oz", "pw-oz").await;
    let (_, theirs) = oz.get("/api/v1/audit").await;
    assert_eq!(theirs["entries"], json!([]));
    server.stop().await;
}

/// `switchboard tenant export` from the command line: its output is a file
/// `tenant apply` takes, and applying it changes nothing.
#[test]
fn the_export_command_prints_a_file_apply_accepts() {
    let dir = std::env::temp_dir().join(format!("sb-export-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let run = |args: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_switchboard"))
            .arg("--data-dir")
            .arg(&dir)
            .args(args)
            .env_remove("SWITCHBOARD_DATABASE_URL")
            .output()
            .unwrap();
        let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
        (out.status.success(), text(&out.stdout), text(&out.stderr))
    };
    let demo = dir.join("demo.toml");
    std::fs::write(&demo, switchboard::demo::DEMO_TENANT).unwrap();
    let (ok, _, err) = run(&["tenant", "apply", demo.to_str().unwrap()]);
    assert!(ok, "{err}");
    let (ok, exported, err) = run(&["tenant", "export", "demo"]);
    assert!(ok, "{err}");
    assert!(exported.contains("widget_secret = "), "{exported}");
    let file = dir.join("exported.toml");
    std::fs::write(&file, &exported).unwrap();
    let (ok, out, err) = run(&["tenant", "apply", file.to_str().unwrap()]);
    assert!(ok && out.contains("tenant demo updated"), "{out}{err}");
    let (_, again, _) = run(&["tenant", "export", "demo"]);
    assert_eq!(again, exported);
    let (_, without, _) = run(&["tenant", "export", "demo", "--without-widget-secret"]);
    assert!(!without.contains("widget_secret"), "{without}");
    let (ok, _, err) = run(&["tenant", "export", "nosuch"]);
    assert!(!ok && err.contains("no tenant \"nosuch\""), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}
