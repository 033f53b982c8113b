//! One DMA channel's registers and its address arithmetic.

/// Mode register bits 2-3.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TransferType {
    /// 00: the cycle runs, memory is not touched.
    Verify,
    /// 01: device -> memory.
    Write,
    /// 10: memory -> device.
    Read,
    /// 11: illegal; treated like verify.
    Illegal,
}

/// The registers of one channel.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Channel {
    pub base_addr: u16,
    pub base_count: u16,
    pub cur_addr: u16,
    /// Units left minus one (0xFFFF after terminal count).
    pub cur_count: u16,
    /// Mode register, channel-select bits cleared.
    pub mode: u8,
    pub page: u8,
}

impl Channel {
    pub fn transfer_type(&self) -> TransferType {
        match (self.mode >> 2) & 3 {
            0 => TransferType::Verify,
            1 => TransferType::Write,
            2 => TransferType::Read,
            _ => TransferType::Illegal,
        }
    }

    pub fn auto_init(&self) -> bool {
        self.mode & 0x10 != 0
    }

    pub fn decrement(&self) -> bool {
        self.mode & 0x20 != 0
    }

    /// Writing either half sets base and current together.
    pub(crate) fn write_reg(&mut self, count: bool, high: bool, v: u8) {
        let set = |r: u16| if high { (r & 0x00FF) | (u16::from(v) << 8) } else { (r & 0xFF00) | u16::from(v) };
        if count {
            self.base_count = set(self.base_count);
            self.cur_count = self.base_count;
        } else {
            self.base_addr = set(self.base_addr);
            self.cur_addr = self.base_addr;
        }
    }

    pub(crate) fn read_reg(&self, count: bool, high: bool) -> u8 {
        let r = if count { self.cur_count } else { self.cur_addr };
        let [lo, hi] = r.to_le_bytes();
        if high {
            hi
        } else {
            lo
        }
    }

    /// Guest-physical address of the current unit. The address register
    /// wraps inside the page (64 KiB, or 128 KiB for word channels), as the
    /// hardware's separate page latch does.
    pub(crate) fn phys_addr(&self, wide: bool) -> u64 {
        if wide {
            (u64::from(self.page & 0xFE) << 16) | (u64::from(self.cur_addr) << 1)
        } else {
            (u64::from(self.page) << 16) | u64::from(self.cur_addr)
        }
    }

    /// Advance by one unit.
    pub(crate) fn step(&mut self) {
        self.cur_addr = if self.decrement() { self.cur_addr.wrapping_sub(1) } else { self.cur_addr.wrapping_add(1) };
        self.cur_count = self.cur_count.wrapping_sub(1);
    }

    pub(crate) fn reload(&mut self) {
        self.cur_addr = self.base_addr;
        self.cur_count = self.base_count;
    }
}
