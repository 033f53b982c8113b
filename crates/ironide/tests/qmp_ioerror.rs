//! werror/rerror through the real binary: qtest drives an IDE disk over a
//! fault-inject node, QMP sees BLOCK_IO_ERROR, STOP, io-status and cont.

mod common;

use common::image;
use common::qmp::Vm;
use serde_json::{json, Value};

const SECTOR: usize = 512;

/// A 1 MiB image (byte i = i % 251) behind fault-inject `rules`, on an
/// ide-hd with `props`.
fn rig(rules: &str, props: &str) -> (Vm, tempfile::NamedTempFile) {
    let (img, path) = image("qmp-ioerror", 1 << 20, false, |i| (i % 251) as u8);
    let vm = Vm::start(&[
        "-blockdev",
        &format!("driver=file,node-name=f0,filename={path}"),
        "-blockdev",
        &format!("driver=fault-inject,node-name=fi,image=f0,{rules}"),
        "-device",
        &format!("ide-hd,drive=fi,id=disk0,{props}"),
    ]);
    (vm, img)
}

fn disk(img: &tempfile::NamedTempFile, lba: usize) -> Vec<u8> {
    std::fs::read(img.path()).expect("read")[lba * SECTOR..][..SECTOR].to_vec()
}

fn pattern(lba: usize) -> Vec<u8> {
    (0..SECTOR).map(|i| ((lba * SECTOR + i) % 251) as u8).collect()
}

/// WRITE SECTORS (PIO) of one sector of `fill` at `lba`.
fn pio_write(r: &mut Vm, lba: u32, fill: u8) {
    for (port, v) in
        [(0x1f6, 0xe0), (0x1f2, 1), (0x1f3, lba & 0xff), (0x1f4, (lba >> 8) & 0xff), (0x1f5, 0), (0x1f7, 0x30)]
    {
        assert_eq!(r.qt.cmd(&format!("outb {port:#x} {v:#x}")), "OK");
    }
    let w = u16::from_le_bytes([fill, fill]);
    for _ in 0..SECTOR / 2 {
        assert_eq!(r.qt.cmd(&format!("outw 0x1f0 {w:#x}")), "OK");
    }
}

/// READ SECTORS (PIO) of one sector at `lba`; the status after the command.
fn pio_read_cmd(r: &mut Vm, lba: u32) -> u64 {
    for (port, v) in
        [(0x1f6, 0xe0), (0x1f2, 1), (0x1f3, lba & 0xff), (0x1f4, (lba >> 8) & 0xff), (0x1f5, 0), (0x1f7, 0x20)]
    {
        assert_eq!(r.qt.cmd(&format!("outb {port:#x} {v:#x}")), "OK");
    }
    r.qt.num("inb 0x3f6")
}

fn io_status(r: &mut Vm) -> Value {
    let blocks = r.qmp.ok("query-block", json!({}));
    let b = blocks.as_array().and_then(|a| {
        a.iter().find(|b| b["qdev"] == "disk0" || b["qdev"].as_str().is_some_and(|q| q.contains("disk0")))
    });
    b.map(|b| b["io-status"].clone()).unwrap_or(Value::Null)
}

#[test]
fn werror_stop_then_cont_completes_the_write() {
    let (mut r, img) = rig("rules.0.iotype=write,rules.0.errno=EIO,rules.0.count=1", "werror=stop");
    pio_write(&mut r, 8, 0xab);
    let ev = r.qmp.wait_event("BLOCK_IO_ERROR");
    assert_eq!(ev["data"]["operation"], "write");
    assert_eq!(ev["data"]["action"], "stop");
    assert_eq!(ev["data"]["nospace"], false);
    assert_eq!(ev["data"]["node-name"], "fi");
    assert_eq!(ev["data"]["reason"], "Input/output error");
    r.qmp.wait_event("STOP");
    assert_eq!(r.qmp.ok("query-status", json!({})), json!({"status": "io-error", "running": false}));
    assert_eq!(io_status(&mut r), "failed");
    assert_eq!(r.qt.num("inb 0x3f6") & 0x80, 0x80, "still busy");
    assert_eq!(disk(&img, 8), pattern(8));

    assert_eq!(r.qmp.ok("cont", json!({})), json!({}));
    r.qmp.wait_event("RESUME");
    assert_eq!(r.qmp.ok("query-status", json!({}))["running"], true);
    assert_eq!(r.qt.num("inb 0x3f6"), 0x50);
    assert_eq!(io_status(&mut r), "ok");
    assert_eq!(disk(&img, 8), vec![0xab; SECTOR]);
}

#[test]
fn werror_report_and_ignore() {
    let (mut r, _img) = rig("rules.0.iotype=write,rules.0.errno=EIO", "werror=report");
    pio_write(&mut r, 8, 0xab);
    assert_eq!(r.qt.num("inb 0x3f6"), 0x41);
    assert_eq!(r.qt.num("inb 0x1f1"), 0x04);
    assert_eq!(r.qmp.wait_event("BLOCK_IO_ERROR")["data"]["action"], "report");
    assert_eq!(r.qmp.ok("query-status", json!({}))["running"], true);
    drop(r);

    let (mut r, img) = rig("rules.0.iotype=write,rules.0.errno=EIO", "werror=ignore");
    pio_write(&mut r, 8, 0xab);
    assert_eq!(r.qt.num("inb 0x3f6"), 0x50);
    assert_eq!(r.qmp.wait_event("BLOCK_IO_ERROR")["data"]["action"], "ignore");
    assert_eq!(disk(&img, 8), pattern(8));
}

#[test]
fn rerror_stop_and_report() {
    // Past sector 0: the board reads the MBR at start-up.
    let (mut r, _img) = rig("rules.0.iotype=read,rules.0.errno=EIO,rules.0.count=1,rules.0.offset=1024", "rerror=stop");
    pio_read_cmd(&mut r, 2);
    assert_eq!(r.qmp.wait_event("BLOCK_IO_ERROR")["data"]["operation"], "read");
    r.qmp.wait_event("STOP");
    r.qmp.ok("cont", json!({}));
    assert_eq!(r.qt.num("inb 0x3f6") & 0x89, 0x08, "data ready after cont");
    let w = r.qt.num("inw 0x1f0") as u16;
    assert_eq!(w.to_le_bytes().to_vec(), pattern(2)[..2].to_vec());
    drop(r);

    let (mut r, _img) = rig("rules.0.iotype=read,rules.0.errno=EIO,rules.0.offset=1024", "rerror=report");
    assert_eq!(pio_read_cmd(&mut r, 2), 0x41);
}

#[test]
fn enospc() {
    let (mut r, _img) = rig("rules.0.iotype=write,rules.0.errno=ENOSPC,rules.0.count=1", "werror=enospc");
    pio_write(&mut r, 8, 0xab);
    let ev = r.qmp.wait_event("BLOCK_IO_ERROR");
    assert_eq!((ev["data"]["action"].clone(), ev["data"]["nospace"].clone()), (json!("stop"), json!(true)));
    r.qmp.wait_event("STOP");
    assert_eq!(io_status(&mut r), "nospace");
    r.qmp.ok("cont", json!({}));
    assert_eq!(r.qt.num("inb 0x3f6"), 0x50);
    drop(r);

    let (mut r, _img) = rig("rules.0.iotype=write,rules.0.errno=EIO", "werror=enospc");
    pio_write(&mut r, 8, 0xab);
    assert_eq!(r.qt.num("inb 0x3f6"), 0x41);
    assert_eq!(r.qmp.wait_event("BLOCK_IO_ERROR")["data"]["action"], "report");
}
