//! werror/rerror on a whole qtest machine: an IDE disk over a fault-inject
//! node, driven through its ports (PIO and bus-master DMA).

use std::io::Write;

use ironide_dev_platform::MachineRequest;

use super::*;
use crate::qtest_glue::QtestMachine;

const SECTOR: usize = 512;

struct Rig {
    m: Machine,
    img: tempfile::NamedTempFile,
}

/// A 1 MiB disk (byte i = i % 251) behind fault-inject `rules` (key=value
/// rule keys, e.g. "rules.0.iotype=write,rules.0.count=1"), with `props`
/// on the ide-hd (e.g. "werror=stop").
fn rig(rules: &str, props: &str) -> Rig {
    let mut img = tempfile::NamedTempFile::new().expect("image");
    let data: Vec<u8> = (0..(1u32 << 20)).map(|i| (i % 251) as u8).collect();
    img.write_all(&data).expect("write image");
    let args: Vec<String> = [
        "-machine".to_string(),
        "pc,accel=qtest".into(),
        "-nodefaults".into(),
        "-blockdev".into(),
        format!("driver=file,node-name=f0,filename={}", img.path().display()),
        "-blockdev".into(),
        format!("driver=fault-inject,node-name=fi,image=f0,{rules}"),
        "-device".into(),
        format!("ide-hd,drive=fi,id=disk0{}{props}", if props.is_empty() { "" } else { "," }),
    ]
    .into();
    let cfg = crate::cmdline::parse(&args).expect("command line");
    let m = crate::run::qtest_machine(&cfg).expect("machine");
    Rig { m, img }
}

impl Rig {
    fn status(&mut self) -> u32 {
        self.m.pio_read(0x3F6, 1)
    }

    fn select(&mut self, lba: u32, count: u8, cmd: u8) {
        self.m.pio_write(0x1F6, 1, 0xE0 | ((lba >> 24) & 0xF));
        self.m.pio_write(0x1F2, 1, u32::from(count));
        self.m.pio_write(0x1F3, 1, lba & 0xFF);
        self.m.pio_write(0x1F4, 1, (lba >> 8) & 0xFF);
        self.m.pio_write(0x1F5, 1, (lba >> 16) & 0xFF);
        self.m.pio_write(0x1F7, 1, u32::from(cmd));
    }

    /// WRITE SECTORS of one sector filled with `fill`.
    fn pio_write(&mut self, lba: u32, fill: u8) {
        self.select(lba, 1, 0x30);
        let w = u32::from(u16::from_le_bytes([fill, fill]));
        for _ in 0..SECTOR / 2 {
            self.m.pio_write(0x1F0, 2, w);
        }
        self.m.settle();
    }

    /// Bus-master DMA of one sector between the disk and guest 0x2000.
    fn dma(&mut self, lba: u32, read: bool) {
        // BAR4 at 0xC000, I/O and bus mastering on.
        self.m.pio_write(0xCF8, 4, 0x8000_0920);
        self.m.pio_write(0xCFC, 4, 0xC000);
        self.m.pio_write(0xCF8, 4, 0x8000_0904);
        self.m.pio_write(0xCFC, 2, 0x0005);
        // One PRD at 0x1000: 512 bytes at 0x2000, end of table.
        let prd = [0x2000u32.to_le_bytes(), (0x8000_0000u32 | SECTOR as u32).to_le_bytes()].concat();
        assert!(self.m.mem_write(0x1000, &prd));
        self.m.pio_write(0xC004, 4, 0x1000);
        self.m.pio_write(0xC002, 1, 0x06); // clear IRQ and error
        self.select(lba, 1, if read { 0xC8 } else { 0xCA });
        // Start; bit 3 = the device writes to memory (a disk read).
        self.m.pio_write(0xC000, 1, if read { 0x09 } else { 0x01 });
        self.m.settle();
    }

    fn disk(&self, lba: u32) -> Vec<u8> {
        let all = std::fs::read(self.img.path()).expect("read image");
        all[lba as usize * SECTOR..][..SECTOR].to_vec()
    }

    fn events(&mut self) -> Vec<serde_json::Value> {
        self.m.env.layer.retry.take_events().into_iter().map(|e| e.data.unwrap_or_default()).collect()
    }

    fn stop_requested(&self) -> bool {
        self.m.requests.contains(&MachineRequest::Stop)
    }

    fn io_status(&self) -> &'static str {
        let b = self.m.drives[0].backend;
        self.m.env.layer.retry.io_status(b).as_str()
    }
}

fn pattern(lba: u32) -> Vec<u8> {
    (0..SECTOR).map(|i| ((lba as usize * SECTOR + i) % 251) as u8).collect()
}

#[test]
fn decisions() {
    assert_eq!(decide(ErrorAction::Report, false), Decision::Deliver);
    assert_eq!(decide(ErrorAction::Ignore, true), Decision::Succeed);
    assert_eq!(decide(ErrorAction::Stop, false), Decision::Hold);
    assert_eq!(decide(ErrorAction::Enospc, true), Decision::Hold);
    assert_eq!(decide(ErrorAction::Enospc, false), Decision::Deliver);
    assert_eq!(Decision::Succeed.action_name(), "ignore");
}

