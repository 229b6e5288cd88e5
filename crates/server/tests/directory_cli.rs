//! `switchboard member ...` and `switchboard number ...` against a data dir.

use std::{
    io::Write,
    process::{Command, Stdio},
};

fn run(dir: &std::path::Path, args: &[&str], stdin: Option<&str>) -> (bool, String, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_switchboard"))
        .arg("--data-dir")
        .arg(dir)
        .args(args)
        .env_remove("SWITCHBOARD_DATABASE_URL")
        .env_remove("SWITCHBOARD_NUMBER_QUARANTINE_DAYS")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    if let Some(input) = stdin {
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
fn members_and_numbers_from_the_command_line() {
    let dir = std::env::temp_dir().join(format!("sb-dircli-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let ok = |args: &[&str]| {
        let (ok, out, err) = run(&dir, args, None);
        assert!(ok, "{args:?}: {out}{err}");
        out
    };
    ok(&["tenant", "add", "acme", "--name", "Acme"]);
    let out = ok(&[
        "member",
        "add",
        "--tenant",
        "acme",
        "--name",
        "ann",
        "--display-name",
        "Ann A",
    ]);
    assert!(
        out.starts_with("member ann added to acme with number "),
        "{out}"
    );
    let out = ok(&[
        "member",
        "add",
        "--tenant",
        "acme",
        "--name",
        "ben",
        "--vanity",
        "7777-7777-7777",
    ]);
    assert!(out.contains("7777 7777 7777"), "{out}");

    // The vanity number is taken; a bad one is refused with the rule.
    let (okay, _, err) = run(
        &dir,
        &[
            "number",
            "assign",
            "--tenant",
            "acme",
            "--member",
            "ann",
            "--vanity",
            "777777777777",
        ],
        None,
    );
    assert!(!okay);
    assert!(
        err.contains("number 7777 7777 7777 is not available"),
        "{err}"
    );
    let (okay, _, err) = run(
        &dir,
        &[
            "number", "assign", "--tenant", "acme", "--member", "ann", "--vanity", "1234",
        ],
        None,
    );
    assert!(!okay);
    assert!(err.contains("12 digits"), "{err}");

    ok(&[
        "number",
        "move",
        "--tenant",
        "acme",
        "--number",
        "7777 7777 7777",
        "--to",
        "ann",
    ]);
    let list = ok(&["member", "list", "--tenant", "acme"]);
    let ann = list.lines().find(|l| l.starts_with("ann\t")).unwrap();
    assert!(ann.contains("7777 7777 7777"), "{list}");
    ok(&[
        "number",
        "release",
        "--tenant",
        "acme",
        "--number",
        "777777777777",
    ]);
    let (okay, _, err) = run(
        &dir,
        &[
            "number",
            "assign",
            "--tenant",
            "acme",
            "--member",
            "ben",
            "--vanity",
            "777777777777",
        ],
        None,
    );
    assert!(!okay, "quarantined");
    assert!(err.contains("not available"), "{err}");
    // With no quarantine it is free again.
    ok(&[
        "number",
        "assign",
        "--tenant",
        "acme",
        "--member",
        "ben",
        "--vanity",
        "777777777777",
        "--quarantine-days",
        "0",
    ]);

    let (okay, out, err) = run(
        &dir,
        &[
            "member",
            "sip-password",
            "--tenant",
            "acme",
            "--name",
            "ben",
        ],
        Some("ben-sip-password\n"),
    );
    assert!(okay, "{out}{err}");
    assert!(
        !out.contains("ben-sip-password"),
        "a given password is not echoed"
    );
    let (okay, _, err) = run(
        &dir,
        &[
            "member",
            "sip-password",
            "--tenant",
            "acme",
            "--name",
            "ben",
        ],
        Some("short\n"),
    );
    assert!(!okay);
    assert!(err.contains("at least 8"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}
