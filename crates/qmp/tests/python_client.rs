//! The real Python client (PyPI qemu.qmp) against the server.

mod common;

use std::path::Path;
use std::process::Command;

use common::TestServer;

fn have_qemu_qmp() -> bool {
    Command::new("python3").args(["-c", "import qemu.qmp"]).status().map(|s| s.success()).unwrap_or(false)
}

#[test]
fn qemu_qmp_legacy_and_async() {
    if !have_qemu_qmp() {
        eprintln!("SKIP: python3 with qemu.qmp not available (pip install qemu.qmp)");
        return;
    }
    let srv = TestServer::start();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/python/qmp_clients.py");
    let out = Command::new("python3").arg(script).arg(&srv.path).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "python client failed:\n{stdout}\n{stderr}");
    assert!(stdout.contains("ok"));
    assert!(srv.stop(), "quit reached the machine");
}

#[test]
fn qemu_qmp_listening_while_we_connect() {
    if !have_qemu_qmp() {
        eprintln!("SKIP: python3 with qemu.qmp not available (pip install qemu.qmp)");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("peer.sock");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/python/qmp_listen.py");
    let mut child =
        Command::new("python3").arg(script).arg(&path).stdout(std::process::Stdio::piped()).spawn().unwrap();
    let mut monitors = ironide_qmp::Monitors::new(ironide_qmp::ServerInfo::default()).unwrap();
    let start = std::time::Instant::now();
    while monitors.add_client(&path).is_err() {
        assert!(start.elapsed().as_secs() < 20, "python never listened");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let mut machine = common::FakeMachine::default();
    let status = loop {
        monitors.wait(std::time::Duration::from_millis(20), &mut machine).unwrap();
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(start.elapsed().as_secs() < 30, "python client hung");
    };
    assert!(status.success());
}
