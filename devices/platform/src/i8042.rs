//! A minimal 8042 keyboard controller (ports 0x60/0x64): the controller
//! commands firmware and kernels use (self tests, command byte, port
//! enables, output port, reset pulse) and a keyboard and mouse that
//! acknowledge their commands but never send input.

use std::collections::VecDeque;

use crate::api::{DevCtx, IrqSink, PioDevice};
use crate::request::MachineRequest;

pub const DATA_PORT: u16 = 0x60;
pub const STATUS_PORT: u16 = 0x64;
pub const KBD_IRQ: u32 = 1;
pub const AUX_IRQ: u32 = 12;

const STAT_OBF: u8 = 0x01;
const STAT_SYS: u8 = 0x04;
/// The last write went to 0x64.
const STAT_CMD: u8 = 0x08;
/// Keyboard not inhibited (key lock).
const STAT_UNLOCKED: u8 = 0x10;
const STAT_AUX_OBF: u8 = 0x20;

/// Command byte bits.
const MODE_KBD_INT: u8 = 0x01;
const MODE_AUX_INT: u8 = 0x02;
const MODE_SYS: u8 = 0x04;
const MODE_KBD_DISABLED: u8 = 0x10;
const MODE_AUX_DISABLED: u8 = 0x20;

/// Output port: bit 0 = not in reset, bit 1 = A20.
const OUT_RESET: u8 = 0x01;
const OUT_A20: u8 = 0x02;
const OUT_POWER_ON: u8 = 0xCF;

const ACK: u8 = 0xFA;
const BAT_OK: u8 = 0xAA;
const RESEND: u8 = 0xFE;
/// Replies queued beyond this are dropped (a guest cannot grow the queue).
const QUEUE_MAX: usize = 16;

/// What the next write to 0x60 means.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum DataTarget {
    Keyboard,
    CommandByte,
    OutputPort,
    /// 0xD2 / 0xD3: echo as if the keyboard / mouse had sent it.
    EchoKbd,
    EchoAux,
    Aux,
}

#[derive(Clone, Debug)]
pub struct I8042 {
    status: u8,
    mode: u8,
    outport: u8,
    /// Bytes waiting for the guest: (value, from the mouse).
    queue: VecDeque<(u8, bool)>,
    target: DataTarget,
    /// A keyboard (or mouse) command waiting for its parameter byte.
    kbd_param: Option<u8>,
    aux_param: Option<u8>,
    request: Option<MachineRequest>,
    irq_levels: [bool; 2],
}

impl Default for I8042 {
    fn default() -> Self {
        Self::new()
    }
}

impl I8042 {
    pub fn new() -> Self {
        I8042 {
            status: STAT_CMD | STAT_UNLOCKED,
            mode: MODE_KBD_INT | MODE_AUX_INT,
            outport: OUT_POWER_ON,
            queue: VecDeque::new(),
            target: DataTarget::Keyboard,
            kbd_param: None,
            aux_param: None,
            request: None,
            irq_levels: [false; 2],
        }
    }

    pub fn reset(&mut self, irq: &mut dyn IrqSink) {
        *self = Self { irq_levels: self.irq_levels, ..Self::new() };
        self.update_irq(irq);
    }

    pub fn take_request(&mut self) -> Option<MachineRequest> {
        self.request.take()
    }

    /// The A20 gate as the output port has it.
    pub fn a20(&self) -> bool {
        self.outport & OUT_A20 != 0
    }

    pub fn command_byte(&self) -> u8 {
        self.mode
    }

    fn push(&mut self, v: u8, aux: bool) {
        if self.queue.len() < QUEUE_MAX {
            self.queue.push_back((v, aux));
        }
    }

    fn status(&self) -> u8 {
        let mut s = self.status & !(STAT_OBF | STAT_AUX_OBF);
        if let Some(&(_, aux)) = self.queue.front() {
            s |= STAT_OBF | if aux { STAT_AUX_OBF } else { 0 };
        }
        s
    }

    fn update_irq(&mut self, irq: &mut dyn IrqSink) {
        let front = self.queue.front().map(|&(_, aux)| aux);
        let kbd = front == Some(false) && self.mode & MODE_KBD_INT != 0;
        let aux = front == Some(true) && self.mode & MODE_AUX_INT != 0;
        for (i, (line, level)) in [(KBD_IRQ, kbd), (AUX_IRQ, aux)].into_iter().enumerate() {
            if self.irq_levels[i] != level {
                self.irq_levels[i] = level;
                irq.set_irq(line, level);
            }
        }
    }

    fn write_outport(&mut self, v: u8) {
        self.outport = v;
        if v & OUT_RESET == 0 {
            self.request = Some(MachineRequest::Reset);
        }
    }

