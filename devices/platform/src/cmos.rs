//! The MC146818 real-time clock and its 128 bytes of CMOS RAM (ports
//! 0x70/0x71), plus the image QEMU's pc machine writes into it.
//!
//! Time is the injected wall clock plus an offset the guest sets; the
//! periodic interrupt runs on the machine's clock (`next_deadline` /
//! `on_timer`), the update and alarm flags follow the wall clock's seconds.

use crate::api::{DevCtx, PioDevice};
use crate::rtc_time::{from_bcd, to_bcd, RtcTime};

pub const INDEX_PORT: u16 = 0x70;
pub const DATA_PORT: u16 = 0x71;
/// The RTC's ISA interrupt.
pub const RTC_IRQ: u32 = 8;

pub const REG_SECONDS: u8 = 0x00;
pub const REG_SECONDS_ALARM: u8 = 0x01;
pub const REG_MINUTES: u8 = 0x02;
pub const REG_MINUTES_ALARM: u8 = 0x03;
pub const REG_HOURS: u8 = 0x04;
pub const REG_HOURS_ALARM: u8 = 0x05;
pub const REG_WEEKDAY: u8 = 0x06;
pub const REG_DAY: u8 = 0x07;
pub const REG_MONTH: u8 = 0x08;
pub const REG_YEAR: u8 = 0x09;
pub const REG_A: u8 = 0x0A;
pub const REG_B: u8 = 0x0B;
pub const REG_C: u8 = 0x0C;
pub const REG_D: u8 = 0x0D;
/// IBM century byte (kept by the RTC) and the PS/2 copy (set at power-on).
pub const REG_CENTURY: u8 = 0x32;
pub const REG_PS2_CENTURY: u8 = 0x37;

const A_UIP: u8 = 0x80;
const A_RESET: u8 = 0x26;
const B_SET: u8 = 0x80;
const B_PIE: u8 = 0x40;
const B_AIE: u8 = 0x20;
const B_UIE: u8 = 0x10;
const B_SQWE: u8 = 0x08;
const B_BINARY: u8 = 0x04;
const B_24H: u8 = 0x02;
const B_RESET: u8 = B_24H;
const C_IRQF: u8 = 0x80;
const C_PF: u8 = 0x40;
const C_AF: u8 = 0x20;
const C_UF: u8 = 0x10;
const D_VRT: u8 = 0x80;
/// Alarm "don't care" values have both top bits set.
const ALARM_ANY: u8 = 0xC0;
/// How long before each second's update UIP reads 1.
const UIP_NS: u32 = 244_000;

const NS_PER_SEC: i128 = 1_000_000_000;

/// The wall clock: (Unix seconds, nanoseconds).
pub type WallClock = Box<dyn Fn() -> (u64, u32) + Send>;

pub struct Cmos {
    clock: WallClock,
    ram: [u8; 128],
    index: u8,
    nmi_disabled: bool,
    /// RTC time = wall clock + this (ns).
    offset_ns: i128,
    /// The RTC second the update flag last saw (UF once per second).
    last_update_sec: i64,
    /// Machine-clock time of the next periodic tick, when running.
    next_periodic_ns: Option<u64>,
    /// Machine-clock time of the next second update, while UIE or AIE is set.
    next_update_ns: Option<u64>,
    irq_level: bool,
}

impl std::fmt::Debug for Cmos {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cmos").field("index", &self.index).field("offset_ns", &self.offset_ns).finish()
    }
}

