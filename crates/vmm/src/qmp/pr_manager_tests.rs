//! pr-manager-helper against a fake helper: a listener that sends the
//! capability word on accept.

use std::io::Write;
use std::os::unix::net::UnixListener;
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
