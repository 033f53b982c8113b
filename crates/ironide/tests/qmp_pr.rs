//! pr-manager-helper through the real binary: -object and object-add,
//! query-pr-managers, PR_MANAGER_STATUS_CHANGED on connect, loss and
//! reconnect, with a fake helper (and the real qemu-pr-helper when it can run).

mod common;

use std::io::Write;
use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};
use std::sync::mpsc;

use common::qmp::Vm;
use serde_json::json;

/// A fake helper: on accept it sends the capability word, then keeps the
/// connection until stopped.
struct Fake {
    close: mpsc::Sender<()>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Fake {
    fn start(path: &Path) -> Fake {
        let _ = std::fs::remove_file(path);
        let l = UnixListener::bind(path).expect("bind");
        let (close, rx) = mpsc::channel::<()>();
        let thread = std::thread::spawn(move || {
            let Ok((mut s, _)) = l.accept() else { return };
            let _ = s.write_all(&0u32.to_be_bytes());
            let _ = rx.recv();
        });
        Fake { close, thread: Some(thread) }
    }

    fn stop(mut self) {
        let _ = self.close.send(());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn status(r: &mut Vm, connected: bool) {
    let e = r.qmp.wait_event("PR_MANAGER_STATUS_CHANGED");
    assert_eq!(e["data"], json!({"id": "pr0", "connected": connected}));
}

#[test]
fn object_add_loss_and_reconnect_with_a_fake_helper() {
    let mut r = Vm::start(&[]);
    let sock = r.path("pr.sock");
    let fake = Fake::start(&sock);
    let ret = r.qmp.ok("object-add", json!({"qom-type": "pr-manager-helper", "id": "pr0", "path": sock}));
    assert_eq!(ret, json!({}));
    status(&mut r, true);
    assert_eq!(r.qmp.ok("query-pr-managers", json!({})), json!([{"id": "pr0", "connected": true}]));

    fake.stop();
    status(&mut r, false);
    assert_eq!(r.qmp.ok("query-pr-managers", json!({})), json!([{"id": "pr0", "connected": false}]));

    let fake = Fake::start(&sock);
    status(&mut r, true);
    assert_eq!(r.qmp.ok("object-del", json!({"id": "pr0"})), json!({}));
    assert_eq!(r.qmp.ok("query-pr-managers", json!({})), json!([]));
    fake.stop();
}

#[test]
fn missing_socket() {
    let mut r = Vm::start(&[]);
    let sock = r.path("nosuch.sock");
    let (class, desc) = r.qmp.err("object-add", json!({"qom-type": "pr-manager-helper", "id": "pr0", "path": sock}));
    assert_eq!(class, "GenericError");
    assert_eq!(desc, format!("Failed to connect to '{}': No such file or directory", sock.display()));
    drop(r);

    // At start-up: the process fails with the same text.
    let dir = common::tempdir();
    let sock = dir.path().join("nosuch.sock");
    let out = common::ironide()
        .args(["-machine", "pc,accel=qtest", "-nodefaults", "-display", "none", "-object"])
        .arg(format!("pr-manager-helper,id=pr0,path={}", sock.display()))
        .output()
        .expect("run");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(&format!("Failed to connect to '{}': No such file or directory", sock.display())), "{err}");
}

#[test]
fn command_line_object_with_the_real_helper() {
    let prefix = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/qemu72");
    let bin = std::env::var_os("IRONIDE_PR_HELPER")
        .map(PathBuf::from)
        .unwrap_or_else(|| prefix.join("usr/bin/qemu-pr-helper"));
    // SAFETY: geteuid has no preconditions.
    if !bin.exists() || unsafe { libc_geteuid() } != 0 {
        eprintln!("skipped: needs root and {} (firmware-tests/scripts/unpack-qemu.sh)", bin.display());
        return;
    }
    let dir = common::tempdir();
    let sock = dir.path().join("pr.sock");
    let spawn = || {
        let _ = std::fs::remove_file(&sock);
        let c = std::process::Command::new(&bin)
            .env("LD_LIBRARY_PATH", prefix.join("lib"))
            .arg("-k")
            .arg(&sock)
            .arg("-f")
            .arg(dir.path().join("pr.pid"))
            .spawn()
            .expect("qemu-pr-helper");
        for _ in 0..100 {
            if sock.exists() {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        c
    };
    let mut helper = spawn();
    let mut r = Vm::start(&["-object", &format!("pr-manager-helper,id=pr0,path={}", sock.display())]);
    assert_eq!(r.qmp.ok("query-pr-managers", json!({})), json!([{"id": "pr0", "connected": true}]));
    let _ = helper.kill();
    let _ = helper.wait();
    status(&mut r, false);
    let mut helper = spawn();
    status(&mut r, true);
    let _ = helper.kill();
    let _ = helper.wait();
}

extern "C" {
    #[link_name = "geteuid"]
    fn libc_geteuid() -> u32;
}