impl Cmos {
    /// Power-on state: RTC time = the wall clock, status A/B/D at their
    /// reset values, both century bytes from the current date, the rest 0.
    pub fn new(clock: WallClock) -> Self {
        let mut c = Cmos {
            clock,
            ram: [0; 128],
            index: 0,
            nmi_disabled: false,
            offset_ns: 0,
            last_update_sec: 0,
            next_periodic_ns: None,
            next_update_ns: None,
            irq_level: false,
        };
        c.ram[REG_A as usize] = A_RESET;
        c.ram[REG_B as usize] = B_RESET;
        c.ram[REG_D as usize] = D_VRT;
        let now = c.rtc_ns();
        c.last_update_sec = now.div_euclid(NS_PER_SEC) as i64;
        let t = RtcTime::from_unix(c.last_update_sec);
        c.ram[REG_PS2_CENTURY as usize] = to_bcd(t.year / 100);
        c
    }

    /// A system reset: interrupt enables and flags clear; time and NVRAM stay.
    pub fn reset(&mut self, irq: &mut dyn crate::api::IrqSink) {
        self.ram[REG_B as usize] &= !(B_PIE | B_AIE | B_UIE | B_SQWE);
        self.ram[REG_C as usize] = 0;
        self.next_periodic_ns = None;
        self.next_update_ns = None;
        self.index = 0;
        self.nmi_disabled = false;
        self.set_level(false, irq);
    }

    /// Store a byte (the machine's BIOS image); the RTC registers 0x00-0x0D
    /// are the guest's, but a time register set here while the clock runs
    /// sets the time as a guest write would.
    pub fn set(&mut self, offset: u8, value: u8) {
        let o = offset & 0x7F;
        if Self::is_time_reg(o) && self.running() {
            self.write_time_reg(o, value);
        } else {
            self.ram[o as usize] = value;
        }
    }

    /// A byte as the guest would read it (without side effects).
    pub fn get(&self, offset: u8) -> u8 {
        let o = offset & 0x7F;
        match o {
            REG_A => self.status_a(),
            _ if Self::is_time_reg(o) && self.running() => self.time_reg(o, &RtcTime::from_unix(self.rtc_secs())),
            _ => self.ram[o as usize],
        }
    }

    pub fn nmi_disabled(&self) -> bool {
        self.nmi_disabled
    }

