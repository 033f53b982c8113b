//! Building scatter lists from guest physical memory (vm-memory).

use vm_memory::{GuestAddress, GuestMemoryBackend, GuestMemoryMmap};

use crate::request::IoVec;

/// Why a guest range cannot take part in I/O.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GuestRangeError {
    #[error("guest range {addr:#x}+{len:#x} is not backed by guest RAM")]
    NotRam { addr: u64, len: u64 },
}

/// The host view of `[addr, addr + len)` of guest RAM as IoVecs (one per
/// region the range crosses). Ranges that leave RAM are refused whole, so a
/// device can fail the transfer before any byte moves.
pub fn guest_iovecs(mem: &GuestMemoryMmap, addr: u64, len: usize, out: &mut Vec<IoVec>) -> Result<(), GuestRangeError> {
    if len == 0 {
        return Ok(());
    }
    let err = || GuestRangeError::NotRam { addr, len: len as u64 };
    if addr.checked_add(len as u64).is_none() || !mem.check_range(GuestAddress(addr), len) {
        return Err(err());
    }
    let slices = mem.get_slices(GuestAddress(addr), len);
    let start = out.len();
    for s in slices {
        let Ok(s) = s else {
            out.truncate(start);
            return Err(err());
        };
        // SAFETY: guest RAM stays mapped for the life of the machine, which
        // outlives every request (the block layer drains before teardown).
        out.push(unsafe { IoVec::from_raw(s.ptr_guard_mut().as_ptr(), s.len()) });
    }
    Ok(())
}

/// Whether `[addr, addr + len)` is entirely guest RAM.
pub fn is_ram(mem: &GuestMemoryMmap, addr: u64, len: usize) -> bool {
    addr.checked_add(len as u64).is_some() && (len == 0 || mem.check_range(GuestAddress(addr), len))
}

/// Total RAM size (for bounds checks).
pub fn ram_size(mem: &GuestMemoryMmap) -> u64 {
    use vm_memory::GuestMemoryRegion;
    mem.iter().map(|r| r.len()).sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_inside_and_outside_ram() {
        let mem: GuestMemoryMmap =
            GuestMemoryMmap::from_ranges(&[(GuestAddress(0), 0x10000), (GuestAddress(0x10000), 0x10000)]).unwrap();
        let mut v = Vec::new();
        guest_iovecs(&mem, 0xF000, 0x2000, &mut v).unwrap();
        assert_eq!(v.iter().map(|i| i.len()).sum::<usize>(), 0x2000);
        assert_eq!(v.len(), 2, "crosses a region boundary");
        v.clear();
        assert!(guest_iovecs(&mem, 0x1F000, 0x2000, &mut v).is_err());
        assert!(v.is_empty());
        assert!(guest_iovecs(&mem, u64::MAX - 1, 16, &mut v).is_err());
        assert!(is_ram(&mem, 0, 0x20000));
        assert!(!is_ram(&mem, 0, 0x20001));
        assert_eq!(ram_size(&mem), 0x20000);
    }
}
