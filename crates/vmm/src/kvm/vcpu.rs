//! The boot vCPU: KVM_RUN with port I/O handed to the machine at its real
//! access width, the register state of power-on kept for resets, and the
//! per-kind counts of its exits (`ExitStats`, reported with IRONIDE_EXIT_STATS).

use std::ffi::OsStr;
use std::io::Write;
use std::path::PathBuf;
use std::time::Instant;

use kvm_bindings::{kvm_fpu, kvm_mp_state, kvm_regs, kvm_run, kvm_sregs, Msrs, KVM_MAX_CPUID_ENTRIES};
use kvm_ioctls::{Kvm, VcpuExit, VcpuFd, VmFd};

use super::coalesced::CoalescedPio;
use crate::error::VmmError;

/// Port I/O as the vCPU delivers it: `size` is the access width (1, 2, 4)
/// and `data.len()` is `size * count` for string instructions.
pub trait PortIo {
    fn io_in(&mut self, port: u16, size: usize, data: &mut [u8]);
    fn io_out(&mut self, port: u16, size: usize, data: &[u8]);
}

/// Why `Vcpu::run_once` returned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VcpuExitKind {
    /// Port I/O (already handled) or anything else to simply resume.
    Continue,
    /// Triple fault: the pc machine resets.
    Shutdown,
    /// The guest cannot go on (emulation failure, failed entry).
    Fatal(String),
    /// KVM_RUN was interrupted by a signal (a kick from another thread).
    Interrupted,
}

/// The registers KVM gives a vCPU at creation: the reset state.
#[derive(Clone)]
struct ResetState {
    regs: kvm_regs,
    sregs: kvm_sregs,
    fpu: kvm_fpu,
    msrs: Option<Msrs>,
    mp: kvm_mp_state,
}

pub struct Vcpu {
    fd: VcpuFd,
    reset: ResetState,
    /// Plain counters: only the vCPU thread touches them.
    pub stats: ExitStats,
    /// Batched task-file writes (kvm/coalesced.rs), when the host offers them.
    coalesced: Option<CoalescedPio>,
}

impl Vcpu {
    pub(crate) fn new(kvm: &Kvm, vm: &VmFd) -> Result<Self, VmmError> {
        let fd = vm.create_vcpu(0).map_err(VmmError::kvm("create vCPU"))?;
        let cpuid = kvm.get_supported_cpuid(KVM_MAX_CPUID_ENTRIES).map_err(VmmError::kvm("get supported CPUID"))?;
        fd.set_cpuid2(&cpuid).map_err(VmmError::kvm("set CPUID"))?;
        let regs = fd.get_regs().map_err(VmmError::kvm("get registers"))?;
        let sregs = fd.get_sregs().map_err(VmmError::kvm("get segment registers"))?;
        let fpu = fd.get_fpu().map_err(VmmError::kvm("get FPU state"))?;
        let mp = fd.get_mp_state().map_err(VmmError::kvm("get MP state"))?;
        let msrs = saved_msrs(kvm, &fd);
        let coalesced = CoalescedPio::setup(vm, &fd);
        Ok(Vcpu { fd, reset: ResetState { regs, sregs, fpu, msrs, mp }, stats: ExitStats::default(), coalesced })
    }

    /// Back to the power-on register state (system reset).
    pub fn reset(&mut self) -> Result<(), VmmError> {
        let r = &self.reset;
        self.fd.set_sregs(&r.sregs).map_err(VmmError::kvm("reset segment registers"))?;
        self.fd.set_regs(&r.regs).map_err(VmmError::kvm("reset registers"))?;
        self.fd.set_fpu(&r.fpu).map_err(VmmError::kvm("reset FPU"))?;
        if let Some(m) = &r.msrs {
            // Best effort: an MSR the host refuses to restore is not fatal.
            let _ = self.fd.set_msrs(m);
        }
        self.fd.set_mp_state(r.mp).map_err(VmmError::kvm("reset MP state"))?;
        Ok(())
    }

    /// Set or clear kvm_run.immediate_exit (a pending kick).
    pub fn set_immediate_exit(&mut self, on: bool) {
        self.fd.set_kvm_immediate_exit(u8::from(on));
    }

