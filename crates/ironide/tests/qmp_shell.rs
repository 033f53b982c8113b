//! A scripted session through the real `qmp-shell` (PyPI qemu.qmp): the shell
//! connects to ironide's listening QMP socket, reads commands in its
//! `name key=value ...` syntax from stdin and prints each reply as one JSON
//! line after its `(QEMU) ` prompt. Skipped when `qmp-shell` is not on PATH.

mod common;

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::*;
use serde_json::{json, Value};

/// qmp-shell's prompt, printed before each command's output.
const PROMPT: &str = "(QEMU) ";

/// The script: one command per line; the blank line makes the shell print
/// the events it has collected.
const SCRIPT: &[&str] = &[
    "query-status",
    "query-block",
    "block_set_io_throttle device=ide0-hd0 bps=1000 bps_rd=0 bps_wr=0 iops=0 iops_rd=0 iops_wr=0",
    "query-block",
    "eject device=ide1-cd0",
    "query-block",
    "blockdev-open-tray id=cdrom1",
    "blockdev-open-tray id=nosuch",
    "eject device=ide0-hd0",
    "block-latency-histogram-set id=cdrom1 boundaries=[10,20]",
    "query-blockstats",
    "",
];

fn qmp_shell() -> Option<String> {
    let out = Command::new("sh").args(["-c", "command -v qmp-shell"]).output().ok()?;
    let s = String::from_utf8_lossy(&out.stdout).trim().to_string();
    (!s.is_empty()).then_some(s)
}

/// The output after each prompt, in order (the banner before the first dropped).
fn outputs(stdout: &str) -> Vec<String> {
    stdout.split(PROMPT).skip(1).map(|s| s.trim().to_string()).collect()
}

fn parse(out: &str) -> Value {
    serde_json::from_str(out).unwrap_or_else(|e| panic!("qmp-shell printed non-JSON {out:?}: {e}"))
}

/// The query-block entry of `device`.
fn block<'a>(v: &'a Value, device: &str) -> &'a Value {
    let list = v["return"].as_array().unwrap_or_else(|| panic!("query-block: {v}"));
    list.iter().find(|d| d["device"] == device).unwrap_or_else(|| panic!("no {device} in {v}"))
}

#[test]
fn scripted_qmp_shell_session() {
    let Some(shell) = qmp_shell() else {
        eprintln!("SKIP scripted_qmp_shell_session: qmp-shell is not on PATH (pip install qemu.qmp)");
        return;
    };
    let dir = tempdir();
    let disk = image_in(dir.path(), "disk.img", 1 << 20);
    let cd = image_in(dir.path(), "cd.iso", 1 << 20);
    let cd2 = image_in(dir.path(), "cd2.iso", 1 << 20);
    let extra = [
        "-display".to_string(),
        "none".into(),
        "-drive".into(),
        format!("file={},if=ide,index=0,format=raw", disk.display()),
        "-drive".into(),
        format!("file={},if=ide,index=2,media=cdrom,format=raw", cd.display()),
        "-drive".into(),
        format!("file={},if=none,id=cd2,media=cdrom,format=raw", cd2.display()),
        "-device".into(),
        "ide-cd,drive=cd2,id=cdrom1,bus=ide.1,unit=1".into(),
    ];
    // A silent qtest peer: ironide runs until it hangs up.
    let (mut child, qtest, qm) = qmp::spawn_server_mode(dir.path(), &extra);
    // The socket file exists before ironide listens; qmp-shell must not race it.
    drop(qmp::connect_server(&qm));

    let mut input = SCRIPT.join("\n");
    input.push('\n');
    // `timeout`: a hung shell fails the test instead of stalling it; HOME:
    // the shell keeps its history file there.
    let mut sh = Command::new("timeout")
        .arg("30")
        .arg(&shell)
        .arg(&qm)
        .env("HOME", dir.path())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn qmp-shell");
    sh.stdin.take().expect("stdin").write_all(input.as_bytes()).expect("feed qmp-shell");
    let out = sh.wait_with_output().expect("qmp-shell output");
    drop(qtest);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "qmp-shell failed ({}): {stdout}\n{stderr}", out.status);
    assert!(stdout.starts_with("Welcome to the QMP low-level shell!\nConnected to QEMU "), "{stdout}");
    let o = outputs(&stdout);
    // One output per script line, plus the empty one at EOF.
    assert_eq!(o.len(), SCRIPT.len() + 1, "{stdout}\n{stderr}");

    assert_eq!(parse(&o[0]), json!({"return": {"status": "running", "running": true}}));

    let before = parse(&o[1]);
    let hd = block(&before, "ide0-hd0");
    assert_eq!(hd["inserted"]["bps"], 0, "{hd}");
    assert_eq!(hd["removable"], false);
    let cd = block(&before, "ide1-cd0");
    assert_eq!((&cd["removable"], &cd["tray_open"]), (&json!(true), &json!(false)), "{cd}");
    assert!(cd["inserted"]["file"].as_str().is_some_and(|f| f.ends_with("cd.iso")), "{cd}");

    assert_eq!(parse(&o[2]), json!({"return": {}}));
    let after = parse(&o[3]);
    let hd = &block(&after, "ide0-hd0")["inserted"];
    assert_eq!((&hd["bps"], &hd["bps_rd"], &hd["iops"]), (&json!(1000), &json!(0), &json!(0)), "{hd}");

    // Eject of a closed, unlocked tray: the tray opens and the medium goes.
    assert_eq!(parse(&o[4]), json!({"return": {}}));
    let cd = block(&parse(&o[5]), "ide1-cd0").clone();
    assert_eq!(cd["tray_open"], true, "{cd}");
    assert!(cd.get("inserted").is_none(), "{cd}");

    assert_eq!(parse(&o[6]), json!({"return": {}}));
    assert_eq!(parse(&o[7]), json!({"error": {"class": "DeviceNotFound", "desc": "Device 'nosuch' not found"}}));
    assert_eq!(parse(&o[8]), json!({"error": {"class": "GenericError", "desc": "Device 'ide0-hd0' is not removable"}}));
    // A JSON list value from the key=value syntax.
    assert_eq!(parse(&o[9]), json!({"return": {}}));
    let stats = parse(&o[10]);
    let list = stats["return"].as_array().unwrap_or_else(|| panic!("query-blockstats: {stats}"));
    let cd2 = list.iter().find(|s| s["qdev"].as_str().is_some_and(|q| q.contains("cdrom1"))).expect("cdrom1 stats");
    assert_eq!(cd2["stats"]["rd_latency_histogram"]["boundaries"], json!([10, 20]), "{cd2}");
    assert!(list.iter().any(|s| s["device"] == "ide0-hd0"), "{stats}");

    // The blank line: the events collected so far, as Python dicts.
    let events = &o[11];
    assert_eq!(events.matches("DEVICE_TRAY_MOVED").count(), 2, "{events}");
    assert!(events.contains("'device': 'ide1-cd0'") && events.contains("'id': 'cdrom1'"), "{events}");
    assert!(o[12].is_empty(), "{stdout}");

    let start = Instant::now();
    while child.try_wait().ok().flatten().is_none() {
        if start.elapsed() > TIMEOUT {
            let _ = child.kill();
            let _ = child.wait();
            panic!("ironide did not exit when qtest closed");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}
