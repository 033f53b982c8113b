//! The bus-master DMA registers of one channel (BAR4 + channel * 8) and the
//! PRD table walk.

use vm_memory::{Bytes, GuestAddress, GuestMemoryMmap};

use crate::error::DmaError;

pub const CMD_START: u8 = 0x01;
/// Direction: set = the device writes memory (a read from the disk).
pub const CMD_TO_MEMORY: u8 = 0x08;
pub const ST_ACTIVE: u8 = 0x01;
pub const ST_ERROR: u8 = 0x02;
pub const ST_INTR: u8 = 0x04;

/// A PRD table without an end marker is abandoned after this many bytes.
const PRD_TABLE_LIMIT: u64 = 4096;
const PRD_EOT: u32 = 0x8000_0000;

/// One physical region descriptor, decoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Prd {
    pub addr: u64,
    pub len: u32,
}

/// What a PRD table walk found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PrdWalk {
    /// Bytes described by all PRDs of the table.
    pub total: u64,
    /// False when bus mastering is off: nothing may be read or written.
    pub memory: bool,
}

#[derive(Clone, Debug, Default)]
pub struct BusMaster {
    pub cmd: u8,
    pub status: u8,
    /// PRD table pointer register.
    pub addr: u32,
    /// The pointer latched when the engine was started.
    pub table: u32,
}

impl BusMaster {
    pub fn active(&self) -> bool {
        self.status & ST_ACTIVE != 0
    }

    pub fn started(&self) -> bool {
        self.cmd & CMD_START != 0
    }

    /// A register read at `off` (0..8) of this channel's block.
    pub fn read(&self, off: u16, data: &mut [u8]) {
        match off {
            0 | 2 if data.len() == 1 => data[0] = if off == 0 { self.cmd } else { self.status },
            4..=7 => {
                let bytes = self.addr.to_le_bytes();
                for (i, d) in data.iter_mut().enumerate() {
                    *d = bytes.get(off as usize - 4 + i).copied().unwrap_or(0xFF);
                }
            }
            _ => data.fill(0xFF),
        }
    }

    /// The status register write rule: the two "drive DMA capable" bits
    /// are plain storage, ACTIVE is read-only, ERROR and INTR clear on 1.
    pub fn write_status(&mut self, v: u8) {
        let old = self.status;
        self.status = (v & 0x60) | (old & ST_ACTIVE) | (old & !v & (ST_ERROR | ST_INTR));
    }

    /// A write to the PRD pointer bytes at `off` (4..8); bits 0-1 are dropped.
    pub fn write_addr(&mut self, off: u16, data: &[u8]) {
        let mut bytes = self.addr.to_le_bytes();
        for (i, &b) in data.iter().enumerate() {
            if let Some(slot) = bytes.get_mut((off as usize).wrapping_sub(4).wrapping_add(i)) {
                *slot = b;
            }
        }
        self.addr = u32::from_le_bytes(bytes) & !3;
    }
}

/// Walk the PRD table at `table` into `out`. Without bus mastering no guest
/// memory is read: the table then reads as zeroes (64 KiB entries, never an
/// end marker), so the walk stops at the 4096-byte limit with `memory` false.
pub fn walk_prds(mem: &GuestMemoryMmap, bus_master: bool, table: u32, out: &mut Vec<Prd>) -> Result<PrdWalk, DmaError> {
    out.clear();
    if !bus_master {
        let entries = PRD_TABLE_LIMIT / 8;
        return Ok(PrdWalk { total: entries * 0x10000, memory: false });
    }
    let mut total = 0u64;
    let mut off = 0u64;
    while off < PRD_TABLE_LIMIT {
        let at = table as u64 + off;
        let mut raw = [0u8; 8];
        mem.read_slice(&mut raw, GuestAddress(at)).map_err(|_| DmaError::PrdOutsideRam { addr: at })?;
        off += 8;
        let addr = u32::from_le_bytes([raw[0], raw[1], raw[2], raw[3]]) as u64;
        let ctl = u32::from_le_bytes([raw[4], raw[5], raw[6], raw[7]]);
        let len = match ctl & 0xFFFE {
            0 => 0x10000,
            n => n,
        };
        out.push(Prd { addr, len });
        total += len as u64;
        if ctl & PRD_EOT != 0 {
            break;
        }
    }
    Ok(PrdWalk { total, memory: true })
}

/// Scatter `data` into the regions of `prds` from their start.
pub fn scatter(mem: &GuestMemoryMmap, prds: &[Prd], mut data: &[u8]) -> Result<(), DmaError> {
    for p in prds {
        if data.is_empty() {
            break;
        }
        let n = (p.len as usize).min(data.len());
        let (head, rest) = data.split_at(n);
        mem.write_slice(head, GuestAddress(p.addr))
            .map_err(|_| DmaError::BufferOutsideRam { addr: p.addr, len: n as u64 })?;
        data = rest;
    }
    Ok(())
}

/// Gather `len` bytes from the regions of `prds` into `out`.
pub fn gather(mem: &GuestMemoryMmap, prds: &[Prd], len: usize, out: &mut Vec<u8>) -> Result<(), DmaError> {
    out.clear();
    out.resize(len, 0);
    let mut done = 0;
    for p in prds {
        if done >= len {
            break;
        }
        let n = (p.len as usize).min(len - done);
        let dst = out.get_mut(done..done + n).ok_or(DmaError::BufferOutsideRam { addr: p.addr, len: n as u64 })?;
        mem.read_slice(dst, GuestAddress(p.addr))
            .map_err(|_| DmaError::BufferOutsideRam { addr: p.addr, len: n as u64 })?;
        done += n;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_write_rule() {
        let mut bm = BusMaster { status: ST_ACTIVE | ST_ERROR | ST_INTR, ..Default::default() };
        bm.write_status(0x60 | ST_INTR);
        assert_eq!(bm.status, 0x60 | ST_ACTIVE | ST_ERROR);
        bm.write_status(0);
        assert_eq!(bm.status, ST_ACTIVE | ST_ERROR);
    }

    #[test]
    fn prd_pointer_drops_low_bits() {
        let mut bm = BusMaster::default();
        bm.write_addr(4, &0x1234_5677u32.to_le_bytes());
        assert_eq!(bm.addr, 0x1234_5674);
        bm.write_addr(6, &[0xAB]);
        let mut d = [0u8; 4];
        bm.read(4, &mut d);
        assert_eq!(u32::from_le_bytes(d), 0x12AB_5674);
    }

    #[test]
    fn walk_stops_at_eot_or_limit() {
        let mem = GuestMemoryMmap::from_ranges(&[(GuestAddress(0), 0x10000)]).unwrap();
        mem.write_slice(&[0, 0x10, 0, 0, 0x00, 0x02, 0, 0x80], GuestAddress(0x100)).unwrap();
        let mut v = Vec::new();
        let w = walk_prds(&mem, true, 0x100, &mut v).unwrap();
        assert_eq!((w.total, v.len()), (0x200, 1));
        // All-zero table: 512 entries of 64 KiB, then the limit.
        let w = walk_prds(&mem, true, 0x2000, &mut v).unwrap();
        assert_eq!((w.total, v.len()), (512 * 0x10000, 512));
        assert!(walk_prds(&mem, true, 0xFFFC, &mut v).is_err());
    }
}