    /// One KVM_RUN; port I/O goes to `io` before returning.
    pub fn run_once(&mut self, io: &mut dyn PortIo) -> VcpuExitKind {
        // Clock reads only when asked for: the counters alone cost nothing.
        let t0 = self.stats.timed.then(Instant::now);
        let run: *const kvm_run = self.fd.get_kvm_run();
        let stats = &mut self.stats;
        let coalesced = &mut self.coalesced;
        let mut t1 = None;
        let kind = match self.fd.run() {
            // Batched task-file writes happened before this access: replay them first.
            Ok(VcpuExit::IoIn(port, data)) => {
                t1 = t0.map(|_| Instant::now());
                if let Some(c) = coalesced.as_mut() {
                    c.drain(io);
                }
                stats.count_io(ExitClass::IoIn(port), data.len());
                let size = io_size(run, data.len());
                io.io_in(port, size, data);
                VcpuExitKind::Continue
            }
            Ok(VcpuExit::IoOut(port, data)) => {
                t1 = t0.map(|_| Instant::now());
                if let Some(c) = coalesced.as_mut() {
                    c.drain(io);
                }
                stats.count_io(ExitClass::IoOut(port), data.len());
                let size = io_size(run, data.len());
                io.io_out(port, size, data);
                VcpuExitKind::Continue
            }
            // Nothing is mapped there: reads float high, writes vanish.
            Ok(VcpuExit::MmioRead(_, data)) => {
                stats.count(ExitClass::MmioRead);
                data.fill(0xFF);
                VcpuExitKind::Continue
            }
            Ok(VcpuExit::MmioWrite(..)) => {
                stats.count(ExitClass::MmioWrite);
                VcpuExitKind::Continue
            }
            Ok(VcpuExit::Hlt) => {
                stats.count(ExitClass::Hlt);
                VcpuExitKind::Continue
            }
            Ok(VcpuExit::Shutdown) => {
                stats.count(ExitClass::Shutdown);
                VcpuExitKind::Shutdown
            }
            Ok(VcpuExit::InternalError) => {
                stats.count(ExitClass::Other);
                VcpuExitKind::Fatal(format!("KVM internal error (emulation failure) at {}", self.where_am_i()))
            }
            Ok(VcpuExit::FailEntry(reason, cpu)) => {
                stats.count(ExitClass::Other);
                VcpuExitKind::Fatal(format!("KVM entry failed (reason {reason:#x}, cpu {cpu})"))
            }
            Ok(VcpuExit::SystemEvent(ty, _)) => {
                stats.count(ExitClass::Other);
                VcpuExitKind::Fatal(format!("unexpected system event {ty}"))
            }
            Ok(other) => {
                stats.count(ExitClass::Other);
                tracing::debug!("ignored vCPU exit {other:?}");
                VcpuExitKind::Continue
            }
            Err(e) if e.errno() == libc::EINTR || e.errno() == libc::EAGAIN => {
                stats.count(ExitClass::Interrupted);
                VcpuExitKind::Interrupted
            }
            Err(e) => {
                stats.count(ExitClass::Other);
                VcpuExitKind::Fatal(format!("KVM_RUN failed: {e}"))
            }
        };
        // Whatever the exit, the ring is empty whenever the vCPU is out of KVM_RUN: pausing,
        // resetting or stopping the machine never leaves guest writes behind.
        if let Some(c) = self.coalesced.as_mut() {
            c.drain(io);
            self.stats.coalesced = c.replayed;
        }
        if let Some(t0) = t0 {
            let end = Instant::now();
            let t1 = t1.unwrap_or(end);
            self.stats.add_time(t1.duration_since(t0).as_nanos() as u64, end.duration_since(t1).as_nanos() as u64);
        }
        kind
    }

    fn where_am_i(&self) -> String {
        match (self.fd.get_regs(), self.fd.get_sregs()) {
            (Ok(r), Ok(s)) => format!("cs:rip {:04x}:{:08x} (cr0 {:#x})", s.cs.selector, r.rip, s.cr0),
            _ => "an unknown address".into(),
        }
    }
}

/// The device a port belongs to, as the exit counters group ports (the pc
/// machine's fixed ISA/PCI ports; PCI-assigned BARs such as IDE bus-master
/// fall into `Other`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PortGroup {
    Dma,
    Pic,
    Pit,
    Kbd,
    Rtc,
    SysCtl,
    Debug,
    Ide,
    Fdc,
    Serial,
    Pci,
    FwCfg,
    Other,
}

impl PortGroup {
    pub const ALL: [PortGroup; 13] = [
        PortGroup::Dma,
        PortGroup::Pic,
        PortGroup::Pit,
        PortGroup::Kbd,
        PortGroup::Rtc,
        PortGroup::SysCtl,
        PortGroup::Debug,
        PortGroup::Ide,
        PortGroup::Fdc,
        PortGroup::Serial,
        PortGroup::Pci,
        PortGroup::FwCfg,
        PortGroup::Other,
    ];

