//! The boot vCPU: KVM_RUN with port I/O handed to the machine at its real
//! access width, and the register state of power-on kept for resets.

use kvm_bindings::{kvm_fpu, kvm_mp_state, kvm_regs, kvm_run, kvm_sregs, Msrs, KVM_MAX_CPUID_ENTRIES};
use kvm_ioctls::{Kvm, VcpuExit, VcpuFd, VmFd};

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
        Ok(Vcpu { fd, reset: ResetState { regs, sregs, fpu, msrs, mp } })
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
        let run: *const kvm_run = self.fd.get_kvm_run();
        match self.fd.run() {
            Ok(VcpuExit::IoIn(port, data)) => {
                let size = io_size(run, data.len());
                io.io_in(port, size, data);
                VcpuExitKind::Continue
            }
            Ok(VcpuExit::IoOut(port, data)) => {
                let size = io_size(run, data.len());
                io.io_out(port, size, data);
                VcpuExitKind::Continue
            }
            // Nothing is mapped there: reads float high, writes vanish.
            Ok(VcpuExit::MmioRead(_, data)) => {
                data.fill(0xFF);
                VcpuExitKind::Continue
            }
            Ok(VcpuExit::MmioWrite(..)) | Ok(VcpuExit::Hlt) | Ok(VcpuExit::IrqWindowOpen) => VcpuExitKind::Continue,
            Ok(VcpuExit::Shutdown) => VcpuExitKind::Shutdown,
            Ok(VcpuExit::InternalError) => {
                VcpuExitKind::Fatal(format!("KVM internal error (emulation failure) at {}", self.where_am_i()))
            }
            Ok(VcpuExit::FailEntry(reason, cpu)) => {
                VcpuExitKind::Fatal(format!("KVM entry failed (reason {reason:#x}, cpu {cpu})"))
            }
            Ok(VcpuExit::SystemEvent(ty, _)) => VcpuExitKind::Fatal(format!("unexpected system event {ty}")),
            Ok(other) => {
                tracing::debug!("ignored vCPU exit {other:?}");
                VcpuExitKind::Continue
            }
            Err(e) if e.errno() == libc::EINTR || e.errno() == libc::EAGAIN => VcpuExitKind::Interrupted,
            Err(e) => VcpuExitKind::Fatal(format!("KVM_RUN failed: {e}")),
        }
    }

    fn where_am_i(&self) -> String {
        match (self.fd.get_regs(), self.fd.get_sregs()) {
            (Ok(r), Ok(s)) => format!("cs:rip {:04x}:{:08x} (cr0 {:#x})", s.cs.selector, r.rip, s.cr0),
            _ => "an unknown address".into(),
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
