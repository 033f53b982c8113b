//! The CPU side of a direct Linux boot: identity page tables for the first
//! GiB, the boot GDT, and the long-mode register state the kernel's 64-bit
//! entry point expects.

use kvm_bindings::{kvm_fpu, kvm_regs, kvm_segment, kvm_sregs};
use vm_memory::{Bytes, GuestAddress, GuestMemoryMmap};

use super::{mem_err, BootEntry, LinuxBootError};

pub const GDT_ADDR: u64 = 0x500;
pub const BOOT_STACK: u64 = 0x8FF0;
pub const PML4_ADDR: u64 = 0x9000;
pub const PDPT_ADDR: u64 = 0xA000;
pub const PD_ADDR: u64 = 0xB000;

/// GDT selectors the 64-bit boot protocol names (__BOOT_CS, __BOOT_DS); a
/// TSS follows because VM entry needs a usable task register.
pub const BOOT_CS: u16 = 0x10;
pub const BOOT_DS: u16 = 0x18;
pub const BOOT_TSS: u16 = 0x20;

/// Page-table entry bits.
const PTE_PRESENT: u64 = 1;
const PTE_WRITE: u64 = 1 << 1;
const PTE_HUGE: u64 = 1 << 7;

/// The first GiB identity-mapped with 2 MiB pages (one PML4 entry, one
/// PDPT entry, a full PD): what the kernel's 64-bit entry expects to run on.
pub fn write_page_tables(mem: &GuestMemoryMmap) -> Result<(), LinuxBootError> {
    let mut pml4 = [0u64; 512];
    pml4[0] = PDPT_ADDR | PTE_PRESENT | PTE_WRITE;
    let mut pdpt = [0u64; 512];
    pdpt[0] = PD_ADDR | PTE_PRESENT | PTE_WRITE;
    let pd: Vec<u64> = (0..512u64).map(|i| (i << 21) | PTE_PRESENT | PTE_WRITE | PTE_HUGE).collect();
    for (table, addr) in [(&pml4[..], PML4_ADDR), (&pdpt[..], PDPT_ADDR), (&pd[..], PD_ADDR)] {
        let bytes: Vec<u8> = table.iter().flat_map(|e| e.to_le_bytes()).collect();
        mem.write_slice(&bytes, GuestAddress(addr)).map_err(mem_err("page tables"))?;
    }
    Ok(())
}

/// One segment descriptor, as the GDT holds it and as KVM loads it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Descriptor {
    pub base: u32,
    /// 20-bit limit (in pages when `granular`).
    pub limit: u32,
    /// The access byte: present, DPL, S, type.
    pub access: u8,
    /// Flags nibble: G (8), D/B (4), L (2), AVL (1).
    pub flags: u8,
}

impl Descriptor {
    /// The 8-byte GDT form.
    pub fn encode(&self) -> u64 {
        let (base, limit) = (u64::from(self.base), u64::from(self.limit));
        (limit & 0xFFFF)
            | (base & 0xFF_FFFF) << 16
            | u64::from(self.access) << 40
            | ((limit >> 16) & 0xF) << 48
            | u64::from(self.flags & 0xF) << 52
            | ((base >> 24) & 0xFF) << 56
    }

    /// The same segment as a loaded segment register (`selector` into the GDT).
    pub fn segment(&self, selector: u16) -> kvm_segment {
        let granular = self.flags & 8 != 0;
        kvm_segment {
            base: u64::from(self.base),
            // KVM takes the limit in bytes.
            limit: if granular { (self.limit << 12) | 0xFFF } else { self.limit },
            selector,
            type_: self.access & 0xF,
            present: self.access >> 7,
            dpl: (self.access >> 5) & 3,
            db: (self.flags >> 2) & 1,
            s: (self.access >> 4) & 1,
            l: (self.flags >> 1) & 1,
            g: u8::from(granular),
            avl: self.flags & 1,
            unusable: 0,
            padding: 0,
        }
    }
}

/// 64-bit code: present, ring 0, execute/read, accessed; G and L.
pub const CODE64: Descriptor = Descriptor { base: 0, limit: 0xF_FFFF, access: 0x9B, flags: 0xA };
/// Flat data: present, ring 0, read/write, accessed; G and D/B.
pub const DATA: Descriptor = Descriptor { base: 0, limit: 0xF_FFFF, access: 0x93, flags: 0xC };
/// A busy 64-bit TSS (VM entry checks the task register's type).
pub const TSS: Descriptor = Descriptor { base: 0, limit: 0x67, access: 0x8B, flags: 0 };

/// The boot GDT: two null entries, then code at 0x10, data at 0x18 and the
/// TSS at 0x20 (whose 16-byte system descriptor takes the last slot too).
pub fn gdt() -> [u64; 6] {
    [0, 0, CODE64.encode(), DATA.encode(), TSS.encode(), 0]
}

pub fn write_gdt(mem: &GuestMemoryMmap) -> Result<(), LinuxBootError> {
    let bytes: Vec<u8> = gdt().iter().flat_map(|e| e.to_le_bytes()).collect();
    mem.write_slice(&bytes, GuestAddress(GDT_ADDR)).map_err(mem_err("GDT"))
}

