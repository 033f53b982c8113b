//! pr-manager-helper against a fake helper: a listener that sends the
//! capability word on accept.

use std::io::Write;
use std::os::unix::net::UnixListener;
use std::path::PathBuf;
use std::sync::mpsc;
use std::thread::JoinHandle;

use super::*;

/// A fake helper: accepts one connection, sends the flags, then holds the
/// connection until told to drop it (`close`).
struct Fake {
    close: mpsc::Sender<()>,
    thread: Option<JoinHandle<()>>,
}

impl Fake {
    fn start(path: &Path, flags: u32) -> Fake {
        let _ = std::fs::remove_file(path);
        let l = UnixListener::bind(path).expect("bind");
        let (close, rx) = mpsc::channel::<()>();
        let thread = std::thread::spawn(move || {
            let Ok((mut s, _)) = l.accept() else { return };
            let _ = s.write_all(&flags.to_be_bytes());
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

/// Wait for the wake-up fd (at most `ms`), then poll.
fn wait_poll(p: &mut PrManagers, ms: i32) -> Vec<Event> {
    let fd = p.fd().expect("wake fd");
    let mut pfd = libc::pollfd { fd, events: libc::POLLIN, revents: 0 };
    // SAFETY: one pollfd on our stack.
    unsafe { libc::poll(&mut pfd, 1, ms) };
    p.poll()
}

fn data(e: &Event) -> (String, Value) {
    (e.name.clone(), e.data.clone().unwrap_or_default())
}

#[test]
fn connect_lose_and_reconnect() {
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("pr.sock");
    let fake = Fake::start(&sock, 1);
    let mut st = QmpState::default();
    let mut ev = Vec::new();
    assert_eq!(add(&mut st, "pr0", &sock, &mut ev).unwrap(), json!({}));
    assert_eq!(data(&ev[0]), ("PR_MANAGER_STATUS_CHANGED".into(), json!({"id": "pr0", "connected": true})));
    assert_eq!(query(&st).unwrap(), json!([{"id": "pr0", "connected": true}]));
    assert_eq!(st.pr_managers.flags("pr0"), Some(1));
    assert!(poll(&mut st).is_empty(), "nothing changed");

    fake.stop();
    let ev = wait_poll(&mut st.pr_managers, 3000);
    assert_eq!(ev.len(), 1);
    assert_eq!(data(&ev[0]).1, json!({"id": "pr0", "connected": false}));
    assert_eq!(query(&st).unwrap(), json!([{"id": "pr0", "connected": false}]));

    // The helper comes back: the retry timer wakes the loop within ~1 s.
    let fake = Fake::start(&sock, 0);
    let mut got = Vec::new();
    for _ in 0..10 {
        got = wait_poll(&mut st.pr_managers, 1000);
        if !got.is_empty() {
            break;
        }
    }
    assert_eq!(got.len(), 1);
    assert_eq!(data(&got[0]).1, json!({"id": "pr0", "connected": true}));
    assert_eq!(st.pr_managers.connected("pr0"), Some(true));

    let mut ev = Vec::new();
    assert_eq!(del(&mut st, "pr0", &mut ev).unwrap(), json!({}));
    assert_eq!(query(&st).unwrap(), json!([]));
    fake.stop();
}

#[test]
fn errors() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nosuch.sock");
    let mut st = QmpState::default();
    let mut ev = Vec::new();
    let e = add(&mut st, "pr0", &missing, &mut ev).unwrap_err();
    assert_eq!(e.desc, format!("Failed to connect to '{}': No such file or directory", missing.display()));
    assert!(ev.is_empty());
    assert_eq!(query(&st).unwrap(), json!([]));
    assert_eq!(del(&mut st, "pr0", &mut ev).unwrap_err().desc, "object 'pr0' not found");

    let sock = dir.path().join("pr.sock");
    let fake = Fake::start(&sock, 0);
    add(&mut st, "pr0", &sock, &mut ev).unwrap();
    let e = add(&mut st, "pr0", &sock, &mut ev).unwrap_err();
    assert!(e.desc.contains("duplicate property 'pr0'"), "{}", e.desc);
    fake.stop();

    // A peer that closes without the handshake is no helper.
    let plain = dir.path().join("plain.sock");
    let l = UnixListener::bind(&plain).unwrap();
    let t = std::thread::spawn(move || drop(l.accept()));
    let e = add(&mut st, "pr1", &plain, &mut ev).unwrap_err();
    assert!(e.desc.starts_with("Failed to connect to"), "{}", e.desc);
    let _ = t.join();

    let plans = [PrManagerPlan { id: "x".into(), path: missing.clone() }];
    let e = PrManagers::start(&plans).unwrap_err();
    assert_eq!(e.to_string(), format!("Failed to connect to '{}': No such file or directory", missing.display()));
}

/// qemu-pr-helper from firmware-tests/scripts/unpack-qemu.sh (or
/// IRONIDE_PR_HELPER), run as root; None (test skipped) otherwise.
fn real_helper() -> Option<(PathBuf, PathBuf)> {
    let prefix = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/qemu72");
    let bin = std::env::var_os("IRONIDE_PR_HELPER")
        .map(PathBuf::from)
        .unwrap_or_else(|| prefix.join("usr/bin/qemu-pr-helper"));
    // SAFETY: geteuid has no preconditions.
    if !bin.exists() || unsafe { libc::geteuid() } != 0 {
        eprintln!("skipped: needs root and {} (run firmware-tests/scripts/unpack-qemu.sh)", bin.display());
        return None;
    }
    Some((bin, prefix.join("lib")))
}

fn spawn_helper(bin: &Path, lib: &Path, sock: &Path, pidfile: &Path) -> Option<std::process::Child> {
    let _ = std::fs::remove_file(sock);
    let child = std::process::Command::new(bin)
        .env("LD_LIBRARY_PATH", lib)
        .arg("-k")
        .arg(sock)
        .arg("-f")
        .arg(pidfile)
        .stderr(std::process::Stdio::null())
        .spawn()
        .ok()?;
    for _ in 0..100 {
        if sock.exists() {
            return Some(child);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    eprintln!("skipped: qemu-pr-helper did not create its socket");
    Some(child).and_then(|mut c| {
        let _ = c.kill();
        let _ = c.wait();
        None
    })
}

#[test]
fn real_qemu_pr_helper() {
    let Some((bin, lib)) = real_helper() else { return };
    let dir = tempfile::tempdir().unwrap();
    let (sock, pid) = (dir.path().join("pr.sock"), dir.path().join("pr.pid"));
    let Some(mut helper) = spawn_helper(&bin, &lib, &sock, &pid) else { return };
    let mut st = QmpState::default();
    let mut ev = Vec::new();
    add(&mut st, "pr0", &sock, &mut ev).expect("connects to qemu-pr-helper");
    assert_eq!(data(&ev[0]).1, json!({"id": "pr0", "connected": true}));
    assert_eq!(query(&st).unwrap(), json!([{"id": "pr0", "connected": true}]));

    let _ = helper.kill();
    let _ = helper.wait();
    let ev = wait_poll(&mut st.pr_managers, 3000);
    assert_eq!(ev.iter().map(|e| data(e).1).collect::<Vec<_>>(), vec![json!({"id": "pr0", "connected": false})]);

    let Some(mut helper) = spawn_helper(&bin, &lib, &sock, &pid) else { return };
    let mut got = Vec::new();
    for _ in 0..10 {
        got = wait_poll(&mut st.pr_managers, 1000);
        if !got.is_empty() {
            break;
        }
    }
    let _ = helper.kill();
    let _ = helper.wait();
    assert_eq!(got.iter().map(|e| data(e).1).collect::<Vec<_>>(), vec![json!({"id": "pr0", "connected": true})]);
}
