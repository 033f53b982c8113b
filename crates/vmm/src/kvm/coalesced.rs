//! Coalesced port writes (KVM_CAP_COALESCED_PIO): KVM appends the guest's writes to the IDE
//! task-file registers that need no immediate reply (features, sector count, LBA low/mid/high,
//! device/head: 0x1F1-0x1F6 and 0x171-0x176) to a ring shared with user space instead of
//! exiting for each. The vCPU loop replays the ring, in order, before it handles any other exit
//! and before it parks or resets, so a later status read, data transfer or command write sees
//! every earlier register write.
//!
//! What it changes for a guest: a task-file write now takes effect at the vCPU's next exit
//! instead of at once. Only the event thread can change device state in between (completing a
//! command clears BSY); the device ignores task-file writes while BSY, so a guest that writes
//! them during a command (a protocol violation) could see its write kept instead of dropped.
//! Conforming guests wait for !BSY by reading status, which exits and replays first.
//!
//! `IRONIDE_COALESCED_PIO=0` turns it off (the guest-io benchmark measures both ways).

use std::ptr::NonNull;
use std::sync::atomic::{fence, AtomicU32, Ordering};

use kvm_bindings::{kvm_coalesced_mmio, kvm_coalesced_mmio_ring, KVM_COALESCED_MMIO_PAGE_OFFSET};
use kvm_ioctls::{Cap, IoEventAddress, VcpuFd, VmFd};

use super::PortIo;

/// The environment switch: unset or anything but "0"/"off" means on.
pub const ENV: &str = "IRONIDE_COALESCED_PIO";

/// Port ranges whose writes are batched: (first port, length).
pub const RANGES: [(u16, u32); 2] = [(0x1F1, 6), (0x171, 6)];

/// Whether `IRONIDE_COALESCED_PIO` asks for coalescing.
pub fn enabled_by_env() -> bool {
    !matches!(std::env::var(ENV).as_deref(), Ok("0") | Ok("off") | Ok("false"))
}

/// The mapped ring page of a vCPU and the number of writes replayed from it.
pub struct CoalescedPio {
    ring: NonNull<kvm_coalesced_mmio_ring>,
    page_size: usize,
    /// Entries replayed so far (each one a VM exit saved).
    pub replayed: u64,
}

// SAFETY: the mapping belongs to this value alone and is only used through `&mut self`.
unsafe impl Send for CoalescedPio {}

impl CoalescedPio {
    /// Registers `RANGES` for coalescing and maps the ring from the vCPU; None (and plain
    /// exits) when the host lacks the capability, the switch is off or a step fails.
    pub fn setup(vm: &VmFd, vcpu: &VcpuFd) -> Option<CoalescedPio> {
        if !enabled_by_env() {
            tracing::info!("coalesced PIO off ({ENV})");
            return None;
        }
        if !vm.check_extension(Cap::CoalescedPio) {
            tracing::info!("coalesced PIO not offered by this KVM");
            return None;
        }
        let me = match Self::map(vcpu) {
            Ok(m) => m,
            Err(e) => {
                tracing::warn!("coalesced PIO ring not mapped: {e}");
                return None;
            }
        };
        for (i, &(port, len)) in RANGES.iter().enumerate() {
            if let Err(e) = vm.register_coalesced_mmio(IoEventAddress::Pio(port.into()), len) {
                tracing::warn!("coalesced PIO at {port:#x} not registered: {e}");
                // Back to plain exits for every range registered so far.
                for &(p, l) in &RANGES[..i] {
                    let _ = vm.unregister_coalesced_mmio(IoEventAddress::Pio(p.into()), l);
                }
                return None;
            }
        }
        Some(me)
    }

