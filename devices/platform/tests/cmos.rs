//! The RTC/CMOS through ports 0x70/0x71, and the BIOS image QEMU writes.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use ironide_block::Clock;
use ironide_dev_platform::testing::TestEnv;
use ironide_dev_platform::{pc_bios_bytes, Cmos, PioDevice};

/// 2024-02-29 12:34:56 UTC (a Thursday).
const T0: u64 = 1_709_210_096;
const NS: u64 = 1_000_000_000;

fn cmos_at(wall_ns: u64) -> (Cmos, Arc<AtomicU64>) {
    let wall = Arc::new(AtomicU64::new(wall_ns));
    let w = wall.clone();
    let cmos = Cmos::new(Box::new(move || {
        let ns = w.load(Ordering::SeqCst);
        (ns / NS, (ns % NS) as u32)
    }));
    (cmos, wall)
}

fn rd(c: &mut Cmos, env: &mut TestEnv, reg: u8) -> u8 {
    c.pio_write(0x70, &[reg | 0x80], &mut env.ctx());
    let mut d = [0u8];
    c.pio_read(0x71, &mut d, &mut env.ctx());
    d[0]
}

fn wr(c: &mut Cmos, env: &mut TestEnv, reg: u8, v: u8) {
    c.pio_write(0x70, &[reg], &mut env.ctx());
    c.pio_write(0x71, &[v], &mut env.ctx());
}

fn time_regs(c: &mut Cmos, env: &mut TestEnv) -> Vec<u8> {
    [0x00, 0x02, 0x04, 0x06, 0x07, 0x08, 0x09, 0x32].iter().map(|&r| rd(c, env, r)).collect()
}

#[test]
fn bios_image_for_a_128_mib_machine() {
    // A 1.44M drive A:, ide0 master a 60/16/63 disk (translation none),
    // -boot order=cad.
    let ide = [
        (0x12, 0xF0),
        (0x19, 47),
        (0x1B, 60),
        (0x1C, 0),
        (0x1D, 16),
        (0x1E, 0xFF),
        (0x1F, 0xFF),
        (0x20, 0xC8),
        (0x21, 60),
        (0x22, 0),
        (0x23, 63),
        (0x39, 0),
    ];
    let got = pc_bios_bytes(128 << 20, 0, 1, b"cad", 0x40, 0x01, &ide);
    let mut want = vec![
        (0x10, 0x40),
        (0x14, 0x07),
        (0x15, 0x80),
        (0x16, 0x02),
        (0x17, 0xFF),
        (0x18, 0xFF),
        (0x30, 0xFF),
        (0x31, 0xFF),
        (0x34, 0x00),
        (0x35, 0x07),
        (0x38, 0x30),
        (0x3D, 0x12),
        (0x5B, 0),
        (0x5C, 0),
        (0x5D, 0),
        (0x5F, 0),
    ];
    want.extend_from_slice(&ide);
    want.sort_by_key(|&(o, _)| o);
    assert_eq!(got, want);
    // The default order is QEMU's "cad"; codes work as letters do.
    assert_eq!(pc_bios_bytes(128 << 20, 0, 1, b"", 0x40, 0x01, &ide), got);
    assert_eq!(pc_bios_bytes(128 << 20, 0, 1, &[2, 1, 3], 0x40, 0x01, &ide), got);
}

#[test]
fn bios_image_memory_edges() {
    let find = |v: &[(u8, u8)], o: u8| v.iter().find(|&&(k, _)| k == o).map(|&(_, b)| b).unwrap();
    // 3 GiB below 4G, 3 GiB above, 4 CPUs, floppy boot only, two floppies.
    let v = pc_bios_bytes(3 << 30, 3 << 30, 4, b"a", 0x44, 0x41, &[]);
    assert_eq!((find(&v, 0x34), find(&v, 0x35)), (0x00, 0xBF));
    assert_eq!((find(&v, 0x5B), find(&v, 0x5C), find(&v, 0x5D)), (0x00, 0xC0, 0x00));
    assert_eq!(find(&v, 0x5F), 3);
    assert_eq!(find(&v, 0x14), 0x47);
    assert_eq!((find(&v, 0x3D), find(&v, 0x38)), (0x01, 0x00));
    // 512 KiB: base memory below 640, nothing extended.
    let v = pc_bios_bytes(512 << 10, 0, 1, b"d", 0, 0, &[]);
    assert_eq!((find(&v, 0x15), find(&v, 0x16)), (0x00, 0x02));
    assert_eq!((find(&v, 0x17), find(&v, 0x18), find(&v, 0x34)), (0, 0, 0));
    assert_eq!((find(&v, 0x14), find(&v, 0x3D)), (0x06, 0x03));
}

#[test]
fn bcd_time_status_registers_and_century() {
    let mut env = TestEnv::new(4096);
    let (mut c, _wall) = cmos_at(T0 * NS + NS / 2);
    assert_eq!(time_regs(&mut c, &mut env), [0x56, 0x34, 0x12, 0x05, 0x29, 0x02, 0x24, 0x20]);
    assert_eq!(rd(&mut c, &mut env, 0x0A), 0x26);
    assert_eq!(rd(&mut c, &mut env, 0x0B), 0x02);
    assert_eq!(rd(&mut c, &mut env, 0x0D), 0x80);
    assert_eq!(rd(&mut c, &mut env, 0x37), 0x20);
    assert!(c.nmi_disabled());
    // Binary, then 12-hour BCD (12:34 is 12 PM).
    wr(&mut c, &mut env, 0x0B, 0x06);
    assert_eq!(time_regs(&mut c, &mut env), [56, 34, 12, 5, 29, 2, 24, 20]);
    wr(&mut c, &mut env, 0x0B, 0x00);
    assert_eq!(rd(&mut c, &mut env, 0x04), 0x92);
}