#[test]
fn werror_stop_holds_a_pio_write_until_resume() {
    let mut r = rig("rules.0.iotype=write,rules.0.errno=EIO,rules.0.count=1", "werror=stop");
    r.pio_write(8, 0xAB);
    assert_eq!(r.status() & 0x80, 0x80, "the command stays busy while held");
    assert!(r.stop_requested());
    assert_eq!(r.io_status(), "failed");
    assert_eq!(r.m.env.layer.retry.held_count(), 1);
    let ev = r.events();
    assert_eq!(ev.len(), 1);
    assert_eq!(ev[0]["device"], "");
    assert_eq!(ev[0]["node-name"], "fi");
    assert_eq!(ev[0]["operation"], "write");
    assert_eq!(ev[0]["action"], "stop");
    assert_eq!(ev[0]["nospace"], false);
    assert_eq!(ev[0]["reason"], "Input/output error");
    assert_eq!(r.disk(8), pattern(8));

    resume(&mut r.m);
    r.m.settle();
    assert_eq!(r.status(), 0x50);
    assert_eq!(r.io_status(), "ok");
    assert_eq!(r.disk(8), vec![0xAB; SECTOR]);
    assert!(r.events().is_empty());
}

#[test]
fn werror_stop_holds_a_dma_write_with_its_guest_memory() {
    let mut r = rig("rules.0.iotype=write,rules.0.errno=EIO,rules.0.count=1", "werror=stop");
    assert!(r.m.mem_write(0x2000, &[0x5A; SECTOR]));
    r.dma(3, false);
    // Still transferring: DRQ, engine active, no interrupt.
    assert_eq!(r.status() & 0x89, 0x08);
    assert_eq!(r.m.pio_read(0xC002, 1) & 0x05, 0x01);
    assert!(r.stop_requested());
    resume(&mut r.m);
    r.m.settle();
    assert_eq!(r.status() & 0xC9, 0x40, "DMA write completes after cont");
    assert_eq!(r.disk(3), vec![0x5A; SECTOR]);
}

#[test]
fn rerror_stop_holds_a_dma_read() {
    // Past sector 0: the board reads the MBR at start-up.
    let mut r = rig("rules.0.iotype=read,rules.0.errno=EIO,rules.0.count=1,rules.0.offset=2560", "rerror=stop");
    r.dma(5, true);
    assert!(r.stop_requested());
    assert_eq!(r.events()[0]["operation"], "read");
    resume(&mut r.m);
    r.m.settle();
    assert_eq!(r.status() & 0xC9, 0x40);
    let mut got = vec![0u8; SECTOR];
    assert!(r.m.mem_read(0x2000, &mut got));
    assert_eq!(got, pattern(5));
}

#[test]
fn werror_report_aborts_the_command() {
    let mut r = rig("rules.0.iotype=write,rules.0.errno=EIO", "werror=report");
    r.pio_write(8, 0xAB);
    assert_eq!(r.status(), 0x41);
    assert_eq!(r.m.pio_read(0x1F1, 1), 0x04);
    assert!(!r.stop_requested());
    assert_eq!(r.io_status(), "ok");
    assert_eq!(r.events()[0]["action"], "report");
}

#[test]
fn werror_ignore_completes_the_command() {
    let mut r = rig("rules.0.iotype=write,rules.0.errno=EIO", "werror=ignore");
    r.pio_write(8, 0xAB);
    assert_eq!(r.status(), 0x50);
    assert!(!r.stop_requested());
    assert_eq!(r.events()[0]["action"], "ignore");
    assert_eq!(r.disk(8), pattern(8), "the failed write changed nothing");
}

#[test]
fn rerror_report_is_the_default() {
    let mut r = rig("rules.0.iotype=read,rules.0.errno=EIO", "");
    r.select(2, 1, 0x20);
    r.m.settle();
    assert_eq!(r.status(), 0x41);
    assert_eq!(r.events()[0]["operation"], "read");
}

#[test]
fn enospc_stops_with_nospace_and_eio_reports() {
    let mut r = rig("rules.0.iotype=write,rules.0.errno=ENOSPC,rules.0.count=1", "werror=enospc");
    r.pio_write(8, 0xCD);
    assert!(r.stop_requested());
    assert_eq!(r.io_status(), "nospace");
    let ev = r.events();
    assert_eq!((ev[0]["action"].clone(), ev[0]["nospace"].clone()), ("stop".into(), true.into()));
    assert_eq!(ev[0]["reason"], "No space left on device");
    resume(&mut r.m);
    r.m.settle();
    assert_eq!(r.status(), 0x50);
    assert_eq!(r.disk(8), vec![0xCD; SECTOR]);

    // The default werror is enospc: EIO is reported.
    let mut r = rig("rules.0.iotype=write,rules.0.errno=EIO", "");
    r.pio_write(8, 0xCD);
    assert_eq!(r.status(), 0x41);
    assert!(!r.stop_requested());
    assert_eq!(r.events()[0]["action"], "report");
}

#[test]
fn reset_drops_held_requests() {
    let mut r = rig("rules.0.iotype=write,rules.0.errno=EIO,rules.0.count=1", "werror=stop");
    r.pio_write(8, 0xAB);
    assert_eq!(r.m.env.layer.retry.held_count(), 1);
    r.m.reset();
    assert_eq!(r.m.env.layer.retry.held_count(), 0);
    resume(&mut r.m);
    r.m.settle();
    assert_eq!(r.disk(8), pattern(8), "nothing of the old machine is written");
}

#[test]
fn untracked_without_stop_actions() {
    let r = rig("rules.0.iotype=write,rules.0.errno=EIO", "werror=report,rerror=report");
    assert!(r.m.env.layer.retry.watch.is_empty());
    let r = rig("rules.0.iotype=write,rules.0.errno=EIO", "");
    let w = r.m.env.layer.retry.watch.values().next().copied();
    assert_eq!(w, Some(Watch { read: false, write: true }), "default werror=enospc watches writes only");
}
