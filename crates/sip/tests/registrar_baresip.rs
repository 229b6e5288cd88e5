//! A real softphone registers: Debian's baresip signs in as a member with
//! digest authentication (MD5: baresip 1.0 gives up on any other
//! challenge), shows as one
//! binding, and unregisters when it quits.

mod common;

use std::process::Stdio;
use std::time::Duration;

use common::agent;
use sip::registrar::{RegistrarConfig, Registration, SipAccount, ha1_md5, ha1_sha256};
use tokio::sync::mpsc::Receiver;

const BARESIP: &str = "/usr/bin/baresip";

fn have_baresip() -> bool {
    let here = std::path::Path::new(BARESIP).exists();
    assert!(
        here || std::env::var_os("CI").is_none(),
        "{BARESIP} missing in CI"
    );
    here
}

async fn next_change(rx: &mut Receiver<Registration>) -> Registration {
    tokio::time::timeout(Duration::from_secs(15), rx.recv())
        .await
        .expect("a registration change in time")
        .expect("channel open")
}

#[tokio::test]
async fn baresip_registers_and_unregisters_on_quit() {
    if !have_baresip() {
        return;
    }
    let (agent, _events) = agent(20, Duration::from_secs(5)).await;
    let mut changes = agent.enable_registrar(RegistrarConfig::default(), 1000);
    let tenant = sip::TenantId(3);
    agent.set_sip_accounts(vec![SipAccount {
        tenant,
        domain: "demo".into(),
        member: 42,
        username: "alice".into(),
        ha1_md5: ha1_md5("alice", "demo-sip-alice"),
        ha1_sha256: ha1_sha256("alice", "demo-sip-alice"),
    }]);

    let dir = std::env::temp_dir().join(format!("sb-baresip-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    // No sound device: a sine source and a file sink; no UI on stdin.
    // Port 0: baresip takes a free port itself, so no other test can take
    // it between our choosing and baresip's binding (a port chosen here
    // raced the rest of the suite and left baresip unable to listen).
    let config = "poll_method epoll\nsip_listen 127.0.0.1:0\nmodule_path /usr/lib/baresip/modules\n\
         module g711.so\nmodule ausine.so\nmodule aufile.so\nmodule_app account.so\n\
         audio_player aufile,/dev/null\naudio_source ausine,440\n";
    std::fs::write(dir.join("config"), config).unwrap();
    let account = format!(
        "<sip:alice@demo>;auth_pass=demo-sip-alice;outbound=\"sip:127.0.0.1:{};transport=udp\";regint=120\n",
        agent.local_addr().port()
    );
    std::fs::write(dir.join("accounts"), account).unwrap();
    let mut baresip = tokio::process::Command::new(BARESIP)
        .arg("-f")
        .arg(&dir)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("baresip starts");

    let change = next_change(&mut changes).await;
    assert_eq!(
        (change.tenant, change.member, change.contacts),
        (tenant, 42, 1)
    );
    let bindings = agent.registered_contacts(tenant, 42);
    assert_eq!(bindings.len(), 1);
    assert!(
        bindings[0].contact.starts_with("sip:alice"),
        "{}",
        bindings[0].contact
    );

    // Quitting (SIGTERM) unregisters.
    let pid = baresip.id().expect("running").to_string();
    let killed = tokio::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .await
        .unwrap();
    assert!(killed.success());
    assert_eq!(next_change(&mut changes).await.contacts, 0);
    let _ = tokio::time::timeout(Duration::from_secs(10), baresip.wait()).await;
    let _ = std::fs::remove_dir_all(&dir);
}