const CR0_PE: u64 = 1;
const CR0_ET: u64 = 1 << 4;
const CR0_NE: u64 = 1 << 5;
const CR0_PG: u64 = 1 << 31;
const CR4_PAE: u64 = 1 << 5;
const EFER_LME: u64 = 1 << 8;
const EFER_LMA: u64 = 1 << 10;

/// `base` (the vCPU's reset state) switched to long mode with paging on the
/// identity tables and the boot GDT loaded.
pub fn long_mode_sregs(base: &kvm_sregs) -> kvm_sregs {
    let mut s = *base;
    s.cs = CODE64.segment(BOOT_CS);
    let data = DATA.segment(BOOT_DS);
    (s.ds, s.es, s.fs, s.gs, s.ss) = (data, data, data, data, data);
    s.tr = TSS.segment(BOOT_TSS);
    s.gdt.base = GDT_ADDR;
    s.gdt.limit = (gdt().len() * 8 - 1) as u16;
    // No IDT: interrupts stay off until the kernel installs its own.
    s.idt.base = 0;
    s.idt.limit = 0;
    s.cr0 = CR0_PE | CR0_ET | CR0_NE | CR0_PG;
    s.cr3 = PML4_ADDR;
    s.cr4 = CR4_PAE;
    s.efer = EFER_LME | EFER_LMA;
    s
}

/// RIP at the entry, RSI at the zero page, a small stack, interrupts off.
pub fn boot_regs(entry: &BootEntry) -> kvm_regs {
    kvm_regs {
        rflags: 0x2,
        rip: entry.entry,
        rsi: entry.zero_page,
        rsp: BOOT_STACK,
        rbp: BOOT_STACK,
        ..Default::default()
    }
}

/// x87 and SSE at their architectural init values.
pub fn boot_fpu() -> kvm_fpu {
    kvm_fpu { fcw: 0x37F, mxcsr: 0x1F80, ..Default::default() }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::linux_boot::{KernelFormat, ZERO_PAGE};
    use crate::memory::RamLayout;

    fn read_u64(m: &GuestMemoryMmap, addr: u64) -> u64 {
        m.read_obj(GuestAddress(addr)).unwrap()
    }

    #[test]
    fn descriptors_encode_as_the_boot_protocol_wants() {
        assert_eq!(CODE64.encode(), 0x00AF_9B00_0000_FFFF);
        assert_eq!(DATA.encode(), 0x00CF_9300_0000_FFFF);
        assert_eq!(TSS.encode(), 0x0000_8B00_0000_0067);
        let cs = CODE64.segment(BOOT_CS);
        assert_eq!((cs.selector, cs.type_, cs.present, cs.s, cs.l, cs.db, cs.g), (0x10, 0xB, 1, 1, 1, 0, 1));
        assert_eq!(cs.limit, 0xFFFF_FFFF);
        let ds = DATA.segment(BOOT_DS);
        assert_eq!((ds.type_, ds.l, ds.db, ds.s), (3, 0, 1, 1));
        let tr = TSS.segment(BOOT_TSS);
        assert_eq!((tr.type_, tr.s, tr.limit, tr.g), (0xB, 0, 0x67, 0));
        assert_eq!(gdt()[2], CODE64.encode());
        assert_eq!(gdt()[(BOOT_DS / 8) as usize], DATA.encode());
    }

    #[test]
    fn page_tables_identity_map_the_first_gib() {
        let m = RamLayout::new(16 << 20).allocate().unwrap();
        write_page_tables(&m).unwrap();
        assert_eq!(read_u64(&m, PML4_ADDR), PDPT_ADDR | 3);
        assert_eq!(read_u64(&m, PML4_ADDR + 8), 0);
        assert_eq!(read_u64(&m, PDPT_ADDR), PD_ADDR | 3);
        assert_eq!(read_u64(&m, PD_ADDR), 0x83);
        assert_eq!(read_u64(&m, PD_ADDR + 8), 0x20_0083);
        assert_eq!(read_u64(&m, PD_ADDR + 511 * 8), (511 << 21) | 0x83);
        write_gdt(&m).unwrap();
        assert_eq!(read_u64(&m, GDT_ADDR + u64::from(BOOT_CS)), CODE64.encode());
    }

    #[test]
    fn long_mode_state() {
        let s = long_mode_sregs(&kvm_sregs::default());
        assert_eq!(s.cr0 & (CR0_PE | CR0_PG), CR0_PE | CR0_PG);
        assert_eq!(s.cr3, PML4_ADDR);
        assert_ne!(s.cr4 & CR4_PAE, 0);
        assert_eq!(s.efer, EFER_LME | EFER_LMA);
        assert_eq!((s.cs.selector, s.ss.selector, s.tr.selector), (BOOT_CS, BOOT_DS, BOOT_TSS));
        assert_eq!((s.gdt.base, s.gdt.limit), (GDT_ADDR, 47));
        let e = BootEntry {
            entry: 0x10_0200,
            zero_page: ZERO_PAGE,
            format: KernelFormat::BzImage,
            kernel_end: 0,
            initrd: None,
        };
        let r = boot_regs(&e);
        assert_eq!((r.rip, r.rsi, r.rflags), (0x10_0200, ZERO_PAGE, 2));
        assert_eq!(boot_fpu().mxcsr, 0x1F80);
    }
}
