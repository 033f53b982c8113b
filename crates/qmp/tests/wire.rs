//! The protocol over real sockets: envelope texts, parse errors, framing,
//! ids, negotiation, events.

mod common;

use std::os::unix::fs::PermissionsExt;

use common::{Raw, TestServer};
use ironide_qmp::Event;
use serde_json::{json, Value};

#[test]
fn greeting_and_socket_mode() {
    let srv = TestServer::start();
    let mode = std::fs::metadata(&srv.path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let mut c = Raw::connect(&srv.path);
    let g = c.read();
    assert_eq!(g["QMP"]["capabilities"], json!(["oob"]));
    assert_eq!(g["QMP"]["version"]["qemu"], json!({"major": 7, "minor": 2, "micro": 0}));
    assert!(g["QMP"]["version"]["package"].as_str().unwrap().starts_with("ironide"));
}

#[test]
fn negotiation_rules() {
    let srv = TestServer::start();
    let mut c = Raw::greeted(&srv.path);
    let v = c.cmd(r#"{"execute": "query-status", "id": 1}"#);
    assert_eq!(v["error"]["class"], "CommandNotFound");
    assert_eq!(v["error"]["desc"], "Expecting capabilities negotiation with 'qmp_capabilities'");
    assert_eq!(v["id"], 1);
    // No events before negotiation: the next line is the reply.
    srv.inject(Event::stop());
    std::thread::sleep(std::time::Duration::from_millis(100));
    assert_eq!(c.cmd(r#"{"execute": "qmp_capabilities", "arguments": {"enable": ["oob"]}}"#), json!({"return": {}}));
    let v = c.cmd(r#"{"execute": "qmp_capabilities"}"#);
    assert_eq!(v["error"]["class"], "CommandNotFound");
    assert_eq!(v["error"]["desc"], "Capabilities negotiation is already complete, command ignored");
    assert_eq!(c.cmd(r#"{"execute": "query-status"}"#), json!({"return": {"status": "running", "running": true}}));
}

#[test]
fn envelope_errors() {
    let srv = TestServer::start();
    let mut c = Raw::ready(&srv.path);
    for (input, desc) in [
        ("[]", "QMP input must be a JSON object"),
        ("\"abc\"", "QMP input must be a JSON object"),
        ("{}", "QMP input lacks member 'execute'"),
        (r#"{"execute": 1}"#, "QMP input member 'execute' must be a string"),
        (r#"{"execute": "stop", "arguments": 1}"#, "QMP input member 'arguments' must be an object"),
        (r#"{"execute": "stop", "bar": 1}"#, "QMP input member 'bar' is unexpected"),
        (r#"{"execute": "query-status", "arguments": {"foo": 1}}"#, "Parameter 'foo' is unexpected"),
        (r#"{"execute": "blockdev-del", "arguments": {}}"#, "Parameter 'node-name' is missing"),
        (
            r#"{"execute": "block_set_io_throttle", "arguments": {"id": "cd0", "bps": "x"}}"#,
            "Invalid parameter type for 'bps', expected: integer",
        ),
        (
            r#"{"execute": "blockdev-add", "arguments": {"driver": "nope"}}"#,
            "Parameter 'driver' does not accept value 'nope'",
        ),
    ] {
        assert_eq!(c.err(input), desc, "{input}");
    }
    let v = c.cmd(r#"{"execute": "nosuch", "id": "q"}"#);
    assert_eq!(
        v,
        json!({"error": {"class": "CommandNotFound", "desc": "The command nosuch has not been found"}, "id": "q"})
    );
    // Handler errors keep their class.
    let v = c.cmd(r#"{"execute": "blockdev-open-tray", "arguments": {"id": "nope"}}"#);
    assert_eq!(v["error"], json!({"class": "DeviceNotFound", "desc": "Device 'nope' not found"}));
    assert_eq!(c.err(r#"{"execute": "blockdev-open-tray", "arguments": {}}"#), "Need exactly one of 'device' and 'id'");
    // exec-oob runs like execute.
    assert_eq!(c.cmd(r#"{"exec-oob": "query-name", "id": 9}"#), json!({"return": {}, "id": 9}));
}

#[test]
fn parse_errors_have_no_id_and_connection_survives() {
    let srv = TestServer::start();
    let mut c = Raw::ready(&srv.path);
    for (input, desc) in [
        (&b"{\"execute\": }"[..], "JSON parse error, expecting value"),
        (&b"\x01"[..], "JSON parse error, stray '\u{1}'"),
        (&b"{\"execute\": \"\xc3\x28\"}"[..], "JSON parse error, invalid UTF-8 sequence in string"),
    ] {
        c.send(input);
        let v = c.read();
        assert_eq!(v["error"]["desc"], desc);
        assert_eq!(v["error"]["class"], "GenericError");
        assert!(v.get("id").is_none());
        assert_eq!(c.cmd(r#"{"execute": "query-name", "id": 1}"#), json!({"return": {}, "id": 1}));
    }
    // Too deep: one error at the 1025th level, then a usable connection.
    c.send("[".repeat(1025).as_bytes());
    c.send(b"\n");
    assert_eq!(c.read()["error"]["desc"], "JSON nesting depth limit exceeded");
    assert_eq!(c.cmd(r#"{"execute": "query-name", "id": 2}"#), json!({"return": {}, "id": 2}));
}

#[test]
fn framing_split_several_crlf() {
    let srv = TestServer::start();
    let mut c = Raw::ready(&srv.path);
    // "{" alone, then the rest.
    c.send(b"{");
    std::thread::sleep(std::time::Duration::from_millis(50));
    c.send(b"\"execute\": \"query-name\", \"id\"");
    std::thread::sleep(std::time::Duration::from_millis(50));
    c.send(b": 7}");
    assert_eq!(c.read(), json!({"return": {}, "id": 7}));
    // Several in one write, no separators.
    c.send(br#"{"execute":"query-name","id":1}{"execute":"query-name","id":2}{"execute":"query-name","id":3}"#);
    for i in 1..=3 {
        assert_eq!(c.read(), json!({"return": {}, "id": i}));
    }
    // Single quotes (QEMU extension).
    assert_eq!(c.cmd("{'execute': 'query-name', 'id': 'x'}"), json!({"return": {}, "id": "x"}));
}

#[test]
fn ids_of_every_type_are_echoed() {
    let srv = TestServer::start();
    let mut c = Raw::ready(&srv.path);
    for id in [
        json!(null),
        json!(true),
        json!(0),
        json!(-12),
        json!(18446744073709551615u64),
        json!(1.5),
        json!("s\u{e9}\"x"),
        json!([1, [2], {"a": "b"}]),
        json!({"k": {"n": null}}),
    ] {
        let req = json!({"execute": "query-name", "id": id});
        assert_eq!(c.cmd(&req.to_string()), json!({"return": {}, "id": id}));
        // Also on error replies.
        let req = json!({"execute": "nosuch", "id": id});
        assert_eq!(c.cmd(&req.to_string())["id"], id);
    }
}

#[test]
fn events_before_return_and_timestamps() {
    let srv = TestServer::start();
    let mut a = Raw::ready(&srv.path);
    let mut b = Raw::ready(&srv.path);
    let before = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    a.send(br#"{"execute": "blockdev-open-tray", "arguments": {"id": "cd0"}, "id": 5}"#);
    let ev = a.read();
    assert_eq!(ev["event"], "DEVICE_TRAY_MOVED");
    assert_eq!(ev["data"], json!({"device": "ide1-cd0", "id": "cd0", "tray-open": true}));
    let secs = ev["timestamp"]["seconds"].as_u64().unwrap();
    assert!(secs >= before && secs < before + 60);
    assert!(ev["timestamp"]["microseconds"].as_u64().unwrap() < 1_000_000);
    assert_eq!(a.read(), json!({"return": {}, "id": 5}));
    // The other client sees the event too.
    assert_eq!(b.read()["event"], "DEVICE_TRAY_MOVED");
    // Events without data have no data member; asynchronous ones arrive.
    a.send(br#"{"execute": "stop"}"#);
    let stop = a.read();
    assert_eq!(stop["event"], "STOP");
    assert!(stop.get("data").is_none());
    assert_eq!(a.read(), json!({"return": {}}));
    srv.inject(Event::device_tray_moved("ide1-cd0", "cd0", false));
    assert_eq!(a.read()["data"]["tray-open"], false);
    // Ordering: reset event, then return.
    a.send(br#"{"execute": "system_reset"}"#);
    let r = a.read();
    assert_eq!(r["data"], json!({"guest": false, "reason": "host-qmp-system-reset"}));
    assert_eq!(a.read(), json!({"return": {}}));
}

#[test]
fn quit_sends_shutdown_then_return() {
    let srv = TestServer::start();
    let mut c = Raw::ready(&srv.path);
    c.send(br#"{"execute": "quit"}"#);
    assert_eq!(c.read()["data"], json!({"guest": false, "reason": "host-qmp-quit"}));
    assert_eq!(c.read(), json!({"return": {}}));
    std::thread::sleep(std::time::Duration::from_millis(50));
    assert!(srv.stop());
}

#[test]
fn query_commands_and_version() {
    let srv = TestServer::start();
    let mut c = Raw::ready(&srv.path);
    let v = c.cmd(r#"{"execute": "query-commands"}"#);
    let names: Vec<&str> = v["return"].as_array().unwrap().iter().map(|e| e["name"].as_str().unwrap()).collect();
    for n in ["eject", "blockdev-change-medium", "block_set_io_throttle", "query-pr-managers", "quit"] {
        assert!(names.contains(&n), "{n}");
    }
    let v: Value = c.cmd(r#"{"execute": "query-version"}"#);
    assert_eq!(v["return"]["qemu"]["major"], 7);
}
