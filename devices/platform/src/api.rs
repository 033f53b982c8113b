//! The device-side interfaces.

use ironide_block::layer::{BackendId, BlockIo};
use ironide_block::{Clock, Completion};
use vm_memory::GuestMemoryMmap;

/// Interrupt lines as the device sees them (ISA IRQ numbers for the
/// legacy devices). Levels, not pulses: the machine turns them into what its
/// interrupt controller wants (edge pulses, irqfd, qtest `IRQ raise/lower`).
pub trait IrqSink {
    fn set_irq(&mut self, line: u32, level: bool);
}

/// What one call into a device may use.
pub struct DevCtx<'a> {
    pub block: &'a mut dyn BlockIo,
    pub mem: &'a GuestMemoryMmap,
    pub irq: &'a mut dyn IrqSink,
    /// The injected clock (virtual under qtest). Read it only when needed:
    /// a clock read costs more than most port accesses.
    pub clock: &'a dyn Clock,
}

impl DevCtx<'_> {
    pub fn now_ns(&self) -> u64 {
        self.clock.now_ns()
    }
}

/// A device on the port I/O bus. `data.len()` is the access width (1, 2 or
/// 4) — except on data ports that accept strings (the IDE data port), where
/// a `rep insw`/`rep outsw` may arrive as one access of many units.
pub trait PioDevice {
    fn pio_read(&mut self, port: u16, data: &mut [u8], ctx: &mut DevCtx);
    fn pio_write(&mut self, port: u16, data: &[u8], ctx: &mut DevCtx);
}

/// A device that submits block requests gets their completions here.
pub trait BlockClient {
    fn complete(&mut self, backend: BackendId, completion: Completion, ctx: &mut DevCtx);
}

/// An [`IrqSink`] that records levels and every change (tests, qtest).
#[derive(Debug, Clone, Default)]
pub struct IrqLog {
    levels: [bool; 32],
    /// Every change, in order: (line, new level).
    pub changes: Vec<(u32, bool)>,
}

impl IrqLog {
    pub fn level(&self, line: u32) -> bool {
        self.levels.get(line as usize).copied().unwrap_or(false)
    }

    /// How many times `line` went high since the log was last cleared.
    pub fn raises(&self, line: u32) -> usize {
        self.changes.iter().filter(|&&(l, v)| l == line && v).count()
    }

    pub fn clear_changes(&mut self) {
        self.changes.clear();
    }
}

impl IrqSink for IrqLog {
    fn set_irq(&mut self, line: u32, level: bool) {
        if let Some(l) = self.levels.get_mut(line as usize) {
            if *l != level {
                *l = level;
                self.changes.push((line, level));
            }
        }
    }
}