    /// When the machine should call `on_timer` next (machine clock, ns).
    pub fn next_deadline(&self) -> Option<u64> {
        match (self.next_periodic_ns, self.next_update_ns) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Timer work: periodic and update/alarm flags, and the interrupt.
    pub fn on_timer(&mut self, ctx: &mut DevCtx) {
        let now = ctx.now_ns();
        self.catch_up(now);
        self.reprogram_update(now);
        self.update_irq(ctx.irq);
    }

    fn is_time_reg(o: u8) -> bool {
        matches!(o, REG_SECONDS | REG_MINUTES | REG_HOURS | REG_WEEKDAY | REG_DAY | REG_MONTH | REG_YEAR | REG_CENTURY)
    }

    fn running(&self) -> bool {
        self.ram[REG_B as usize] & B_SET == 0
    }

    fn rtc_ns(&self) -> i128 {
        let (s, ns) = (self.clock)();
        s as i128 * NS_PER_SEC + ns as i128 + self.offset_ns
    }

    fn rtc_secs(&self) -> i64 {
        self.rtc_ns().div_euclid(NS_PER_SEC) as i64
    }

    fn status_a(&self) -> u8 {
        let a = self.ram[REG_A as usize] & !A_UIP;
        let sub = self.rtc_ns().rem_euclid(NS_PER_SEC) as u32;
        if self.running() && sub >= 1_000_000_000 - UIP_NS {
            a | A_UIP
        } else {
            a
        }
    }

    fn enc(&self, v: u32) -> u8 {
        if self.ram[REG_B as usize] & B_BINARY != 0 {
            v as u8
        } else {
            to_bcd(v)
        }
    }

    fn dec(&self, v: u8) -> u32 {
        if self.ram[REG_B as usize] & B_BINARY != 0 {
            v as u32
        } else {
            from_bcd(v)
        }
    }

    fn time_reg(&self, o: u8, t: &RtcTime) -> u8 {
        match o {
            REG_SECONDS => self.enc(t.sec),
            REG_MINUTES => self.enc(t.min),
            REG_HOURS => self.enc_hour(t.hour),
            REG_WEEKDAY => self.enc(t.weekday),
            REG_DAY => self.enc(t.day),
            REG_MONTH => self.enc(t.month),
            REG_YEAR => self.enc(t.year % 100),
            REG_CENTURY => self.enc(t.year / 100),
            _ => self.ram[o as usize],
        }
    }

    /// 12-hour mode: 1-12 with bit 7 = PM.
    fn enc_hour(&self, hour: u32) -> u8 {
        if self.ram[REG_B as usize] & B_24H != 0 {
            return self.enc(hour);
        }
        let h12 = match hour % 12 {
            0 => 12,
            h => h,
        };
        self.enc(h12) | if hour >= 12 { 0x80 } else { 0 }
    }

    fn dec_hour(&self, v: u8) -> u32 {
        if self.ram[REG_B as usize] & B_24H != 0 {
            return self.dec(v);
        }
        self.dec(v & 0x7F) % 12 + if v & 0x80 != 0 { 12 } else { 0 }
    }

    /// Copy the running time into the registers (SET raised, or a
    /// single-register write while running).
    fn latch_time(&mut self) {
        let t = RtcTime::from_unix(self.rtc_secs());
        for o in [REG_SECONDS, REG_MINUTES, REG_HOURS, REG_WEEKDAY, REG_DAY, REG_MONTH, REG_YEAR, REG_CENTURY] {
            self.ram[o as usize] = self.time_reg(o, &t);
        }
    }

    /// Set the clock from the registers; the new second starts now.
    fn load_time(&mut self) {
        let r = |o: u8| self.ram[o as usize];
        let t = RtcTime {
            year: self.dec(r(REG_CENTURY)) * 100 + self.dec(r(REG_YEAR)),
            month: self.dec(r(REG_MONTH)),
            day: self.dec(r(REG_DAY)),
            hour: self.dec_hour(r(REG_HOURS)),
            min: self.dec(r(REG_MINUTES)),
            sec: self.dec(r(REG_SECONDS)),
            weekday: 1,
        };
        let (s, ns) = (self.clock)();
        let wall = s as i128 * NS_PER_SEC + ns as i128;
        self.offset_ns = t.to_unix() as i128 * NS_PER_SEC - wall;
        self.last_update_sec = t.to_unix();
    }

    fn write_time_reg(&mut self, o: u8, v: u8) {
        self.latch_time();
        self.ram[o as usize] = v;
        self.load_time();
    }

    fn write_b(&mut self, v: u8, now_ns: u64) {
        let old = self.ram[REG_B as usize];
        // Raising SET stops updates and drops the update interrupt enable.
        let v = if v & B_SET != 0 { v & !B_UIE } else { v };
        if old & B_SET == 0 && v & B_SET != 0 {
            self.latch_time();
        }
        self.ram[REG_B as usize] = v;
        if old & B_SET != 0 && v & B_SET == 0 {
            self.load_time();
        }
        self.reprogram_periodic(now_ns);
        self.reprogram_update(now_ns);
    }

    /// The next second boundary, as the machine clock sees it, while an
    /// update or alarm interrupt is enabled (the wall clock decides in
    /// `catch_up` whether it really passed).
    fn reprogram_update(&mut self, now_ns: u64) {
        let b = self.ram[REG_B as usize];
        self.next_update_ns = (self.running() && b & (B_UIE | B_AIE) != 0).then(|| {
            let sub = self.rtc_ns().rem_euclid(NS_PER_SEC) as u64;
            now_ns.saturating_add(1_000_000_000 - sub)
        });
    }

    /// Periodic rate from status A bits 0-3 (0 = off; 1 and 2 alias 8 and 9).
    fn periodic_ns(&self) -> Option<u64> {
        let rate = (self.ram[REG_A as usize] & 0x0F) as u32;
        let rate = match rate {
            0 => return None,
            1 | 2 => rate + 7,
            r => r,
        };
        // 32768 Hz >> (rate - 1).
        Some((1_000_000_000u64 << (rate - 1)) / 32_768)
    }

    fn reprogram_periodic(&mut self, now_ns: u64) {
        // Only the enabled periodic interrupt needs a timer; PF is also
        // derived on the fly when the guest polls status C.
        self.next_periodic_ns = match (self.periodic_ns(), self.ram[REG_B as usize] & B_PIE != 0) {
            (Some(p), true) => Some(now_ns.saturating_add(p)),
            _ => None,
        };
    }

    /// Raise the flags whose events passed by `now_ns`.
    fn catch_up(&mut self, now_ns: u64) {
        if let (Some(next), Some(p)) = (self.next_periodic_ns, self.periodic_ns()) {
            if now_ns >= next {
                self.ram[REG_C as usize] |= C_PF;
                // Missed ticks are dropped, not queued.
                let behind = (now_ns - next) / p + 1;
                self.next_periodic_ns = Some(next.saturating_add(behind.saturating_mul(p)));
            }
        }
        if !self.running() {
            return;
        }
        let sec = self.rtc_secs();
        if sec != self.last_update_sec {
            self.last_update_sec = sec;
            let mut c = C_UF;
            let t = RtcTime::from_unix(sec);
            let hit = |alarm: u8, now: u8| alarm & ALARM_ANY == ALARM_ANY || alarm == now;
            if hit(self.ram[REG_SECONDS_ALARM as usize], self.time_reg(REG_SECONDS, &t))
                && hit(self.ram[REG_MINUTES_ALARM as usize], self.time_reg(REG_MINUTES, &t))
                && hit(self.ram[REG_HOURS_ALARM as usize], self.time_reg(REG_HOURS, &t))
            {
                c |= C_AF;
            }
            self.ram[REG_C as usize] |= c;
        }
    }

    fn update_irq(&mut self, irq: &mut dyn crate::api::IrqSink) {
        let b = self.ram[REG_B as usize];
        let c = self.ram[REG_C as usize];
        let enabled =
            (b & B_PIE != 0 && c & C_PF != 0) || (b & B_AIE != 0 && c & C_AF != 0) || (b & B_UIE != 0 && c & C_UF != 0);
        if enabled {
            self.ram[REG_C as usize] |= C_IRQF;
        }
        self.set_level(self.ram[REG_C as usize] & C_IRQF != 0, irq);
    }

    fn set_level(&mut self, level: bool, irq: &mut dyn crate::api::IrqSink) {
        if level != self.irq_level {
            self.irq_level = level;
            irq.set_irq(RTC_IRQ, level);
        }
    }

    fn read_data(&mut self, ctx: &mut DevCtx) -> u8 {
        let o = self.index;
        match o {
            REG_C => {
                self.catch_up(ctx.now_ns());
                let v = self.ram[REG_C as usize];
                let v = if self.enabled_any(v) { v | C_IRQF } else { v };
                self.ram[REG_C as usize] = 0;
                self.set_level(false, ctx.irq);
                v
            }
            _ => self.get(o),
        }
    }

    fn enabled_any(&self, c: u8) -> bool {
        let b = self.ram[REG_B as usize];
        c & b & (B_PIE | B_AIE | B_UIE) != 0
    }

    fn write_data(&mut self, v: u8, ctx: &mut DevCtx) {
        let o = self.index;
        match o {
            REG_A => {
                self.ram[REG_A as usize] = v & !A_UIP;
                self.reprogram_periodic(ctx.now_ns());
            }
            REG_B => {
                self.write_b(v, ctx.now_ns());
                self.update_irq(ctx.irq);
            }
            REG_C | REG_D => {}
            _ if Self::is_time_reg(o) && self.running() => self.write_time_reg(o, v),
            _ => self.ram[o as usize] = v,
        }
    }
}

impl PioDevice for Cmos {
    fn pio_read(&mut self, port: u16, data: &mut [u8], ctx: &mut DevCtx) {
        for b in data.iter_mut() {
            *b = match port {
                DATA_PORT => self.read_data(ctx),
                _ => 0xFF,
            };
        }
    }

