//! Block queries and operations over QMP through the binary (-accel qtest):
//! query-block, query-blockstats, query-named-block-nodes, blockdev-add/
//! del, block_set_io_throttle, block-latency-histogram-set — exact shapes
//! and texts, strict decoding with the Rust qapi crate, and the Python
//! qemu.qmp client.

mod common;

use std::path::PathBuf;
use std::process::Command;

use common::qmp::{self, Qmp, Vm};
use common::{image_in, tempdir, Qtest, TIMEOUT};
use serde_json::{json, Value};

struct Setup {
    vm: Vm,
    disk: PathBuf,
    cd: PathBuf,
}

/// Disk ide0-hd0, CD "cdd" (device id cd0) at ide1 master, an empty CD
/// cd1 at ide1 slave, floppy0.
fn setup() -> Setup {
    let dir = tempdir();
    let disk = image_in(dir.path(), "disk.img", 1 << 20);
    let cd = image_in(dir.path(), "cd.iso", 1 << 20);
    let fd = image_in(dir.path(), "fd.img", 1_474_560);
    let a = |s: String| s;
    let args = [
        "-drive".to_string(),
        a(format!("file={},if=ide,index=0,format=raw", disk.display())),
        "-drive".into(),
        a(format!("file={},if=none,id=cdd,media=cdrom,readonly=on,format=raw", cd.display())),
        "-device".into(),
        "ide-cd,drive=cdd,id=cd0,bus=ide.1,unit=0".into(),
        "-device".into(),
        "ide-cd,id=cd1,bus=ide.1,unit=1".into(),
        "-drive".into(),
        a(format!("file={},if=floppy,index=0,format=raw", fd.display())),
    ];
    let refs: Vec<&str> = args.iter().map(|s| s.as_str()).collect();
    // The images live as long as the machine.
    let vm = Vm::start_in(dir, &refs);
    Setup { vm, disk, cd }
}

fn by_device<'a>(list: &'a Value, key: &str, name: &str) -> &'a Value {
    list.as_array()
        .and_then(|l| l.iter().find(|e| e[key] == name))
        .unwrap_or_else(|| panic!("no {key}={name} in {list}"))
}

#[test]
fn query_block_shapes() {
    let mut s = setup();
    let blk = s.vm.qmp.ok("query-block", Value::Null);
    assert_eq!(blk.as_array().map(|a| a.len()), Some(4), "{blk}");

    let hd = by_device(&blk, "device", "ide0-hd0");
    let ins = &hd["inserted"];
    let node = ins["node-name"].as_str().unwrap_or("").to_string();
    assert!(node.starts_with("#block"), "automatic node name: {ins}");
    let actual = ins["image"]["actual-size"].clone();
    assert!(hd["qdev"].as_str().unwrap_or("").starts_with("/machine/"), "{hd}");
    let disk = s.disk.display().to_string();
    let expect = json!({
        "device": "ide0-hd0", "qdev": hd["qdev"], "type": "unknown", "removable": false, "locked": false,
        "io-status": "ok",
        "inserted": {
            "file": disk, "node-name": node, "ro": false, "drv": "raw", "backing_file_depth": 0,
            "encrypted": false, "detect_zeroes": "off",
            "bps": 0, "bps_rd": 0, "bps_wr": 0, "iops": 0, "iops_rd": 0, "iops_wr": 0,
            "image": {"filename": disk, "format": "raw", "virtual-size": 1048576, "actual-size": actual},
            "cache": {"writeback": true, "direct": false, "no-flush": false},
            "write_threshold": 0
        }
    });
    assert_eq!(hd, &expect);

    let cd = by_device(&blk, "qdev", "cd0");
    assert_eq!(cd["device"], "cdd");
    assert_eq!(
        (cd["removable"].clone(), cd["locked"].clone(), cd["tray_open"].clone()),
        (json!(true), json!(false), json!(false))
    );
    assert_eq!(cd["io-status"], "ok");
    assert_eq!(cd["inserted"]["ro"], true);
    assert_eq!(cd["inserted"]["file"], s.cd.display().to_string());

    let empty = by_device(&blk, "qdev", "cd1");
    assert_eq!(
        empty,
        &json!({"device": "", "qdev": "cd1", "type": "unknown", "removable": true, "locked": false,
                "tray_open": false, "io-status": "ok"})
    );

    // Floppies: removable, no tray, no io-status.
    let fd = by_device(&blk, "device", "floppy0");
    assert_eq!(fd["removable"], true);
    assert!(fd.get("tray_open").is_none() && fd.get("io-status").is_none(), "{fd}");
    assert_eq!(fd["inserted"]["image"]["virtual-size"], 1_474_560);

    // The Rust client's types accept every entry.
    let typed: Vec<qapi::qmp::BlockInfo> = serde_json::from_value(blk.clone()).expect("qapi decodes query-block");
    assert_eq!(typed.len(), 4);
}

