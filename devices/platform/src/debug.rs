//! The debug devices QEMU's command line adds: isa-debugcon (firmware
//! console) and isa-debug-exit (test exit codes). The reset and A20
//! registers and the i8042 live in their own modules and are re-exported
//! here for the machine's convenience.

use std::io::Write;

use crate::api::{DevCtx, PioDevice};
use crate::request::MachineRequest;

pub use crate::i8042::I8042;
pub use crate::reset::{Port92, ResetControl};

pub const DEBUGCON_DEFAULT_IOBASE: u16 = 0x402;
/// What a debugcon port reads: SeaBIOS prints there only if it sees this.
pub const DEBUGCON_READBACK: u8 = 0xE9;
pub const DEBUG_EXIT_DEFAULT_IOBASE: u16 = 0x501;

/// isa-debugcon: bytes written to `iobase` go to the output.
pub struct Debugcon {
    iobase: u16,
    out: Box<dyn Write + Send>,
}

impl std::fmt::Debug for Debugcon {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Debugcon").field("iobase", &self.iobase).finish()
    }
}

impl Debugcon {
    pub fn new(iobase: u16, out: Box<dyn Write + Send>) -> Self {
        Debugcon { iobase, out }
    }

    pub fn iobase(&self) -> u16 {
        self.iobase
    }

    pub fn reset(&mut self) {}
}

impl PioDevice for Debugcon {
    fn pio_read(&mut self, port: u16, data: &mut [u8], _ctx: &mut DevCtx) {
        data.fill(0);
        if port == self.iobase {
            if let Some(b) = data.first_mut() {
                *b = DEBUGCON_READBACK;
            }
        }
    }

    fn pio_write(&mut self, port: u16, data: &[u8], _ctx: &mut DevCtx) {
        if port != self.iobase {
            return;
        }
        // A wider write (or a `rep outsb`) is that many characters. An
        // output error loses them: the guest never waits on the console.
        let _ = self.out.write_all(data).and_then(|_| self.out.flush());
    }
}

/// isa-debug-exit: writing v anywhere in `iobase..iobase + iosize` asks the
/// machine to exit with status (v << 1) | 1.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DebugExit {
    iobase: u16,
    iosize: u16,
    request: Option<MachineRequest>,
}

impl DebugExit {
    pub fn new(iobase: u16, iosize: u16) -> Self {
        DebugExit { iobase, iosize, request: None }
    }

    pub fn iobase(&self) -> u16 {
        self.iobase
    }

    pub fn iosize(&self) -> u16 {
        self.iosize
    }

    pub fn reset(&mut self) {
        self.request = None;
    }

    pub fn take_request(&mut self) -> Option<MachineRequest> {
        self.request.take()
    }

    fn covers(&self, port: u16) -> bool {
        port.checked_sub(self.iobase).is_some_and(|o| o < self.iosize)
    }
}

impl PioDevice for DebugExit {
    fn pio_read(&mut self, _port: u16, data: &mut [u8], _ctx: &mut DevCtx) {
        data.fill(0xFF);
    }

    fn pio_write(&mut self, port: u16, data: &[u8], _ctx: &mut DevCtx) {
        if !self.covers(port) || data.is_empty() {
            return;
        }
        let mut v = [0u8; 4];
        for (d, s) in v.iter_mut().zip(data) {
            *d = *s;
        }
        let v = u32::from_le_bytes(v);
        self.request = Some(MachineRequest::Exit(((v << 1) | 1) as i32));
    }
}
