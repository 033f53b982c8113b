//! The Rust `qapi` / `qapi-qmp` crates (0.15) as strict decoders: every
//! reply and event must deserialize into their generated types.

mod common;

use std::os::unix::net::UnixStream;

use common::TestServer;
use qapi::qmp;
use qapi::{ErrorClass, ExecuteError, Qmp};

#[test]
fn qapi_crate_decodes_everything() {
    let srv = TestServer::start();
    let stream = UnixStream::connect(&srv.path).unwrap();
    stream.set_read_timeout(Some(std::time::Duration::from_secs(20))).unwrap();
    let mut q = Qmp::from_stream(&stream);
    let greeting = q.handshake().unwrap();
    assert_eq!(greeting.version.qemu.major, 7);

    let st = q.execute(&qmp::query_status {}).unwrap();
    assert!(st.running);
    let v = q.execute(&qmp::query_version {}).unwrap();
    assert_eq!(v.qemu.minor, 2);
    let cmds = q.execute(&qmp::query_commands {}).unwrap();
    assert!(cmds.iter().any(|c| c.name == "blockdev-insert-medium"));
    q.execute(&qmp::query_name {}).unwrap();
    let blocks = q.execute(&qmp::query_block {}).unwrap();
    assert_eq!(blocks[0].device, "ide1-cd0");
    let stats = q.execute(&qmp::query_blockstats { query_nodes: None }).unwrap();
    assert_eq!(stats[0].stats.rd_operations, 0);
    assert!(q.execute(&qmp::query_pr_managers {}).unwrap().is_empty());

    // A command causing an event: the event decodes too.
    #[allow(deprecated)]
    let open = qmp::blockdev_open_tray { device: None, id: Some("cd0".into()), force: None };
    q.execute(&open).unwrap();
    let events: Vec<qmp::Event> = q.events().collect();
    assert!(events.iter().any(|e| matches!(e, qmp::Event::DEVICE_TRAY_MOVED { data, .. } if data.tray_open)));

    // Errors decode with their class.
    #[allow(deprecated)]
    let bad = qmp::blockdev_close_tray { device: Some("a".into()), id: Some("b".into()) };
    match q.execute(&bad) {
        Err(ExecuteError::Qapi(e)) => {
            assert_eq!(e.class, ErrorClass::GenericError);
            assert_eq!(e.desc, "Need exactly one of 'device' and 'id'");
        }
        other => panic!("{other:?}"),
    }
    #[allow(deprecated)]
    let missing = qmp::blockdev_open_tray { device: Some("nope".into()), id: None, force: None };
    match q.execute(&missing) {
        Err(ExecuteError::Qapi(e)) => assert_eq!(e.class, ErrorClass::DeviceNotFound),
        other => panic!("{other:?}"),
    }
    q.execute(&qmp::stop {}).unwrap();
    q.execute(&qmp::cont {}).unwrap();
    let events: Vec<qmp::Event> = q.events().collect();
    assert!(events.iter().any(|e| matches!(e, qmp::Event::STOP { .. })));
    assert!(events.iter().any(|e| matches!(e, qmp::Event::RESUME { .. })));
}
