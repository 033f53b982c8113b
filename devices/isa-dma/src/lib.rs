//! The PC's pair of 8237 DMA controllers (ISA DMA).
//!
//! Controller 1 serves channels 0-3 (8-bit transfers, ports 0x00-0x0F),
//! controller 2 channels 4-7 (16-bit transfers, ports 0xC0-0xDE at even
//! addresses; channel 4 cascades controller 1). Page registers sit at the
//! standard PC ports (see [`page_port_channel`]).
//!
//! Devices do not raise DREQ lines that the controller then services on its
//! own schedule: a device that has data moves it with
//! [`IsaDma::write_to_memory`] / [`IsaDma::read_from_memory`], which honour
//! the channel's mask, mode, address direction, page wrap and terminal count.
//! [`IsaDma::set_dreq`] only records the request for the status register.

mod channel;
mod ports;

pub use channel::{Channel, TransferType};
pub use ports::{decodes, page_port_channel};

use ironide_block::guest::is_ram;
use vm_memory::{Bytes, GuestAddress, GuestMemoryMmap};

/// The outcome of one device transfer.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DmaTransfer {
    /// Bytes the channel accepted (memory touched or not, see [`TransferType`]).
    pub bytes: usize,
    /// The channel reached terminal count during this transfer.
    pub terminal_count: bool,
}

/// One 8237.
#[derive(Clone, Debug)]
struct Controller {
    chans: [Channel; 4],
    /// Next byte of a 16-bit register access is the high byte.
    flip_flop: bool,
    command: u8,
    mask: u8,
    /// Terminal-count bits (0-3) latched until the status register is read.
    tc: u8,
    /// Software request register (bits 0-3).
    request: u8,
    /// Device DREQ lines (bits 0-3).
    dreq: u8,
    temp: u8,
}

impl Default for Controller {
    fn default() -> Self {
        Controller {
            chans: [Channel::default(); 4],
            flip_flop: false,
            command: 0,
            mask: 0x0F,
            tc: 0,
            request: 0,
            dreq: 0,
            temp: 0,
        }
    }
}

impl Controller {
    fn master_clear(&mut self) {
        self.flip_flop = false;
        self.command = 0;
        self.mask = 0x0F;
        self.tc = 0;
        self.request = 0;
        self.temp = 0;
    }

    fn toggle(&mut self) -> bool {
        let high = self.flip_flop;
        self.flip_flop = !high;
        high
    }

    /// Register `reg` (0-15) of this controller.
    fn write(&mut self, reg: u8, v: u8) {
        match reg {
            0..=7 => {
                let high = self.toggle();
                let Some(ch) = self.chans.get_mut(usize::from(reg >> 1)) else { return };
                ch.write_reg(reg & 1 == 1, high, v);
            }
            8 => self.command = v,
            9 => set_bit(&mut self.request, v & 3, v & 4 != 0),
            0xA => set_bit(&mut self.mask, v & 3, v & 4 != 0),
            0xB => {
                if let Some(ch) = self.chans.get_mut(usize::from(v & 3)) {
                    ch.mode = v & 0xFC;
                }
            }
            0xC => self.flip_flop = false,
            0xD => self.master_clear(),
            0xE => self.mask = 0,
            _ => self.mask = v & 0x0F,
        }
    }

    fn read(&mut self, reg: u8) -> u8 {
        match reg {
            0..=7 => {
                let high = self.toggle();
                self.chans.get(usize::from(reg >> 1)).map_or(0, |ch| ch.read_reg(reg & 1 == 1, high))
            }
            8 => {
                let v = self.tc | ((self.request | self.dreq) << 4);
                self.tc = 0;
                v
            }
            0xD => self.temp,
            // Many PC chipsets read the mask back here; harmless elsewhere.
            0xF => self.mask | 0xF0,
            _ => 0,
        }
    }
}

fn set_bit(reg: &mut u8, bit: u8, on: bool) {
    if on {
        *reg |= 1 << bit;
    } else {
        *reg &= !(1 << bit);
    }
}

/// Which way the device moves data.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Dir {
    ToMemory,
    FromMemory,
}

/// Both 8237s and the page registers.
#[derive(Clone, Debug, Default)]
pub struct IsaDma {
    ctrl: [Controller; 2],
}

impl IsaDma {
    pub fn new() -> Self {
        Self::default()
    }

    /// System reset: both controllers master-cleared (all channels masked).
    pub fn reset(&mut self) {
        *self = Self::default();
    }

    fn split(channel: u8) -> Option<(usize, usize)> {
        (channel < 8).then_some((usize::from(channel >> 2), usize::from(channel & 3)))
    }

    /// The programmed state of `channel` (0-7).
    pub fn channel(&self, channel: u8) -> Option<&Channel> {
        let (c, i) = Self::split(channel)?;
        self.ctrl.get(c)?.chans.get(i)
    }

    /// Whether `channel` would accept a transfer now (unmasked, controller enabled).
    pub fn is_ready(&self, channel: u8) -> bool {
        let Some((c, i)) = Self::split(channel) else { return false };
        let Some(ctl) = self.ctrl.get(c) else { return false };
        ctl.mask & (1 << i) == 0 && ctl.command & 0x04 == 0
    }

    pub fn is_masked(&self, channel: u8) -> bool {
        match Self::split(channel) {
            Some((c, i)) => self.ctrl.get(c).is_some_and(|ctl| ctl.mask & (1 << i) != 0),
            None => true,
        }
    }