    fn pio_write(&mut self, port: u16, data: &[u8], ctx: &mut DevCtx) {
        // A word write at 0x70 is index then data.
        for (i, &v) in data.iter().enumerate() {
            match port.wrapping_add(i as u16) {
                INDEX_PORT => {
                    self.index = v & 0x7F;
                    self.nmi_disabled = v & 0x80 != 0;
                }
                DATA_PORT => self.write_data(v, ctx),
                _ => {}
            }
        }
    }
}

/// The CMOS bytes QEMU's pc machine writes for the BIOS, sorted by offset:
/// memory sizes (0x15-0x18, 0x30/0x31, 0x34/0x35, 0x5B-0x5D), CPU count
/// (0x5F), equipment (0x14), floppy types (0x10), boot order (0x3D, 0x38)
/// and the IDE bytes the IDE crate computes (`ide::geometry::cmos_bytes`).
///
/// `boot_order` is QEMU's `-boot order=` string as bytes (`a`/`b` floppy,
/// `c` disk, `d` CD-ROM, `n`..`p` network) or the CMOS codes 1-4 directly;
/// empty means QEMU's pc default "cad"; only the first three count.
pub fn pc_bios_bytes(
    ram_below_4g: u64,
    ram_above_4g: u64,
    cpus: u32,
    boot_order: &[u8],
    floppy_byte: u8,
    equipment_floppy_bits: u8,
    ide_bytes: &[(u8, u8)],
) -> Vec<(u8, u8)> {
    const KIB: u64 = 1024;
    const MIB: u64 = 1024 * KIB;
    let mut out = Vec::new();
    let put16 = |out: &mut Vec<(u8, u8)>, ofs: u8, v: u64| {
        out.push((ofs, v as u8));
        out.push((ofs + 1, (v >> 8) as u8));
    };
    put16(&mut out, 0x15, (ram_below_4g / KIB).min(640));
    let ext = (ram_below_4g.saturating_sub(MIB) / KIB).min(65535);
    put16(&mut out, 0x17, ext);
    put16(&mut out, 0x30, ext);
    put16(&mut out, 0x34, (ram_below_4g.saturating_sub(16 * MIB) / (64 * KIB)).min(65535));
    let high = ram_above_4g / (64 * KIB);
    out.extend([(0x5B, high as u8), (0x5C, (high >> 8) as u8), (0x5D, (high >> 16) as u8)]);
    out.push((0x5F, cpus.saturating_sub(1) as u8));
    // FPU and PS/2 mouse, plus the floppy drive count.
    out.push((0x14, 0x02 | 0x04 | equipment_floppy_bits));
    out.push((0x10, floppy_byte));
    let order: &[u8] = if boot_order.is_empty() { b"cad" } else { boot_order };
    let mut codes = [0u8; 3];
    for (slot, &d) in codes.iter_mut().zip(order) {
        *slot = boot_code(d);
    }
    out.push((0x3D, codes[1] << 4 | codes[0]));
    // Bit 0 clear: the floppy boot signature is checked (QEMU's default).
    out.push((0x38, codes[2] << 4));
    out.extend_from_slice(ide_bytes);
    out.sort_by_key(|&(o, _)| o);
    out
}

fn boot_code(d: u8) -> u8 {
    match d.to_ascii_lowercase() {
        b'a' | b'b' => 1,
        b'c' => 2,
        b'd' => 3,
        b'n'..=b'p' => 4,
        c @ 1..=4 => c,
        _ => 0,
    }
}
