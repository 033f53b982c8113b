//! The two reset/A20 registers of the chipset: port 0x92 (system control
//! port A) and 0xCF9 (reset control).

use crate::api::{DevCtx, PioDevice};
use crate::request::MachineRequest;

pub const PORT92: u16 = 0x92;
pub const RESET_CONTROL_PORT: u16 = 0xCF9;

/// Port 0x92: bit 1 gates A20, a 0 -> 1 change of bit 0 resets the system.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Port92 {
    value: u8,
    request: Option<MachineRequest>,
}

impl Port92 {
    pub fn new() -> Self {
        Self::default()
    }

    /// The reset bit clears; A20 stays as it was.
    pub fn reset(&mut self) {
        self.value &= !1;
        self.request = None;
    }

    pub fn a20(&self) -> bool {
        self.value & 2 != 0
    }

    pub fn take_request(&mut self) -> Option<MachineRequest> {
        self.request.take()
    }
}

impl PioDevice for Port92 {
    fn pio_read(&mut self, port: u16, data: &mut [u8], _ctx: &mut DevCtx) {
        data.fill(0xFF);
        if port == PORT92 {
            if let Some(b) = data.first_mut() {
                *b = self.value;
            }
        }
    }

    fn pio_write(&mut self, port: u16, data: &[u8], _ctx: &mut DevCtx) {
        let (PORT92, Some(&v)) = (port, data.first()) else { return };
        if v & 1 != 0 && self.value & 1 == 0 {
            self.request = Some(MachineRequest::Reset);
        }
        self.value = v;
    }
}

/// 0xCF9: writing bit 2 (RST_CPU) requests a reset; bit 1 (hard reset) is
/// stored and reads back, bit 2 does not (it is a trigger).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ResetControl {
    value: u8,
    request: Option<MachineRequest>,
}

impl ResetControl {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn reset(&mut self) {
        *self = Self::default();
    }

    pub fn take_request(&mut self) -> Option<MachineRequest> {
        self.request.take()
    }
}

impl PioDevice for ResetControl {
    fn pio_read(&mut self, port: u16, data: &mut [u8], _ctx: &mut DevCtx) {
        data.fill(0xFF);
        if let (RESET_CONTROL_PORT, [b]) = (port, data) {
            *b = self.value;
        }
    }

    fn pio_write(&mut self, port: u16, data: &[u8], _ctx: &mut DevCtx) {
        // Only byte accesses: a dword at 0xCF8 is the PCI address register.
        let (RESET_CONTROL_PORT, [v]) = (port, data) else { return };
        if v & 0x04 != 0 {
            self.request = Some(MachineRequest::Reset);
        }
        self.value = v & 0x02;
    }
}