    pub fn of(port: u16) -> PortGroup {
        match port {
            0x92 | 0xCF9 => PortGroup::SysCtl,
            0x00..=0x0F | 0x80..=0x8F | 0xC0..=0xDF => PortGroup::Dma,
            0x20..=0x21 | 0xA0..=0xA1 | 0x4D0..=0x4D1 => PortGroup::Pic,
            0x40..=0x43 | 0x61 => PortGroup::Pit,
            0x60 | 0x64 => PortGroup::Kbd,
            0x70..=0x71 => PortGroup::Rtc,
            0xE9 | 0xF4..=0xF7 | 0x402 => PortGroup::Debug,
            0x1F0..=0x1F7 | 0x170..=0x177 | 0x3F6 | 0x376 => PortGroup::Ide,
            0x3F0..=0x3F5 | 0x3F7 => PortGroup::Fdc,
            0x3F8..=0x3FF | 0x2F8..=0x2FF | 0x3E8..=0x3EF | 0x2E8..=0x2EF => PortGroup::Serial,
            0xCF8..=0xCFF => PortGroup::Pci,
            0x510..=0x51B => PortGroup::FwCfg,
            _ => PortGroup::Other,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            PortGroup::Dma => "dma",
            PortGroup::Pic => "pic",
            PortGroup::Pit => "pit",
            PortGroup::Kbd => "kbd",
            PortGroup::Rtc => "rtc",
            PortGroup::SysCtl => "sysctl",
            PortGroup::Debug => "debug",
            PortGroup::Ide => "ide",
            PortGroup::Fdc => "fdc",
            PortGroup::Serial => "serial",
            PortGroup::Pci => "pci",
            PortGroup::FwCfg => "fw_cfg",
            PortGroup::Other => "other",
        }
    }
}

/// One KVM_RUN return, as the counters see it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExitClass {
    IoIn(u16),
    IoOut(u16),
    MmioRead,
    MmioWrite,
    Hlt,
    Shutdown,
    /// KVM_RUN returned EINTR/EAGAIN (a kick).
    Interrupted,
    Other,
}

/// Per-kind counts of the vCPU's exits to user space, plus (when `timed`)
/// the time spent inside KVM_RUN and handling the exits.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ExitStats {
    pub io_in: [u64; PortGroup::ALL.len()],
    pub io_out: [u64; PortGroup::ALL.len()],
    /// Bytes moved by port exits (a `rep insw` of a sector is one exit, 512 bytes).
    pub io_bytes: u64,
    pub mmio_read: u64,
    pub mmio_write: u64,
    pub hlt: u64,
    pub shutdown: u64,
    pub interrupted: u64,
    pub other: u64,
    /// Port writes KVM batched in the coalesced ring instead of exiting (not in `total`).
    pub coalesced: u64,
    /// Measure `kvm_ns`/`user_ns` (two clock reads per exit).
    pub timed: bool,
    pub kvm_ns: u64,
    pub user_ns: u64,
}

impl ExitStats {
    pub fn count(&mut self, class: ExitClass) {
        let slot = match class {
            ExitClass::IoIn(port) => &mut self.io_in[PortGroup::of(port) as usize],
            ExitClass::IoOut(port) => &mut self.io_out[PortGroup::of(port) as usize],
            ExitClass::MmioRead => &mut self.mmio_read,
            ExitClass::MmioWrite => &mut self.mmio_write,
            ExitClass::Hlt => &mut self.hlt,
            ExitClass::Shutdown => &mut self.shutdown,
            ExitClass::Interrupted => &mut self.interrupted,
            ExitClass::Other => &mut self.other,
        };
        *slot = slot.wrapping_add(1);
    }

    fn count_io(&mut self, class: ExitClass, bytes: usize) {
        self.count(class);
        self.io_bytes = self.io_bytes.wrapping_add(bytes as u64);
    }

    fn add_time(&mut self, kvm_ns: u64, user_ns: u64) {
        self.kvm_ns = self.kvm_ns.saturating_add(kvm_ns);
        self.user_ns = self.user_ns.saturating_add(user_ns);
    }

    /// Every exit counted.
    pub fn total(&self) -> u64 {
        let io: u64 = self.io_in.iter().chain(self.io_out.iter()).sum();
        io + self.mmio_read + self.mmio_write + self.hlt + self.shutdown + self.interrupted + self.other
    }