/// One 512-byte PIO read of LBA 0 on the primary master.
fn read_sector(q: &mut Qtest) {
    for (port, v) in [(0x1f6, 0xe0), (0x1f2, 1), (0x1f3, 0), (0x1f4, 0), (0x1f5, 0), (0x1f7, 0x20)] {
        assert_eq!(q.cmd(&format!("outb {port:#x} {v:#x}")), "OK");
    }
    let start = std::time::Instant::now();
    loop {
        let st = q.num("inb 0x1f7");
        if st & 0x80 == 0 && st & 0x08 != 0 {
            break;
        }
        assert!(start.elapsed() < TIMEOUT, "no DRQ (status {st:#x})");
    }
    for _ in 0..256 {
        q.num("inw 0x1f0");
    }
}

#[test]
fn query_blockstats_counts_guest_io_only() {
    let mut s = setup();
    let st = s.vm.qmp.ok("query-blockstats", Value::Null);
    let hd = by_device(&st, "device", "ide0-hd0").clone();
    let stats = &hd["stats"];
    assert_eq!(stats["rd_operations"], 0, "the geometry probe is not counted: {stats}");
    assert!(stats.get("idle_time_ns").is_none(), "no idle time before any I/O: {stats}");
    assert_eq!(stats["timed_stats"], json!([]));
    for k in [
        "zone_append_bytes",
        "zone_append_operations",
        "zone_append_total_time_ns",
        "zone_append_merged",
        "failed_zone_append_operations",
        "invalid_zone_append_operations",
    ] {
        assert_eq!(stats[k], 0, "{k}");
    }
    assert_eq!(stats.as_object().map(|o| o.len()), Some(32), "every BlockDeviceStats field: {stats}");
    assert!(hd["node-name"].as_str().unwrap_or("").starts_with("#block"), "{hd}");
    assert!(hd["qdev"].is_string());
    let empty = by_device(&st, "qdev", "cd1");
    assert!(empty.get("node-name").is_none(), "{empty}");

    read_sector(&mut s.vm.qt);
    let st = s.vm.qmp.ok("query-blockstats", Value::Null);
    let stats = &by_device(&st, "device", "ide0-hd0")["stats"];
    assert_eq!((stats["rd_operations"].clone(), stats["rd_bytes"].clone()), (json!(1), json!(512)), "{stats}");
    assert!(stats["idle_time_ns"].is_u64(), "idle time after the first I/O: {stats}");
    let typed: Vec<qapi::qmp::BlockStats> = serde_json::from_value(st.clone()).expect("qapi decodes query-blockstats");
    assert_eq!(typed.len(), 4);

    let nodes = s.vm.qmp.ok("query-blockstats", json!({"query-nodes": true}));
    let list = nodes.as_array().expect("list");
    assert!(!list.is_empty());
    assert!(list.iter().all(|e| e["node-name"].is_string() && e["stats"].is_object()), "{nodes}");
    let _: Vec<qapi::qmp::BlockStats> = serde_json::from_value(nodes).expect("qapi decodes query-nodes stats");
}