    fn map(vcpu: &VcpuFd) -> std::io::Result<CoalescedPio> {
        use std::os::fd::AsRawFd;
        // SAFETY: sysconf has no preconditions.
        let page_size = match unsafe { libc::sysconf(libc::_SC_PAGESIZE) } {
            n if n > 0 => n as usize,
            _ => return Err(std::io::Error::last_os_error()),
        };
        let offset = KVM_COALESCED_MMIO_PAGE_OFFSET as libc::off_t * page_size as libc::off_t;
        // SAFETY: a fresh shared mapping of the vCPU fd's ring page; nothing else is touched.
        let addr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                page_size,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED,
                vcpu.as_raw_fd(),
                offset,
            )
        };
        if addr == libc::MAP_FAILED {
            return Err(std::io::Error::last_os_error());
        }
        let ring = NonNull::new(addr.cast()).ok_or_else(|| std::io::Error::other("mmap returned null"))?;
        Ok(CoalescedPio { ring, page_size, replayed: 0 })
    }

    /// Entries the ring holds (the kernel's KVM_COALESCED_MMIO_MAX for this page size).
    fn capacity(&self) -> u32 {
        ((self.page_size - std::mem::size_of::<kvm_coalesced_mmio_ring>()) / std::mem::size_of::<kvm_coalesced_mmio>())
            as u32
    }

    /// Replays every write in the ring, oldest first, as port writes to `io`.
    pub fn drain(&mut self, io: &mut dyn PortIo) {
        let cap = self.capacity();
        let base = self.ring.as_ptr();
        // SAFETY: `first` and `last` are the ring header's two u32s inside the mapped page;
        // the kernel writes `last` (and the entries before it), user space writes `first`.
        let (first, last) = unsafe {
            (
                AtomicU32::from_ptr(std::ptr::addr_of_mut!((*base).first)),
                AtomicU32::from_ptr(std::ptr::addr_of_mut!((*base).last)),
            )
        };
        loop {
            let head = first.load(Ordering::Relaxed);
            // Acquire: the entry is complete once `last` has moved past it.
            if head == last.load(Ordering::Acquire) || head >= cap {
                break;
            }
            // SAFETY: head < capacity, so the entry lies inside the mapped page.
            let entry: kvm_coalesced_mmio = unsafe {
                std::ptr::addr_of!((*base).coalesced_mmio)
                    .cast::<kvm_coalesced_mmio>()
                    .add(head as usize)
                    .read_volatile()
            };
            // The entry is copied out before the slot is handed back to the kernel.
            fence(Ordering::Release);
            first.store((head + 1) % cap, Ordering::Release);
            let len = (entry.len as usize).min(entry.data.len());
            // Only port ranges are registered; a port number always fits 16 bits.
            if let Ok(port) = u16::try_from(entry.phys_addr) {
                io.io_out(port, len.max(1), &entry.data[..len]);
                self.replayed += 1;
            }
        }
    }
}