    /// The totals as one JSON object (see `to_json_line`).
    pub fn to_json(&self) -> serde_json::Value {
        let groups = |counts: &[u64]| {
            let m: serde_json::Map<String, serde_json::Value> =
                PortGroup::ALL.iter().map(|g| (g.name().to_string(), counts[*g as usize].into())).collect();
            serde_json::Value::Object(m)
        };
        let mut v = serde_json::json!({
            "exits": self.total(),
            "io_in": groups(&self.io_in),
            "io_out": groups(&self.io_out),
            "io_bytes": self.io_bytes,
            "mmio_read": self.mmio_read,
            "mmio_write": self.mmio_write,
            "hlt": self.hlt,
            "shutdown": self.shutdown,
            "interrupted": self.interrupted,
            "other": self.other,
            "coalesced_pio": self.coalesced,
        });
        if self.timed {
            v["kvm_us"] = (self.kvm_ns / 1000).into();
            v["user_us"] = (self.user_ns / 1000).into();
        }
        v
    }

    /// `{"exits":N,"io_in":{"dma":..,...},"io_out":{..},"io_bytes":..,"mmio_read":..,
    /// "mmio_write":..,"hlt":..,"shutdown":..,"interrupted":..,"other":..,"coalesced_pio":..
    /// [,"kvm_us":..,"user_us":..]}`
    pub fn to_json_line(&self) -> String {
        self.to_json().to_string()
    }
}

/// Where IRONIDE_EXIT_STATS sends the totals when the machine stops.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ExitStatsSink {
    Off,
    Stderr,
    /// Appended as one line, so several runs can share a file.
    File(PathBuf),
}

impl ExitStatsSink {
    pub const ENV: &'static str = "IRONIDE_EXIT_STATS";

    /// Unset, empty or "0": off; "1" or "stderr": stderr; anything else: a file path.
    pub fn parse(value: Option<&OsStr>) -> ExitStatsSink {
        match value {
            None => ExitStatsSink::Off,
            Some(v) if v.is_empty() || v == "0" => ExitStatsSink::Off,
            Some(v) if v == "1" || v == "stderr" => ExitStatsSink::Stderr,
            Some(v) => ExitStatsSink::File(PathBuf::from(v)),
        }
    }

    pub fn from_env() -> ExitStatsSink {
        ExitStatsSink::parse(std::env::var_os(Self::ENV).as_deref())
    }

    pub fn is_on(&self) -> bool {
        *self != ExitStatsSink::Off
    }

    /// Write the line; a file that cannot be written gets a warning, never
    /// a failure of the run.
    pub fn emit(&self, stats: &ExitStats) {
        let line = stats.to_json_line();
        match self {
            ExitStatsSink::Off => {}
            ExitStatsSink::Stderr => eprintln!("{line}"),
            ExitStatsSink::File(path) => {
                let r = std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(path)
                    .and_then(|mut f| f.write_all(format!("{line}\n").as_bytes()));
                if let Err(e) = r {
                    eprintln!("ironide: cannot write exit stats to {}: {e}", path.display());
                }
            }
        }
    }
}

/// The access width of the current I/O exit (string PIO hands over
/// size * count bytes; the kernel keeps size in kvm_run).
fn io_size(run: *const kvm_run, len: usize) -> usize {
    // SAFETY: `run` points into the vCPU's kvm_run mapping, valid while the
    // vCPU lives; the exit reason is KVM_EXIT_IO, so `io` is the active
    // union member; it is read by value and does not overlap the data bytes.
    let size = unsafe { std::ptr::addr_of!((*run).__bindgen_anon_1.io.size).read() } as usize;
    if matches!(size, 1 | 2 | 4) && len.is_multiple_of(size) {
        size
    } else {
        len.clamp(1, 4)
    }
}

/// Every MSR the host lets us read, at its reset value.
fn saved_msrs(kvm: &Kvm, fd: &VcpuFd) -> Option<Msrs> {
    let list = kvm.get_msr_index_list().ok()?;
    let entries: Vec<_> =
        list.as_slice().iter().map(|&index| kvm_bindings::kvm_msr_entry { index, ..Default::default() }).collect();
    let mut msrs = Msrs::from_entries(&entries).ok()?;
    let n = fd.get_msrs(&mut msrs).ok()?;
    Msrs::from_entries(&msrs.as_slice()[..n]).ok()
}