#[test]
fn named_nodes_and_blockdev_add_del() {
    let mut s = setup();
    let q = &mut s.vm.qmp;
    let blk = q.ok("query-block", Value::Null);
    let auto = by_device(&blk, "device", "ide0-hd0")["inserted"]["node-name"].as_str().unwrap_or("").to_string();
    let names = |q: &mut Qmp| -> Vec<String> {
        let v = q.ok("query-named-block-nodes", Value::Null);
        let _: Vec<qapi::qmp::BlockDeviceInfo> = serde_json::from_value(v.clone()).expect("qapi decodes nodes");
        v.as_array().unwrap_or(&vec![]).iter().map(|n| n["node-name"].as_str().unwrap_or("").to_string()).collect()
    };
    assert!(names(q).contains(&auto), "{auto} listed");

    let img = image_in(s.vm.qt.dir.path(), "extra.img", 65536).display().to_string();
    assert_eq!(q.ok("blockdev-add", json!({"driver": "file", "node-name": "n1", "filename": img})), json!({}));
    assert_eq!(q.ok("blockdev-add", json!({"driver": "raw", "node-name": "r1", "file": "n1"})), json!({}));
    let list = q.ok("query-named-block-nodes", Value::Null);
    let r1 = by_device(&list, "node-name", "r1");
    assert_eq!((r1["drv"].clone(), r1["file"].clone()), (json!("raw"), json!(img)));
    assert_eq!(r1["image"]["virtual-size"], 65536);

    let e = |q: &mut Qmp, cmd: &str, a: Value| q.err(cmd, a);
    let gen = |d: &str| ("GenericError".to_string(), d.to_string());
    assert_eq!(
        e(q, "blockdev-add", json!({"driver": "file", "node-name": "n1", "filename": img})),
        gen("Duplicate nodes with node-name='n1'")
    );
    assert_eq!(
        e(q, "blockdev-add", json!({"driver": "file", "filename": img})),
        gen("'node-name' must be specified for the root node")
    );
    assert_eq!(
        e(q, "blockdev-add", json!({"driver": "file", "node-name": "1abc", "filename": img})),
        gen("Invalid node-name: '1abc'")
    );
    assert_eq!(
        e(q, "blockdev-add", json!({"driver": "file", "node-name": "n9", "filename": "/nonexistent"})),
        gen("Could not open '/nonexistent': No such file or directory")
    );
    assert_eq!(
        e(q, "blockdev-add", json!({"driver": "raw", "node-name": "r9", "file": "x"})),
        gen("Cannot find device='x' nor node-name='x'")
    );
    assert_eq!(
        e(q, "blockdev-del", json!({"node-name": "nosuch"})),
        gen("Failed to find node with node-name='nosuch'")
    );
    assert_eq!(e(q, "blockdev-del", json!({"node-name": "n1"})), gen("Node n1 is in use"));
    assert_eq!(e(q, "blockdev-del", json!({"node-name": auto})), gen(&format!("Node {auto} is in use")));

    assert_eq!(q.ok("blockdev-del", json!({"node-name": "r1"})), json!({}));
    assert_eq!(q.ok("blockdev-del", json!({"node-name": "n1"})), json!({}));
    let after = names(q);
    assert!(!after.contains(&"r1".to_string()) && !after.contains(&"n1".to_string()), "{after:?}");
}

fn throttle(sel: Value, extra: Value) -> Value {
    let mut a = json!({"bps": 0, "bps_rd": 0, "bps_wr": 0, "iops": 0, "iops_rd": 0, "iops_wr": 0});
    for src in [sel, extra] {
        if let Some(o) = src.as_object() {
            for (k, v) in o {
                a[k] = v.clone();
            }
        }
    }
    a
}

