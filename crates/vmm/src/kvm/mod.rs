//! The KVM side of the machine: the VM (in-kernel PIC/IOAPIC and PIT,
//! memory slots) and the vCPU with its saved reset state.

pub mod coalesced;
mod linux_cpu;
mod vcpu;

use std::sync::Arc;

use kvm_bindings::{
    kvm_pit_config, kvm_reinject_control, kvm_userspace_memory_region, KVM_MEM_READONLY, KVM_PIT_SPEAKER_DUMMY,
};
use kvm_ioctls::{Cap, Kvm, VmFd};
use vm_memory::{GuestMemoryBackend, GuestMemoryMmap, GuestMemoryRegion, MmapRegion};

use crate::error::VmmError;
use crate::memory::Firmware;

pub use vcpu::{ExitClass, ExitStats, ExitStatsSink, PortGroup, PortIo, Vcpu, VcpuExitKind};

/// Where KVM keeps its TSS (three pages below the BIOS image).
const TSS_ADDRESS: usize = 0xFFFB_D000;

// KVM_REINJECT_CONTROL, which kvm-ioctls does not wrap.
vmm_sys_util::ioctl_io_nr!(KVM_REINJECT_CONTROL, kvm_bindings::KVMIO, 0x71);

/// A VM with its interrupt controllers, PIT and memory.
pub struct KvmVm {
    pub kvm: Kvm,
    pub vm: Arc<VmFd>,
    /// The read-only firmware mapping (kept alive for its KVM slot).
    _rom: MmapRegion,
    next_slot: u32,
}

impl KvmVm {
    /// Create the VM, its irqchip and PIT, and register `mem` plus the
    /// firmware image at 4 GiB - size.
    pub fn new(mem: &GuestMemoryMmap, fw: &Firmware) -> Result<Self, VmmError> {
        let kvm = Kvm::new().map_err(VmmError::KvmOpen)?;
        let vm = kvm.create_vm().map_err(VmmError::kvm("create VM"))?;
        vm.set_tss_address(TSS_ADDRESS).map_err(VmmError::kvm("set TSS address"))?;
        vm.create_irq_chip().map_err(VmmError::kvm("create irqchip"))?;
        let pit = kvm_pit_config { flags: KVM_PIT_SPEAKER_DUMMY, ..Default::default() };
        vm.create_pit2(pit).map_err(VmmError::kvm("create PIT"))?;
        disable_pit_reinjection(&vm)?;
        let rom = MmapRegion::new(fw.image.len()).map_err(|e| VmmError::Memory(format!("firmware mapping: {e}")))?;
        // SAFETY: the region was just mapped with exactly image.len() bytes.
        unsafe { std::ptr::copy_nonoverlapping(fw.image.as_ptr(), rom.as_ptr(), fw.image.len()) };
        let mut me = KvmVm { kvm, vm: Arc::new(vm), _rom: rom, next_slot: 0 };
        for region in mem.iter() {
            let host = region.as_ptr() as u64;
            me.add_slot(region.start_addr().0, region.len(), host, false)?;
        }
        // Read-only so a guest write cannot corrupt the image; KVMs without
        // the capability get a writable slot (the shadow is what runs).
        let ro = me.vm.check_extension(Cap::ReadonlyMem);
        me.add_slot(fw.rom_base(), fw.image.len() as u64, me._rom.as_ptr() as u64, ro)?;
        Ok(me)
    }

    fn add_slot(&mut self, gpa: u64, size: u64, host: u64, read_only: bool) -> Result<(), VmmError> {
        let region = kvm_userspace_memory_region {
            slot: self.next_slot,
            flags: if read_only { KVM_MEM_READONLY } else { 0 },
            guest_phys_addr: gpa,
            memory_size: size,
            userspace_addr: host,
        };
        // SAFETY: the host range belongs to a mapping that lives as long as
        // the VM (guest RAM is owned by the machine, the ROM by self).
        unsafe { self.vm.set_user_memory_region(region) }.map_err(VmmError::kvm("set memory region"))?;
        self.next_slot += 1;
        Ok(())
    }

    /// The boot vCPU, with its reset state saved for later resets.
    pub fn create_vcpu(&self) -> Result<Vcpu, VmmError> {
        Vcpu::new(&self.kvm, &self.vm)
    }
}

/// Lost-tick reinjection off (QEMU's `kvm-pit.lost_tick_policy=discard`):
/// on nested KVMs the reinjected IRQ0 starves the floppy's IRQ 6.
fn disable_pit_reinjection(vm: &VmFd) -> Result<(), VmmError> {
    let ctl = kvm_reinject_control { pit_reinject: 0, reserved: [0; 31] };
    // SAFETY: the ioctl reads one kvm_reinject_control that outlives the call.
    let ret = unsafe { vmm_sys_util::ioctl::ioctl_with_ref(vm, KVM_REINJECT_CONTROL(), &ctl) };
    if ret < 0 {
        return Err(VmmError::Kvm { what: "disable PIT reinjection", err: kvm_ioctls::Error::last() });
    }
    Ok(())
}