impl Vcpu {
    /// The vCPU file descriptor, for boot-state setup (kvm/linux_cpu.rs).
    pub(crate) fn fd(&self) -> &VcpuFd {
        &self.fd
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_fall_into_their_device_groups() {
        let cases = [
            (0x1F0, PortGroup::Ide),
            (0x3F6, PortGroup::Ide),
            (0x177, PortGroup::Ide),
            (0x3F4, PortGroup::Fdc),
            (0x3F5, PortGroup::Fdc),
            (0x3FD, PortGroup::Serial),
            (0x510, PortGroup::FwCfg),
            (0x511, PortGroup::FwCfg),
            (0xCFC, PortGroup::Pci),
            (0x70, PortGroup::Rtc),
            (0x61, PortGroup::Pit),
            (0x92, PortGroup::SysCtl),
            (0x81, PortGroup::Dma),
            (0xD6, PortGroup::Dma),
            (0x402, PortGroup::Debug),
            (0xF4, PortGroup::Debug),
            (0x4D1, PortGroup::Pic),
            (0xC000, PortGroup::Other),
        ];
        for (port, group) in cases {
            assert_eq!(PortGroup::of(port), group, "port {port:#x}");
        }
        for (i, g) in PortGroup::ALL.iter().enumerate() {
            assert_eq!(*g as usize, i, "ALL is in declaration order");
        }
    }

    #[test]
    fn counts_every_kind_and_totals() {
        let mut s = ExitStats::default();
        s.count_io(ExitClass::IoIn(0x1F0), 512);
        s.count_io(ExitClass::IoIn(0x1F7), 1);
        s.count_io(ExitClass::IoOut(0x3F8), 1);
        s.count(ExitClass::MmioRead);
        s.count(ExitClass::MmioWrite);
        s.count(ExitClass::Hlt);
        s.count(ExitClass::Shutdown);
        s.count(ExitClass::Interrupted);
        s.count(ExitClass::Other);
        assert_eq!(s.io_in[PortGroup::Ide as usize], 2);
        assert_eq!(s.io_out[PortGroup::Serial as usize], 1);
        assert_eq!(s.io_bytes, 514);
        assert_eq!(s.total(), 9);
    }

    #[test]
    fn json_line_is_one_line_with_every_key() {
        let mut s = ExitStats::default();
        s.count_io(ExitClass::IoOut(0x510), 2);
        s.count(ExitClass::Hlt);
        let line = s.to_json_line();
        assert!(!line.contains('\n'));
        let v: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(v["exits"], 2);
        assert_eq!(v["io_out"]["fw_cfg"], 1);
        assert_eq!(v["io_in"]["fw_cfg"], 0);
        assert_eq!(v["io_in"].as_object().unwrap().len(), PortGroup::ALL.len());
        assert_eq!(v["hlt"], 1);
        assert_eq!(v["io_bytes"], 2);
        for k in ["mmio_read", "mmio_write", "shutdown", "interrupted", "other"] {
            assert_eq!(v[k], 0, "{k}");
        }
        assert!(v.get("kvm_us").is_none(), "untimed stats carry no times");
        s.timed = true;
        s.add_time(2_500_000, 1_000);
        let v = s.to_json();
        assert_eq!((v["kvm_us"].as_u64(), v["user_us"].as_u64()), (Some(2500), Some(1)));
    }

    #[test]
    fn env_value_picks_the_sink() {
        let p = |s: &str| ExitStatsSink::parse(Some(OsStr::new(s)));
        assert_eq!(ExitStatsSink::parse(None), ExitStatsSink::Off);
        assert_eq!(p(""), ExitStatsSink::Off);
        assert_eq!(p("0"), ExitStatsSink::Off);
        assert_eq!(p("1"), ExitStatsSink::Stderr);
        assert_eq!(p("stderr"), ExitStatsSink::Stderr);
        assert_eq!(p("/tmp/x.jsonl"), ExitStatsSink::File(PathBuf::from("/tmp/x.jsonl")));
    }

    #[test]
    fn file_sink_appends_one_line_per_stop() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("exits.jsonl");
        let sink = ExitStatsSink::File(path.clone());
        let mut s = ExitStats::default();
        s.count(ExitClass::Hlt);
        sink.emit(&s);
        sink.emit(&s);
        let text = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2);
        for l in lines {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            assert_eq!(v["hlt"], 1);
        }
        // An unwritable path warns and carries on.
        ExitStatsSink::File(dir.path().join("no/such/dir/x")).emit(&s);
    }
}