#[test]
fn block_set_io_throttle_checks_and_applies() {
    let mut s = setup();
    let q = &mut s.vm.qmp;
    let t = "block_set_io_throttle";
    let gen = |d: &str| ("GenericError".to_string(), d.to_string());
    let hd = json!({"device": "ide0-hd0"});
    assert_eq!(q.err(t, throttle(json!({}), json!({}))), gen("Need exactly one of 'device' and 'id'"));
    assert_eq!(
        q.err(t, throttle(json!({"device": "ide0-hd0", "id": "cd0"}), json!({}))),
        gen("Need exactly one of 'device' and 'id'")
    );
    assert_eq!(
        q.err(t, throttle(json!({"device": "x"}), json!({}))),
        ("DeviceNotFound".into(), "Device 'x' not found".into())
    );
    assert_eq!(
        q.err(t, throttle(json!({"id": "nosuch"}), json!({}))),
        ("DeviceNotFound".into(), "Device 'nosuch' not found".into())
    );
    // No medium is reported before any value is looked at.
    assert_eq!(q.err(t, throttle(json!({"id": "cd1"}), json!({"bps": -1}))), gen("Device has no medium"));
    let cases = [
        (
            json!({"bps": 1, "bps_rd": 1}),
            "bps/iops/max total values and read/write values cannot be used at the same time",
        ),
        (json!({"iops_size": 512}), "iops size requires an iops value to be set"),
        (json!({"bps": 1_000_000_000_000_001u64}), "bps/iops/max values must be within [0, 1000000000000000]"),
        (json!({"bps": -5}), "bps/iops/max values must be within [0, 1000000000000000]"),
        (json!({"bps": 10, "bps_max": 20, "bps_max_length": 0}), "the burst length cannot be 0"),
        (json!({"bps": 10, "bps_max_length": 2}), "burst length set without burst rate"),
        (json!({"bps_max": 20}), "bps_max/iops_max require corresponding bps/iops values"),
        (json!({"bps": 100, "bps_max": 50}), "bps_max/iops_max cannot be lower than bps/iops"),
    ];
    for (extra, desc) in cases {
        assert_eq!(q.err(t, throttle(hd.clone(), extra.clone())), gen(desc), "{extra}");
    }
    // Exactly 1e15 is allowed.
    q.ok(t, throttle(hd.clone(), json!({"bps": 1_000_000_000_000_000u64})));

    q.ok(t, throttle(hd.clone(), json!({"bps": 1_000_000, "bps_max": 2_000_000, "iops_rd": 100})));
    let blk = q.ok("query-block", Value::Null);
    let ins = &by_device(&blk, "device", "ide0-hd0")["inserted"];
    assert_eq!(ins["bps"], 1_000_000);
    assert_eq!(ins["bps_max"], 2_000_000);
    assert_eq!(ins["bps_max_length"], 1);
    assert_eq!(ins["iops_rd"], 100);
    assert_eq!(ins["group"], "ide0-hd0", "default group: the backend name");
    for absent in ["iops_rd_max", "iops_rd_max_length", "bps_rd_max", "iops_size"] {
        assert!(ins.get(absent).is_none(), "{absent} in {ins}");
    }

    // Addressed by id: the group is named after the id; iops_size shows.
    q.ok(t, throttle(json!({"id": "cd0"}), json!({"iops": 10, "iops_size": 4096})));
    q.ok(t, throttle(json!({"id": "cd0"}), json!({"iops": 20})));
    let blk = q.ok("query-block", Value::Null);
    let ins = &by_device(&blk, "qdev", "cd0")["inserted"];
    assert_eq!((ins["group"].clone(), ins["iops"].clone()), (json!("cd0"), json!(20)), "{ins}");
    let _: Vec<qapi::qmp::BlockInfo> = serde_json::from_value(blk.clone()).expect("qapi decodes throttled query-block");

    // An explicit group; all zero removes the throttling.
    q.ok(t, throttle(hd.clone(), json!({"bps": 5000, "group": "g1"})));
    let blk = q.ok("query-block", Value::Null);
    assert_eq!(by_device(&blk, "device", "ide0-hd0")["inserted"]["group"], "g1");
    q.ok(t, throttle(hd.clone(), json!({})));
    let blk = q.ok("query-block", Value::Null);
    let ins = &by_device(&blk, "device", "ide0-hd0")["inserted"];
    assert!(ins.get("group").is_none() && ins["bps"] == 0, "{ins}");
}