impl Drop for CoalescedPio {
    fn drop(&mut self) {
        // SAFETY: unmapping exactly the page `map` mapped.
        unsafe { libc::munmap(self.ring.as_ptr().cast(), self.page_size) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Records every port access in order.
    #[derive(Default)]
    struct Log(Vec<(char, u16, Vec<u8>)>);

    impl PortIo for Log {
        fn io_in(&mut self, port: u16, _size: usize, data: &mut [u8]) {
            self.0.push(('i', port, data.to_vec()));
            data.fill(0x50);
        }
        fn io_out(&mut self, port: u16, _size: usize, data: &[u8]) {
            self.0.push(('o', port, data.to_vec()));
        }
    }

    /// A real-mode guest writes four task-file registers and then reads status: the writes
    /// come out of the ring, in order, before the read is handled.
    #[test]
    fn batched_writes_are_replayed_in_order_before_the_next_exit() {
        use kvm_bindings::kvm_userspace_memory_region;
        use kvm_ioctls::{Kvm, VcpuExit};
        let Ok(kvm) = Kvm::new() else {
            eprintln!("SKIP: no /dev/kvm");
            return;
        };
        // Declared before the VM so it is dropped after it.
        let mem = MmapMem::new(0x10000);
        let vm = kvm.create_vm().unwrap();
        if !vm.check_extension(Cap::CoalescedPio) {
            eprintln!("SKIP: KVM without coalesced PIO");
            return;
        }
        // Ports above 0xFF need `out dx, al`.
        #[rustfmt::skip]
        let code: &[u8] = &[
            0xba, 0xf2, 0x01, 0xb0, 0x55, 0xee, // mov dx,0x1f2; mov al,0x55; out dx,al
            0xba, 0xf3, 0x01, 0xb0, 0xaa, 0xee, // mov dx,0x1f3; mov al,0xaa; out dx,al
            0xba, 0xf6, 0x01, 0xb0, 0xe0, 0xee, // mov dx,0x1f6; mov al,0xe0; out dx,al
            0xba, 0x76, 0x01, 0xb0, 0xa0, 0xee, // mov dx,0x176; mov al,0xa0; out dx,al
            0xba, 0xf7, 0x01, 0xec,             // mov dx,0x1f7; in al,dx
            0xf4,                               // hlt
        ];
        // SAFETY: the mapping outlives the VM (dropped after it at the end of the test).
        unsafe {
            std::ptr::copy_nonoverlapping(code.as_ptr(), mem.ptr.add(0x1000), code.len());
            vm.set_user_memory_region(kvm_userspace_memory_region {
                slot: 0,
                flags: 0,
                guest_phys_addr: 0,
                memory_size: 0x10000,
                userspace_addr: mem.ptr as u64,
            })
            .unwrap();
        }
        let mut vcpu = vm.create_vcpu(0).unwrap();
        let mut sregs = vcpu.get_sregs().unwrap();
        sregs.cs.base = 0;
        sregs.cs.selector = 0;
        vcpu.set_sregs(&sregs).unwrap();
        let mut regs = vcpu.get_regs().unwrap();
        regs.rip = 0x1000;
        regs.rflags = 2;
        vcpu.set_regs(&regs).unwrap();
        std::env::remove_var(ENV);
        let mut ring = CoalescedPio::setup(&vm, &vcpu).expect("coalescing set up");
        let mut log = Log::default();
        loop {
            match vcpu.run().unwrap() {
                VcpuExit::IoIn(port, data) => {
                    ring.drain(&mut log);
                    log.io_in(port, 1, data);
                }
                VcpuExit::IoOut(port, data) => {
                    ring.drain(&mut log);
                    log.io_out(port, 1, data);
                }
                VcpuExit::Hlt => break,
                other => panic!("unexpected exit {other:?}"),
            }
        }
        let want: Vec<(char, u16, Vec<u8>)> = vec![
            ('o', 0x1f2, vec![0x55]),
            ('o', 0x1f3, vec![0xaa]),
            ('o', 0x1f6, vec![0xe0]),
            ('o', 0x176, vec![0xa0]),
            ('i', 0x1f7, vec![0]),
        ];
        assert_eq!(log.0, want);
        assert_eq!(ring.replayed, 4, "all four writes went through the ring");
    }

    /// Anonymous guest RAM for the test VM.
    struct MmapMem {
        ptr: *mut u8,
        len: usize,
    }

    impl MmapMem {
        fn new(len: usize) -> MmapMem {
            // SAFETY: a fresh anonymous private mapping.
            let p = unsafe {
                libc::mmap(
                    std::ptr::null_mut(),
                    len,
                    libc::PROT_READ | libc::PROT_WRITE,
                    libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                    -1,
                    0,
                )
            };
            assert_ne!(p, libc::MAP_FAILED);
            MmapMem { ptr: p.cast(), len }
        }
    }

    impl Drop for MmapMem {
        fn drop(&mut self) {
            // SAFETY: unmapping the mapping `new` made.
            unsafe { libc::munmap(self.ptr.cast(), self.len) };
        }
    }

    #[test]
    fn ranges_cover_the_reply_free_task_file_registers_only() {
        let covered = |p: u16| RANGES.iter().any(|&(s, l)| p >= s && u32::from(p - s) < l);
        for p in [0x1F1, 0x1F2, 0x1F3, 0x1F4, 0x1F5, 0x1F6, 0x171, 0x176] {
            assert!(covered(p), "{p:#x}");
        }
        // Data, command/status and device control must exit at once.
        for p in [0x1F0, 0x1F7, 0x3F6, 0x170, 0x177, 0x376] {
            assert!(!covered(p), "{p:#x}");
        }
    }
}