    /// Bytes left before terminal count.
    pub fn remaining(&self, channel: u8) -> usize {
        let unit = if channel >= 4 { 2 } else { 1 };
        self.channel(channel).map_or(0, |ch| (usize::from(ch.cur_count) + 1) * unit)
    }

    /// A device raises or drops its request line (status register bits 4-7).
    pub fn set_dreq(&mut self, channel: u8, level: bool) {
        if let Some((c, i)) = Self::split(channel) {
            if let Some(ctl) = self.ctrl.get_mut(c) {
                set_bit(&mut ctl.dreq, i as u8, level);
            }
        }
    }

    /// Device -> memory (an 8237 "write" transfer).
    pub fn write_to_memory(&mut self, channel: u8, mem: &GuestMemoryMmap, data: &[u8]) -> DmaTransfer {
        let mut scratch = data.to_vec();
        self.transfer(channel, mem, &mut scratch, Dir::ToMemory)
    }

    /// Memory -> device (an 8237 "read" transfer). Bytes the channel does not
    /// deliver (outside RAM, verify or mismatched mode) read as 0xFF.
    pub fn read_from_memory(&mut self, channel: u8, mem: &GuestMemoryMmap, buf: &mut [u8]) -> DmaTransfer {
        self.transfer(channel, mem, buf, Dir::FromMemory)
    }

    fn transfer(&mut self, channel: u8, mem: &GuestMemoryMmap, buf: &mut [u8], dir: Dir) -> DmaTransfer {
        if !self.is_ready(channel) {
            return DmaTransfer::default();
        }
        let Some((c, i)) = Self::split(channel) else { return DmaTransfer::default() };
        let Some(ctl) = self.ctrl.get_mut(c) else { return DmaTransfer::default() };
        let Some(ch) = ctl.chans.get_mut(i) else { return DmaTransfer::default() };
        let wide = c == 1;
        let unit = if wide { 2 } else { 1 };
        let units_left = usize::from(ch.cur_count) + 1;
        let units = (buf.len() / unit).min(units_left);
        // The memory side follows the channel's programmed type; a device
        // whose direction disagrees moves nothing (like a verify cycle).
        let touches = matches!(
            (ch.transfer_type(), dir),
            (TransferType::Write, Dir::ToMemory) | (TransferType::Read, Dir::FromMemory)
        );
        for u in 0..units {
            let addr = ch.phys_addr(wide);
            let Some(bytes) = buf.get_mut(u * unit..(u + 1) * unit) else { break };
            if touches {
                move_unit(mem, addr, bytes, dir);
            } else if dir == Dir::FromMemory {
                bytes.fill(0xFF);
            }
            ch.step();
        }
        let tc = units == units_left;
        if tc {
            ctl.tc |= 1 << i;
            if ch.auto_init() {
                ch.reload();
            } else {
                // The 8237 masks a non-autoinit channel at terminal count.
                ctl.mask |= 1 << i;
            }
        }
        DmaTransfer { bytes: units * unit, terminal_count: tc }
    }
}

/// One byte or word between the device buffer and guest RAM; anything
/// outside RAM is dropped (writes) or reads as 0xFF.
fn move_unit(mem: &GuestMemoryMmap, addr: u64, bytes: &mut [u8], dir: Dir) {
    let inside = is_ram(mem, addr, bytes.len());
    match dir {
        Dir::ToMemory => {
            if inside {
                let _ = mem.write_slice(bytes, GuestAddress(addr));
            }
        }
        Dir::FromMemory => {
            if !inside || mem.read_slice(bytes, GuestAddress(addr)).is_err() {
                bytes.fill(0xFF);
            }
        }
    }
}

impl ironide_dev_platform::PioDevice for IsaDma {
    fn pio_read(&mut self, port: u16, data: &mut [u8], _ctx: &mut ironide_dev_platform::DevCtx) {
        for (k, b) in data.iter_mut().enumerate() {
            *b = self.read_port(port.wrapping_add(k as u16));
        }
    }

    fn pio_write(&mut self, port: u16, data: &[u8], _ctx: &mut ironide_dev_platform::DevCtx) {
        for (k, &b) in data.iter().enumerate() {
            self.write_port(port.wrapping_add(k as u16), b);
        }
    }
}

impl IsaDma {
    /// One byte-wide port read (0xFF for ports this device does not decode).
    pub fn read_port(&mut self, port: u16) -> u8 {
        match ports::decode(port) {
            Some(ports::Reg::Ctrl(c, r)) => self.ctrl.get_mut(c).map_or(0xFF, |ctl| ctl.read(r)),
            Some(ports::Reg::Page(ch)) => self.page_ref(ch).map_or(0xFF, |p| *p),
            None => 0xFF,
        }
    }

    /// One byte-wide port write (ignored for ports this device does not decode).
    pub fn write_port(&mut self, port: u16, v: u8) {
        match ports::decode(port) {
            Some(ports::Reg::Ctrl(c, r)) => {
                if let Some(ctl) = self.ctrl.get_mut(c) {
                    ctl.write(r, v);
                }
            }
            Some(ports::Reg::Page(ch)) => {
                if let Some(p) = self.page_ref(ch) {
                    *p = v;
                }
            }
            None => {}
        }
    }

    fn page_ref(&mut self, channel: u8) -> Option<&mut u8> {
        let (c, i) = Self::split(channel)?;
        Some(&mut self.ctrl.get_mut(c)?.chans.get_mut(i)?.page)
    }
}

#[cfg(test)]
mod tests;