#[test]
fn latency_histograms() {
    let mut s = setup();
    let q = &mut s.vm.qmp;
    let h = "block-latency-histogram-set";
    let hist = |q: &mut Qmp| by_device(&q.ok("query-blockstats", Value::Null), "qdev", "cd0")["stats"].clone();
    assert_eq!(q.err(h, json!({"id": "nosuch"})), ("DeviceNotFound".into(), "Device 'nosuch' not found".into()));
    q.ok(h, json!({"id": "cd0", "boundaries": [10, 20]}));
    let st = hist(q);
    for k in ["rd_latency_histogram", "wr_latency_histogram", "flush_latency_histogram"] {
        assert_eq!(st[k], json!({"boundaries": [10, 20], "bins": [0, 0, 0]}), "{k}");
    }
    // A specific list changes only its direction.
    q.ok(h, json!({"id": "cd0", "boundaries-write": [5]}));
    let st = hist(q);
    assert_eq!(st["wr_latency_histogram"]["boundaries"], json!([5]));
    assert_eq!(st["rd_latency_histogram"]["boundaries"], json!([10, 20]));
    let gen = |d: &str| ("GenericError".to_string(), d.to_string());
    assert_eq!(q.err(h, json!({"id": "cd0", "boundaries-read": [0, 5]})), gen("Device 'cd0' set read boundaries fail"));
    assert_eq!(
        q.err(h, json!({"id": "cd0", "boundaries-write": [3, 3]})),
        gen("Device 'cd0' set write boundaries fail")
    );
    assert_eq!(
        q.err(h, json!({"id": "cd0", "boundaries-flush": [2, 1]})),
        gen("Device 'cd0' set flush boundaries fail")
    );
    let st = q.ok("query-blockstats", Value::Null);
    let _: Vec<qapi::qmp::BlockStats> = serde_json::from_value(st).expect("qapi decodes histograms");
    // Only the id: every histogram goes.
    q.ok(h, json!({"id": "cd0"}));
    let st = hist(q);
    for k in ["rd_latency_histogram", "wr_latency_histogram", "flush_latency_histogram"] {
        assert!(st.get(k).is_none(), "{k} removed: {st}");
    }
}

const PY_CLIENT: &str = r#"
import asyncio, json, sys
from qemu.qmp import QMPClient, ExecuteError

async def main(path):
    c = QMPClient('ironide-test')
    await c.connect(path)
    out = {}
    out['block'] = await c.execute('query-block')
    out['stats'] = await c.execute('query-blockstats')
    args = {'device': 'ide0-hd0', 'bps': 4096, 'bps_rd': 0, 'bps_wr': 0,
            'iops': 0, 'iops_rd': 0, 'iops_wr': 0}
    out['throttle'] = await c.execute('block_set_io_throttle', args)
    out['block2'] = await c.execute('query-block')
    try:
        await c.execute('block_set_io_throttle', dict(args, device='nosuch'))
        out['error'] = None
    except ExecuteError as e:
        out['error'] = [e.error_class, e.error.error.desc]
    await c.disconnect()
    print(json.dumps(out))

asyncio.run(main(sys.argv[1]))
"#;

