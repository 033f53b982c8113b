//! A 16550A UART (vm-superio's) on the ISA bus, COM1 by default.
//!
//! Interrupts are a level: high while the UART has an enabled interrupt
//! pending (its IIR says so), low once the guest has acknowledged it. The
//! machine turns the level into whatever its interrupt controller wants.

use std::io::Write;

use vm_superio::serial::NoEvents;
use vm_superio::{Serial, Trigger};

use crate::api::{DevCtx, IrqSink, PioDevice};

pub const COM1_BASE: u16 = 0x3F8;
pub const COM1_IRQ: u32 = 4;
/// Bytes the receive FIFO holds.
pub const INPUT_FIFO: usize = 64;

/// IIR bit 0: no interrupt pending.
const IIR_NONE: u8 = 0x01;

/// vm-superio calls this on every interrupt edge; the level is read back
/// from the UART's state instead, so nothing is needed here.
#[derive(Debug, Default, Clone, Copy)]
pub struct LevelFromState;

impl Trigger for LevelFromState {
    type E = std::convert::Infallible;

    fn trigger(&self) -> Result<(), Self::E> {
        Ok(())
    }
}

pub type SerialOut = Box<dyn Write + Send>;

pub struct Serial16550 {
    uart: Serial<LevelFromState, NoEvents, SerialOut>,
    base: u16,
    irq: u32,
    level: bool,
}

impl std::fmt::Debug for Serial16550 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Serial16550").field("base", &self.base).field("irq", &self.irq).finish()
    }
}

impl Serial16550 {
    /// COM1 (0x3F8-0x3FF, IRQ 4) writing to `out`.
    pub fn new(out: SerialOut) -> Self {
        Self::with_base(COM1_BASE, COM1_IRQ, out)
    }

    pub fn with_base(base: u16, irq: u32, out: SerialOut) -> Self {
        Serial16550 { uart: Serial::new(LevelFromState, out), base, irq, level: false }
    }

    pub fn base(&self) -> u16 {
        self.base
    }

    /// Power-on registers, empty FIFO, interrupt low; the output stays.
    pub fn reset(&mut self, irq: &mut dyn IrqSink) {
        let old = std::mem::replace(&mut self.uart, Serial::new(LevelFromState, Box::new(std::io::sink())));
        self.uart = Serial::new(LevelFromState, old.into_writer());
        self.sync_irq(irq);
    }

    /// Queue host input (stdin) for the guest; returns how many bytes fit
    /// (the FIFO holds 64: offer the rest later). Call `sync_irq` after.
    pub fn enqueue_input(&mut self, input: &[u8]) -> usize {
        self.uart.enqueue_raw_bytes(input).unwrap_or(0)
    }

    /// Room left in the receive FIFO.
    pub fn input_capacity(&self) -> usize {
        self.uart.fifo_capacity()
    }

    /// Whether the interrupt line should be high now.
    pub fn irq_level(&self) -> bool {
        self.uart.state().interrupt_identification & IIR_NONE == 0
    }

    /// Drive the interrupt line to the UART's current level (on change only).
    pub fn sync_irq(&mut self, irq: &mut dyn IrqSink) {
        let level = self.irq_level();
        if level != self.level {
            self.level = level;
            irq.set_irq(self.irq, level);
        }
    }

    pub fn writer_mut(&mut self) -> &mut SerialOut {
        self.uart.writer_mut()
    }

    fn offset(&self, port: u16) -> Option<u8> {
        port.checked_sub(self.base).filter(|&o| o < 8).map(|o| o as u8)
    }
}

impl PioDevice for Serial16550 {
    fn pio_read(&mut self, port: u16, data: &mut [u8], ctx: &mut DevCtx) {
        for (i, b) in data.iter_mut().enumerate() {
            *b = match self.offset(port.wrapping_add(i as u16)) {
                Some(o) => self.uart.read(o),
                None => 0xFF,
            };
        }
        self.sync_irq(ctx.irq);
    }

    fn pio_write(&mut self, port: u16, data: &[u8], ctx: &mut DevCtx) {
        for (i, &v) in data.iter().enumerate() {
            if let Some(o) = self.offset(port.wrapping_add(i as u16)) {
                // An output error loses the byte; the guest never waits on it.
                let _ = self.uart.write(o, v);
            }
        }
        self.sync_irq(ctx.irq);
    }
}