#[test]
fn uip_in_the_last_244_us_of_each_second() {
    let mut env = TestEnv::new(4096);
    let (mut c, wall) = cmos_at(T0 * NS + NS - 100_000);
    assert_eq!(rd(&mut c, &mut env, 0x0A), 0xA6);
    wall.store(T0 * NS + NS - 300_000, Ordering::SeqCst);
    assert_eq!(rd(&mut c, &mut env, 0x0A), 0x26);
    wall.store((T0 + 1) * NS, Ordering::SeqCst);
    assert_eq!(rd(&mut c, &mut env, 0x0A), 0x26);
    assert_eq!(rd(&mut c, &mut env, 0x00), 0x57);
}

#[test]
fn set_bit_holds_the_time_and_clearing_it_starts_the_clock() {
    let mut env = TestEnv::new(4096);
    let (mut c, wall) = cmos_at(T0 * NS);
    wr(&mut c, &mut env, 0x0B, 0x82);
    for (r, v) in [(0x00, 0x00), (0x02, 0x59), (0x04, 0x23), (0x07, 0x31), (0x08, 0x12), (0x09, 0x99), (0x32, 0x19)] {
        wr(&mut c, &mut env, r, v);
    }
    wall.fetch_add(10 * NS, Ordering::SeqCst);
    assert_eq!(rd(&mut c, &mut env, 0x00), 0x00);
    assert_eq!(rd(&mut c, &mut env, 0x0A) & 0x80, 0, "no update in progress while SET");
    wr(&mut c, &mut env, 0x0B, 0x02);
    wall.fetch_add(2 * NS, Ordering::SeqCst);
    // 1999-12-31 23:59:02, a Friday.
    assert_eq!(time_regs(&mut c, &mut env), [0x02, 0x59, 0x23, 0x06, 0x31, 0x12, 0x99, 0x19]);
    wall.fetch_add(60 * NS, Ordering::SeqCst);
    assert_eq!(time_regs(&mut c, &mut env), [0x02, 0x00, 0x00, 0x07, 0x01, 0x01, 0x00, 0x20]);
}

#[test]
fn a_write_while_running_sets_that_field() {
    let mut env = TestEnv::new(4096);
    let (mut c, _wall) = cmos_at(T0 * NS);
    wr(&mut c, &mut env, 0x02, 0x10);
    assert_eq!(time_regs(&mut c, &mut env), [0x56, 0x10, 0x12, 0x05, 0x29, 0x02, 0x24, 0x20]);
}

#[test]
fn periodic_interrupt_and_status_c() {
    let mut env = TestEnv::new(4096);
    let (mut c, _wall) = cmos_at(T0 * NS);
    assert_eq!(c.next_deadline(), None);
    wr(&mut c, &mut env, 0x0B, 0x42);
    let due = c.next_deadline().expect("periodic timer armed");
    assert_eq!(due, env.clock.now_ns() + 976_562);
    env.advance(976_562);
    c.on_timer(&mut env.ctx());
    assert!(env.irq.level(8));
    assert_eq!(rd(&mut c, &mut env, 0x0C), 0xC0);
    assert!(!env.irq.level(8));
    assert_eq!(rd(&mut c, &mut env, 0x0C), 0x00);
    // Disabled: no timer, and reset clears the enables.
    wr(&mut c, &mut env, 0x0A, 0x20);
    assert_eq!(c.next_deadline(), None);
    c.reset(&mut env.irq);
    assert_eq!(rd(&mut c, &mut env, 0x0B), 0x02);
}

#[test]
fn update_and_alarm_flags() {
    let mut env = TestEnv::new(4096);
    let (mut c, wall) = cmos_at(T0 * NS);
    // Polled: UF without an interrupt.
    wall.fetch_add(NS, Ordering::SeqCst);
    assert_eq!(rd(&mut c, &mut env, 0x0C), 0x10);
    // Alarm at 12:34:58 with AIE: an interrupt when the wall clock gets there.
    wr(&mut c, &mut env, 0x01, 0x58);
    wr(&mut c, &mut env, 0x03, 0xFF);
    wr(&mut c, &mut env, 0x05, 0xFF);
    wr(&mut c, &mut env, 0x0B, 0x22);
    let due = c.next_deadline().expect("update timer armed");
    env.advance(due - env.clock.now_ns());
    wall.fetch_add(NS, Ordering::SeqCst);
    c.on_timer(&mut env.ctx());
    assert!(env.irq.level(8));
    assert_eq!(rd(&mut c, &mut env, 0x0C), 0xB0);
    assert!(!env.irq.level(8));
}

#[test]
fn nvram_survives_reset_and_bios_bytes_go_in() {
    let mut env = TestEnv::new(4096);
    let (mut c, _wall) = cmos_at(T0 * NS);
    for (o, v) in pc_bios_bytes(128 << 20, 0, 2, b"c", 0, 0, &[]) {
        c.set(o, v);
    }
    wr(&mut c, &mut env, 0x40, 0xAB);
    c.reset(&mut env.irq);
    assert_eq!(rd(&mut c, &mut env, 0x40), 0xAB);
    assert_eq!(rd(&mut c, &mut env, 0x5F), 1);
    assert_eq!(c.get(0x35), 0x07);
    let mut d = [0u8];
    c.pio_read(0x70, &mut d, &mut env.ctx());
    assert_eq!(d[0], 0xFF);
}
