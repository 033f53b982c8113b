//! The vCPU state a directly booted Linux kernel starts in: long mode at
//! its 64-bit entry (linux_boot.rs builds the values), and the local APIC
//! wired the way a BIOS leaves it.

use kvm_bindings::kvm_lapic_state;

use super::Vcpu;
use crate::error::VmmError;
use crate::linux_boot::{boot_fpu, boot_regs, long_mode_sregs, BootEntry};

/// LVT LINT0 / LINT1 register offsets in the APIC page.
const APIC_LVT_LINT0: usize = 0x350;
const APIC_LVT_LINT1: usize = 0x360;
/// Delivery modes (bits 8-10) and the mask bit.
const DELIVERY_MASK: u32 = 0x700;
const MODE_EXTINT: u32 = 0x700;
const MODE_NMI: u32 = 0x400;
const LVT_MASKED: u32 = 1 << 16;

impl Vcpu {
    /// Put the vCPU at the kernel's 64-bit entry. Call after `reset()`.
    pub fn enter_linux(&mut self, entry: &BootEntry) -> Result<(), VmmError> {
        let fd = self.fd();
        wire_lint(fd)?;
        let sregs = fd.get_sregs().map_err(VmmError::kvm("get segment registers"))?;
        fd.set_sregs(&long_mode_sregs(&sregs)).map_err(VmmError::kvm("set long-mode segment registers"))?;
        fd.set_regs(&boot_regs(entry)).map_err(VmmError::kvm("set boot registers"))?;
        fd.set_fpu(&boot_fpu()).map_err(VmmError::kvm("set FPU"))?;
        Ok(())
    }
}

/// LINT0 as ExtINT (the 8259's output reaches the CPU) and LINT1 as NMI,
/// unmasked, as firmware sets them: KVM only lets PIC interrupts in
/// through an unmasked ExtINT LINT0 once the APIC is enabled.
fn wire_lint(fd: &kvm_ioctls::VcpuFd) -> Result<(), VmmError> {
    let mut lapic = fd.get_lapic().map_err(VmmError::kvm("get local APIC"))?;
    set_lvt(&mut lapic, APIC_LVT_LINT0, MODE_EXTINT);
    set_lvt(&mut lapic, APIC_LVT_LINT1, MODE_NMI);
    fd.set_lapic(&lapic).map_err(VmmError::kvm("set local APIC"))
}

fn set_lvt(lapic: &mut kvm_lapic_state, offset: usize, mode: u32) {
    let reg = &mut lapic.regs[offset..offset + 4];
    let old = u32::from_le_bytes([reg[0] as u8, reg[1] as u8, reg[2] as u8, reg[3] as u8]);
    let new = (old & !(DELIVERY_MASK | LVT_MASKED)) | mode;
    for (dst, b) in reg.iter_mut().zip(new.to_le_bytes()) {
        *dst = b as _;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lint_pins_are_unmasked_with_their_modes() {
        let mut l = kvm_lapic_state::default();
        l.regs[APIC_LVT_LINT0 + 2] = 1; // masked, as at reset
        set_lvt(&mut l, APIC_LVT_LINT0, MODE_EXTINT);
        set_lvt(&mut l, APIC_LVT_LINT1, MODE_NMI);
        let get = |o: usize| {
            u32::from_le_bytes([l.regs[o] as u8, l.regs[o + 1] as u8, l.regs[o + 2] as u8, l.regs[o + 3] as u8])
        };
        assert_eq!(get(APIC_LVT_LINT0), 0x700);
        assert_eq!(get(APIC_LVT_LINT1), 0x400);
    }
}
