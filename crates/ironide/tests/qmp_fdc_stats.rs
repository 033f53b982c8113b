//! query-blockstats for floppy drives after guest I/O: QEMU 7.2's floppy
//! controller does no block accounting (a guest that reads a whole floppy
//! leaves every counter of its drive at 0 and no idle_time_ns), so
//! ironide's must not count its per-sector requests either. An IDE read on
//! the same machine is still counted (the switch is per request).

mod common;

use common::fdc::*;
use common::qmp::Vm;
use common::TIMEOUT;
use serde_json::Value;

/// Guest RAM the DMA read lands in (below 16 MiB, no 64 KiB crossing).
const BUF: u64 = 0x2_0000;
const SECTORS: u16 = 18;

/// 8237 channel 2: write-to-memory, single mode, `len` bytes at `addr`.
fn program_dma(vm: &mut Vm, addr: u64, len: u16) {
    let q = &mut vm.qt;
    let count = len - 1;
    q.outb(0x0A, 0x06); // mask channel 2
    q.outb(0x0C, 0x00); // clear the byte flip-flop
    q.outb(0x04, addr as u8);
    q.outb(0x04, (addr >> 8) as u8);
    q.outb(0x0C, 0x00);
    q.outb(0x05, count as u8);
    q.outb(0x05, (count >> 8) as u8);
    q.outb(0x0B, 0x46); // single, increment, write to memory, channel 2
    q.outb(0x81, (addr >> 16) as u8);
    q.outb(0x0A, 0x02); // unmask channel 2
}

fn floppy_stats(vm: &mut Vm) -> Value {
    let st = vm.qmp.ok("query-blockstats", Value::Null);
    st.as_array()
        .and_then(|l| l.iter().find(|e| e["device"] == "floppy0"))
        .map(|e| e["stats"].clone())
        .unwrap_or_else(|| panic!("no floppy0 in {st}"))
}

#[test]
fn floppy_dma_read_is_not_counted_like_qemu() {
    let (_img, path) = image_144();
    let drive = format!("file={path},if=floppy,index=0,format=raw");
    let mut vm = Vm::start(&["-drive", &drive]);
    assert_eq!(vm.qt.cmd("irq_intercept_in ioapic"), "OK");

    program_dma(&mut vm, BUF, SECTORS * 512);
    // Motor A on, DMA and IRQ enabled, drive 0 (already out of reset).
    vm.qt.outb(DOR, 0x1C);
    send_rw_params(&mut vm.qt, CMD_READ, SECTORS as u8);
    // The sectors arrive asynchronously: wait (bounded) for the result phase.
    let start = std::time::Instant::now();
    while vm.qt.inb(MSR) & (RQM | DIO) != RQM | DIO {
        assert!(start.elapsed() < TIMEOUT, "READ never reached its result phase");
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    let r = results7(&mut vm.qt);
    assert_eq!(r[0] & 0xC0, 0, "READ ended normally: {r:02x?}");

    let data = vm.qt.memread(BUF, usize::from(SECTORS) * 512);
    for (i, b) in data.iter().enumerate() {
        let i = i as u64;
        assert_eq!(*b, sector_byte(i / 512, i % 512), "byte {i} of the DMA read");
    }

    let stats = floppy_stats(&mut vm);
    for k in ["rd_operations", "rd_bytes", "rd_total_time_ns", "invalid_rd_operations", "failed_rd_operations"] {
        assert_eq!(stats[k], 0, "{k} stays 0 as on QEMU 7.2: {stats}");
    }
    assert!(stats.get("idle_time_ns").is_none(), "no accounted I/O, no idle time: {stats}");
}