#[test]
fn python_qemu_qmp_client() {
    let has = Command::new("python3").args(["-c", "import qemu.qmp"]).status().map(|s| s.success()).unwrap_or(false);
    if !has {
        eprintln!("SKIP python_qemu_qmp_client: python3 with qemu.qmp is missing (pip install qemu.qmp)");
        return;
    }
    let dir = tempdir();
    let disk = image_in(dir.path(), "disk.img", 1 << 20);
    let drive = ["-drive".to_string(), format!("file={},if=ide,index=0,format=raw", disk.display())];
    let (mut child, qtest, qm) = qmp::spawn_server_mode(dir.path(), &drive);
    let script = dir.path().join("client.py");
    std::fs::write(&script, PY_CLIENT).expect("script");
    let out = Command::new("python3").arg(&script).arg(&qm).output().expect("python3");
    drop(qtest);
    let _ = child.wait();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    let v: Value = serde_json::from_str(stdout.trim()).expect("client output");
    assert_eq!(v["block"][0]["device"], "ide0-hd0");
    assert_eq!(v["stats"][0]["stats"]["rd_operations"], 0);
    assert_eq!(v["throttle"], json!({}));
    assert_eq!(v["block2"][0]["inserted"]["bps"], 4096);
    assert_eq!(v["block2"][0]["inserted"]["group"], "ide0-hd0");
    assert_eq!(v["error"], json!(["DeviceNotFound", "Device 'nosuch' not found"]));
}

/// Devices without an id are named by QEMU 7.2's QOM paths: `-drive` devices the board creates
/// (floppies first, then IDE in bus/unit order; TCG/qtest numbering) and anonymous `-device`s
/// counted in command-line order whatever their kind. The paths work as QMP `id`s.
#[test]
fn devices_without_id_are_named_by_their_qom_path() {
    let dir = common::tempdir();
    let img = |n: &str, len: u64| {
        let p = dir.path().join(n);
        std::fs::File::create(&p).and_then(|f| f.set_len(len)).expect("image");
        p.display().to_string()
    };
    let (d0, d1, f1, c) =
        (img("d0.img", 1 << 20), img("d1.img", 1 << 20), img("f1.img", 1474560), img("c.iso", 1 << 20));
    let args = [
        "-drive".to_string(),
        format!("file={d1},if=ide,index=1,format=raw"),
        "-drive".into(),
        format!("file={f1},if=floppy,index=1,format=raw"),
        "-drive".into(),
        format!("file={d0},if=ide,index=0,format=raw"),
        "-device".into(),
        "isa-debug-exit,iobase=0xf4,iosize=0x04".into(),
        "-drive".into(),
        format!("file={c},if=none,id=cdd,media=cdrom,readonly=on,format=raw"),
        "-device".into(),
        "ide-cd,drive=cdd,bus=ide.1,unit=0".into(),
    ];
    let refs: Vec<&str> = args.iter().map(|s| s.as_str()).collect();
    let mut vm = Vm::start_in(dir, &refs);
    let blk = vm.qmp.ok("query-block", Value::Null);
    let order: Vec<&str> = blk.as_array().expect("list").iter().filter_map(|b| b["device"].as_str()).collect();
    assert_eq!(order, ["ide0-hd1", "floppy1", "ide0-hd0", "cdd"], "QEMU lists drives in -drive order");
    let qdev = |dev: &str| by_device(&blk, "device", dev)["qdev"].clone();
    assert_eq!(qdev("floppy1"), "/machine/unattached/device[13]");
    assert_eq!(qdev("ide0-hd0"), "/machine/unattached/device[19]");
    assert_eq!(qdev("ide0-hd1"), "/machine/unattached/device[20]");
    assert_eq!(qdev("cdd"), "/machine/peripheral-anon/device[1]");
    vm.qmp.ok("blockdev-open-tray", json!({"id": "/machine/peripheral-anon/device[1]"}));
    let ev = vm.qmp.wait_event("DEVICE_TRAY_MOVED");
    assert_eq!(ev["data"]["id"], "/machine/peripheral-anon/device[1]", "{ev}");
}
