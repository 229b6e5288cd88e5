//! sipp (Debian's sip-tester) as a carrier or a caller in the server's
//! tests: one process per call, killed when dropped, its logs kept.
#![allow(dead_code)]

use std::{path::PathBuf, process::Stdio, time::Duration};

use tokio::process::Child;

use crate::{common::free_sip_addr, phone::RtpPhone};

pub const SIPP: &str = "/usr/bin/sipp";

/// sipp must be there in CI; elsewhere a missing sipp skips with a reason.
pub fn have_sipp() -> bool {
    if std::path::Path::new(SIPP).exists() {
        return true;
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "{SIPP} is missing (Debian package sip-tester); CI installs it"
    );
    eprintln!("skipping: {SIPP} is not installed (apt-get install sip-tester)");
    false
}

pub fn scenario(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    match name {
        // The e2e tests' call center scenarios serve here too.
        "uas-answer.xml" | "uas-busy.xml" => dir.join("../../e2e/sipp").join(name),
        _ => dir.join("tests/sipp").join(name),
    }
}

/// One sipp process, killed when dropped.
pub struct Sipp {
    child: Child,
    pub port: u16,
    dir: PathBuf,
}

impl Sipp {
    /// sipp on a free loopback port with `scenario`, one call, `args` after.
    pub fn start(scenario_name: &str, args: &[String]) -> Sipp {
        let addr = free_sip_addr();
        let dir =
            std::env::temp_dir().join(format!("sb-sipp-{}-{}", std::process::id(), addr.port()));
        std::fs::create_dir_all(&dir).unwrap();
        let child = tokio::process::Command::new(SIPP)
            .args(["-i", "127.0.0.1", "-p", &addr.port().to_string(), "-m", "1"])
            .arg("-sf")
            .arg(scenario(scenario_name))
            .args(["-trace_err", "-trace_msg", "-nostdin"])
            .args(args)
            .current_dir(&dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("sipp starts");
        Sipp {
            child,
            port: addr.port(),
            dir,
        }
    }

    /// Waits for sipp to finish; its exit code (0: the scenario passed).
    pub async fn exit_code(&mut self) -> i32 {
        let status = tokio::time::timeout(Duration::from_secs(20), self.child.wait())
            .await
            .unwrap_or_else(|_| panic!("sipp did not finish; logs in {}", self.dir.display()))
            .unwrap();
        status.code().unwrap_or(-1)
    }

    pub fn logs(&self) -> String {
        let mut out = String::new();
        for entry in std::fs::read_dir(&self.dir).into_iter().flatten().flatten() {
            out.push_str(&std::fs::read_to_string(entry.path()).unwrap_or_default());
        }
        out
    }
}

/// A caller on sipp `scenario` dialling `number` at the server's SIP
/// address `sip` from caller id `from`, their media on `phone`.
pub fn dial_from(
    scenario: &str,
    sip: std::net::SocketAddr,
    number: &str,
    from: &str,
    phone: &RtpPhone,
) -> Sipp {
    Sipp::start(
        scenario,
        &[
            format!("{}:{}", sip.ip(), sip.port()),
            "-s".into(),
            number.into(),
            "-key".into(),
            "caller".into(),
            from.into(),
            "-key".into(),
            "phone_port".into(),
            phone.addr.port().to_string(),
        ],
    )
}

/// sipp as the far end of calls the server places (a carrier's phone or a
/// call center): `scenario` for `calls` calls, its media on `phone`.
pub fn answering(scenario: &str, calls: u32, phone: &RtpPhone) -> Sipp {
    Sipp::start(
        scenario,
        &[
            "-m".into(),
            calls.to_string(),
            "-key".into(),
            "phone_ip".into(),
            "127.0.0.1".into(),
            "-key".into(),
            "phone_port".into(),
            phone.addr.port().to_string(),
        ],
    )
}
