//! The server never crashes or wedges: garbage, huge and deep input,
//! vanishing and greedy clients, many clients at once, socket files.

mod common;

use std::io::{Read, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::time::Duration;

use common::{FakeMachine, Raw, TestServer};
use ironide_qmp::{MonitorError, Monitors, ServerInfo};
use serde_json::json;

fn still_serves(srv: &TestServer) {
    let mut c = Raw::ready(&srv.path);
    assert_eq!(c.cmd(r#"{"execute": "query-name", "id": "alive"}"#), json!({"return": {}, "id": "alive"}));
}

#[test]
fn random_bytes() {
    let srv = TestServer::start();
    // A simple xorshift: deterministic garbage without extra crates.
    let mut x: u64 = 0x9e3779b97f4a7c15;
    for _ in 0..20 {
        let mut c = Raw::ready(&srv.path);
        let data: Vec<u8> = (0..20_000)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect();
        c.send(&data);
        drop(c);
    }
    still_serves(&srv);
}

#[test]
fn ten_megabyte_line() {
    let srv = TestServer::start();
    let mut c = Raw::ready(&srv.path);
    let big = format!(r#"{{"execute": "query-name", "id": "{}"}}"#, "x".repeat(10 << 20));
    c.send(big.as_bytes());
    let v = c.read();
    assert_eq!(v["id"].as_str().map(str::len), Some(10 << 20));
    // A 10 MB argument that is wrong gets a short error.
    let big = format!(r#"{{"execute": "query-name", "arguments": {{"x": "{}"}}}}"#, "y".repeat(10 << 20));
    c.send(big.as_bytes());
    assert_eq!(c.read()["error"]["desc"], "Parameter 'x' is unexpected");
    assert_eq!(c.cmd(r#"{"execute": "query-name"}"#), json!({"return": {}}));
}

#[test]
fn deep_nesting_and_bad_utf8_storm() {
    let srv = TestServer::start();
    let mut c = Raw::ready(&srv.path);
    c.send(format!("{}\n", "{\"a\":".repeat(5000)).as_bytes());
    assert_eq!(c.read()["error"]["desc"], "JSON nesting depth limit exceeded");
    drop(c);
    let mut c = Raw::ready(&srv.path);
    for _ in 0..100 {
        c.send(b"{\"execute\": \"\xed\xa0\x80\"}");
        assert_eq!(c.read()["error"]["desc"], "JSON parse error, invalid UTF-8 sequence in string");
    }
    still_serves(&srv);
}

#[test]
fn clients_vanishing_mid_command() {
    let srv = TestServer::start();
    for i in 0..50 {
        let mut s = UnixStream::connect(&srv.path).unwrap();
        if i % 2 == 0 {
            let _ = s.write_all(br#"{"execute": "qmp_capabilities"}{"execute": "system_reset"}{"execute": "query-bl"#);
        } else {
            let _ = s.write_all(br#"{"execute": "qmp_capabilities"}{"execute": "query-blockstats"}"#);
            let _ = s.shutdown(std::net::Shutdown::Both);
        }
    }
    still_serves(&srv);
}

#[test]
fn hundred_clients_at_once() {
    let srv = TestServer::start();
    let mut clients: Vec<Raw> = (0..100).map(|_| Raw::connect(&srv.path)).collect();
    for c in &mut clients {
        assert!(c.read().get("QMP").is_some());
        c.send(br#"{"execute": "qmp_capabilities"}"#);
    }
    for (i, c) in clients.iter_mut().enumerate() {
        assert_eq!(c.read(), json!({"return": {}}));
        assert_eq!(c.cmd(&format!(r#"{{"execute": "query-name", "id": {i}}}"#)), json!({"return": {}, "id": i}));
    }
}

#[test]
fn client_that_never_reads_is_dropped() {
    let srv = TestServer::start();
    let mut s = UnixStream::connect(&srv.path).unwrap();
    s.set_write_timeout(Some(Duration::from_secs(30))).unwrap();
    // Requests whose replies are never read: the server stops reading
    // (back-pressure) instead of buffering without bound, so our writes
    // eventually block; nothing else is affected meanwhile.
    let req = br#"{"execute": "qmp_capabilities"}"#;
    s.write_all(req).unwrap();
    let flood = br#"{"execute": "query-blockstats"}"#.repeat(1000);
    s.set_nonblocking(true).unwrap();
    let mut written = 0usize;
    for _ in 0..10_000 {
        match s.write(&flood) {
            Ok(n) => written += n,
            Err(_) => break,
        }
    }
    assert!(written < 1 << 30);
    still_serves(&srv);
    drop(s);
    still_serves(&srv);
}

#[test]
fn stale_socket_replaced_live_one_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("q.sock");
    // Stale: a socket file with nobody listening.
    drop(UnixListener::bind(&path).unwrap());
    let mut m = Monitors::new(ServerInfo::default()).unwrap();
    m.add_server(&path).unwrap();
    let mut c = UnixStream::connect(&path).unwrap();
    let mut machine = FakeMachine::default();
    m.process(&mut machine).unwrap();
    let mut buf = [0u8; 5];
    c.read_exact(&mut buf).unwrap();
    assert_eq!(&buf, b"{\"QMP");
    // Live: another monitor on the same path is an error.
    let mut m2 = Monitors::new(ServerInfo::default()).unwrap();
    let e = m2.add_server(&path).unwrap_err();
    assert!(matches!(e, MonitorError::InUse { .. }), "{e}");
    drop(m2);
    assert!(path.exists(), "the failed monitor must not remove the live socket");
    // A regular file is never deleted.
    let file = dir.path().join("f");
    std::fs::write(&file, b"data").unwrap();
    assert!(m.add_server(&file).is_err());
    assert_eq!(std::fs::read(&file).unwrap(), b"data");
    drop(m);
    assert!(!path.exists(), "the socket file is removed on drop");
}

#[test]
fn client_mode_connects_to_a_listener() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("peer.sock");
    let l = UnixListener::bind(&path).unwrap();
    let mut m = Monitors::new(ServerInfo::default()).unwrap();
    m.add(&ironide_qmp::MonitorSpec { path: path.clone(), server: false, wait: false }).unwrap();
    let (s, _) = l.accept().unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut w = s.try_clone().unwrap();
    let mut r = std::io::BufReader::new(s);
    let mut line = String::new();
    std::io::BufRead::read_line(&mut r, &mut line).unwrap();
    assert!(line.starts_with("{\"QMP\""));
    w.write_all(br#"{"execute": "qmp_capabilities", "id": 1}"#).unwrap();
    let mut machine = FakeMachine::default();
    line.clear();
    for _ in 0..100 {
        m.wait(Duration::from_millis(10), &mut machine).unwrap();
        r.get_mut().set_nonblocking(true).unwrap();
        if std::io::BufRead::read_line(&mut r, &mut line).is_ok() && line.ends_with('\n') {
            break;
        }
    }
    assert_eq!(line, "{\"return\": {}, \"id\": 1}\r\n");
    let missing = dir.path().join("nobody");
    let e = m.add_client(&missing).unwrap_err().to_string();
    assert_eq!(e, format!("Failed to connect to '{}': No such file or directory", missing.display()));
}