    fn command(&mut self, cmd: u8) {
        match cmd {
            0x20 => self.push(self.mode, false),
            0x60 => self.target = DataTarget::CommandByte,
            0xA7 => self.mode |= MODE_AUX_DISABLED,
            0xA8 => self.mode &= !MODE_AUX_DISABLED,
            // Interface tests: 0 = no error.
            0xA9 | 0xAB => self.push(0x00, false),
            0xAA => {
                self.status |= STAT_SYS;
                self.push(0x55, false);
            }
            0xAD => self.mode |= MODE_KBD_DISABLED,
            0xAE => self.mode &= !MODE_KBD_DISABLED,
            // Input port: keyboard not locked.
            0xC0 => self.push(0x80, false),
            0xD0 => self.push(self.outport, false),
            0xD1 => self.target = DataTarget::OutputPort,
            0xD2 => self.target = DataTarget::EchoKbd,
            0xD3 => self.target = DataTarget::EchoAux,
            0xD4 => self.target = DataTarget::Aux,
            // Pulse output lines: a low bit 0 pulses the reset line.
            0xF0..=0xFF if cmd & 1 == 0 => self.request = Some(MachineRequest::Reset),
            _ => {}
        }
    }

    fn data(&mut self, v: u8) {
        let target = std::mem::replace(&mut self.target, DataTarget::Keyboard);
        match target {
            DataTarget::Keyboard => {
                // Talking to the keyboard enables its interface.
                self.mode &= !MODE_KBD_DISABLED;
                self.keyboard(v);
            }
            DataTarget::CommandByte => {
                self.mode = v;
                self.status = (self.status & !STAT_SYS) | if v & MODE_SYS != 0 { STAT_SYS } else { 0 };
            }
            DataTarget::OutputPort => self.write_outport(v),
            DataTarget::EchoKbd => self.push(v, false),
            DataTarget::EchoAux => self.push(v, true),
            DataTarget::Aux => self.mouse(v),
        }
    }

    /// Keyboard commands: acknowledged (and answered where a reply is part
    /// of the protocol); there are never keystrokes.
    fn keyboard(&mut self, v: u8) {
        if let Some(cmd) = self.kbd_param.take() {
            self.push(ACK, false);
            // Scan-code set query: the current set (2).
            if cmd == 0xF0 && v == 0 {
                self.push(0x02, false);
            }
            return;
        }
        match v {
            0xEE => self.push(0xEE, false),
            // LEDs, scan-code set, typematic rate: a parameter follows.
            0xED | 0xF0 | 0xF3 => {
                self.push(ACK, false);
                self.kbd_param = Some(v);
            }
            0xF2 => {
                for b in [ACK, 0xAB, 0x83] {
                    self.push(b, false);
                }
            }
            0xFF => {
                self.push(ACK, false);
                self.push(BAT_OK, false);
            }
            0xF4..=0xFE => self.push(ACK, false),
            _ => self.push(RESEND, false),
        }
    }

    /// Mouse commands (after 0xD4): acknowledged; reset answers BAT and ID 0.
    fn mouse(&mut self, v: u8) {
        if self.aux_param.take().is_some() {
            self.push(ACK, true);
            return;
        }
        match v {
            0xFF => {
                for b in [ACK, BAT_OK, 0x00] {
                    self.push(b, true);
                }
            }
            0xF2 => {
                self.push(ACK, true);
                self.push(0x00, true);
            }
            0xE9 => {
                for b in [ACK, 0x00, 0x00, 0x00] {
                    self.push(b, true);
                }
            }
            // Resolution, sample rate: a parameter follows.
            0xE8 | 0xF3 => {
                self.push(ACK, true);
                self.aux_param = Some(v);
            }
            _ => self.push(ACK, true),
        }
    }
}

impl PioDevice for I8042 {
    fn pio_read(&mut self, port: u16, data: &mut [u8], ctx: &mut DevCtx) {
        for b in data.iter_mut() {
            *b = match port {
                STATUS_PORT => self.status(),
                // An empty buffer reads the last byte again in hardware; 0 here.
                DATA_PORT => self.queue.pop_front().map_or(0, |(v, _)| v),
                _ => 0xFF,
            };
        }
        self.update_irq(ctx.irq);
    }

    fn pio_write(&mut self, port: u16, data: &[u8], ctx: &mut DevCtx) {
        for &v in data {
            match port {
                STATUS_PORT => {
                    self.status |= STAT_CMD;
                    self.target = DataTarget::Keyboard;
                    self.command(v);
                }
                DATA_PORT => {
                    self.status &= !STAT_CMD;
                    self.data(v);
                }
                _ => {}
            }
        }
        self.update_irq(ctx.irq);
    }
}
