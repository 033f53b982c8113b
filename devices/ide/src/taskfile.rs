//! The ATA task file of one device: registers, their 48-bit "previous"
//! copies, and sector addressing (CHS, LBA28, LBA48).

pub const BSY: u8 = 0x80;
pub const DRDY: u8 = 0x40;
pub const DSC: u8 = 0x10;
pub const DRQ: u8 = 0x08;
pub const ERR: u8 = 0x01;
pub const ABRT: u8 = 0x04;

pub const DEV_LBA: u8 = 0x40;
pub const DEV_SLAVE: u8 = 0x10;
pub const DEV_HEAD: u8 = 0x0F;
/// Bits 7 and 5 of the device register read as set.
pub const DEV_ALWAYS_ON: u8 = 0xA0;

#[derive(Clone, Debug, Default)]
pub struct TaskFile {
    pub feature: u8,
    /// The sector count; while a command runs it holds the full remaining
    /// count (up to 65536), of which the register shows the low byte.
    pub nsector: u32,
    pub sector: u8,
    pub lcyl: u8,
    pub hcyl: u8,
    pub hob_feature: u8,
    pub hob_nsector: u8,
    pub hob_sector: u8,
    pub hob_lcyl: u8,
    pub hob_hcyl: u8,
    pub select: u8,
    /// Whether the running command uses 48-bit addressing.
    pub lba48: bool,
}

impl TaskFile {
    pub fn power_on() -> Self {
        TaskFile { select: DEV_ALWAYS_ON, ..Default::default() }
    }

    /// Fix the sector count for a read/write command: 0 means 256 (LBA28)
    /// or 65536 (LBA48); LBA48 counts combine the previous byte.
    pub fn lba48_transform(&mut self, lba48: bool) {
        self.lba48 = lba48;
        let lo = self.nsector & 0xFF;
        if lba48 {
            let n = ((self.hob_nsector as u32) << 8) | lo;
            self.nsector = if n == 0 { 65536 } else { n };
        } else {
            self.nsector = if lo == 0 { 256 } else { lo };
        }
    }

    /// The addressed sector. `None` for a CHS address outside the
    /// geometry's arithmetic (sector 0).
    pub fn sector_num(&self, heads: u32, secs: u32) -> Option<u64> {
        if self.select & DEV_LBA != 0 {
            if self.lba48 {
                Some(
                    ((self.hob_hcyl as u64) << 40)
                        | ((self.hob_lcyl as u64) << 32)
                        | ((self.hob_sector as u64) << 24)
                        | ((self.hcyl as u64) << 16)
                        | ((self.lcyl as u64) << 8)
                        | self.sector as u64,
                )
            } else {
                Some(
                    (((self.select & DEV_HEAD) as u64) << 24)
                        | ((self.hcyl as u64) << 16)
                        | ((self.lcyl as u64) << 8)
                        | self.sector as u64,
                )
            }
        } else {
            let cyl = ((self.hcyl as u64) << 8) | self.lcyl as u64;
            let head = (self.select & DEV_HEAD) as u64;
            let s = (self.sector as u64).checked_sub(1)?;
            Some(cyl * heads as u64 * secs as u64 + head * secs as u64 + s)
        }
    }

    /// Write a sector number back into the address registers.
    pub fn set_sector_num(&mut self, n: u64, heads: u32, secs: u32) {
        if self.select & DEV_LBA != 0 {
            self.sector = n as u8;
            self.lcyl = (n >> 8) as u8;
            self.hcyl = (n >> 16) as u8;
            if self.lba48 {
                self.hob_sector = (n >> 24) as u8;
                self.hob_lcyl = (n >> 32) as u8;
                self.hob_hcyl = (n >> 40) as u8;
            } else {
                self.select = (self.select & !DEV_HEAD) | ((n >> 24) as u8 & DEV_HEAD);
            }
        } else {
            let track = heads as u64 * secs as u64;
            if track == 0 {
                return;
            }
            let cyl = n / track;
            let r = n % track;
            self.hcyl = (cyl >> 8) as u8;
            self.lcyl = cyl as u8;
            self.select = (self.select & !DEV_HEAD) | ((r / secs as u64) as u8 & DEV_HEAD);
            self.sector = (r % secs as u64) as u8 + 1;
        }
    }

    /// The device signature after reset or diagnostics.
    pub fn set_signature(&mut self, kind: Signature) {
        self.select &= !DEV_HEAD;
        self.nsector = 1;
        self.sector = 1;
        let (mid, high) = match kind {
            Signature::Disk => (0, 0),
            Signature::Atapi => (0x14, 0xEB),
            Signature::None => (0xFF, 0xFF),
        };
        self.lcyl = mid;
        self.hcyl = high;
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Signature {
    Disk,
    Atapi,
    /// No device in the slot.
    None,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addressing_round_trips() {
        let mut tf = TaskFile { select: DEV_ALWAYS_ON, sector: 1, ..Default::default() };
        assert_eq!(tf.sector_num(16, 63), Some(0));
        tf.set_sector_num(16 * 63 * 5 + 63 * 3 + 7, 16, 63);
        assert_eq!((tf.lcyl, tf.select & DEV_HEAD, tf.sector), (5, 3, 8));
        tf.sector = 0;
        assert_eq!(tf.sector_num(16, 63), None);
        tf.select |= DEV_LBA;
        tf.lba48 = true;
        tf.set_sector_num(0x0123_4567_89AB, 16, 63);
        assert_eq!(tf.sector_num(16, 63), Some(0x0123_4567_89AB));
        tf.nsector = 0;
        tf.hob_nsector = 0;
        tf.lba48_transform(true);
        assert_eq!(tf.nsector, 65536);
        tf.nsector = 0;
        tf.lba48_transform(false);
        assert_eq!(tf.nsector, 256);
    }
}
