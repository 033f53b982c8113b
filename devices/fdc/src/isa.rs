//! The floppy controller and the ISA DMA controllers as one port-bus
//! device, which is how the machine registers them: the FDC needs the DMA
//! controller on every access that may move data, and a DMA reprogramming
//! (unmasking channel 2) may let a waiting floppy transfer run.

use ironide_block::layer::BackendId;
use ironide_block::Completion;
use ironide_dev_isa_dma::IsaDma;
use ironide_dev_platform::{BlockClient, DevCtx, PioDevice};

use crate::controller::Fdc;

/// Default base port of the primary floppy controller.
pub const FDC_BASE: u16 = 0x3F0;

/// `Fdc` + `IsaDma` behind one port-bus device.
#[derive(Debug)]
pub struct IsaFdc {
    pub fdc: Fdc,
    pub dma: IsaDma,
    pub base: u16,
}

impl IsaFdc {
    pub fn new(fdc: Fdc, dma: IsaDma) -> Self {
        IsaFdc { fdc, dma, base: FDC_BASE }
    }

    /// Offsets 1-5 and 7 (offset 6 belongs to the IDE controller, 0 is not
    /// decoded on the PC/AT).
    pub fn decodes_fdc(&self, port: u16) -> bool {
        matches!(port.wrapping_sub(self.base), 1..=5 | 7)
    }

    /// Every port this device answers.
    pub fn decodes(&self, port: u16) -> bool {
        self.decodes_fdc(port) || ironide_dev_isa_dma::decodes(port)
    }

    pub fn next_deadline(&self) -> Option<u64> {
        self.fdc.next_deadline()
    }

    pub fn on_timer(&mut self, ctx: &mut DevCtx) {
        self.fdc.on_timer(&mut self.dma, ctx);
    }

    /// System reset of both controllers.
    pub fn reset(&mut self, ctx: &mut DevCtx) {
        self.dma.reset();
        self.fdc.reset(&mut self.dma, ctx);
    }

    fn read_byte(&mut self, port: u16, ctx: &mut DevCtx) -> u8 {
        if self.decodes_fdc(port) {
            self.fdc.read_reg(port.wrapping_sub(self.base), &mut self.dma, ctx)
        } else {
            self.dma.read_port(port)
        }
    }

    fn write_byte(&mut self, port: u16, v: u8, ctx: &mut DevCtx) {
        if self.decodes_fdc(port) {
            self.fdc.write_reg(port.wrapping_sub(self.base), v, &mut self.dma, ctx);
        } else if ironide_dev_isa_dma::decodes(port) {
            self.dma.write_port(port, v);
            self.fdc.pump_dma(&mut self.dma, ctx);
        }
    }

    /// Port of byte `i` of an access of `len` bytes at `port`: a string
    /// access on the FIFO streams bytes; anything else of width 2 or 4
    /// covers consecutive byte registers, as the ISA bus splits it.
    fn port_of(&self, port: u16, len: usize, i: usize) -> u16 {
        if len > 4 && port == self.base.wrapping_add(5) {
            port
        } else {
            port.wrapping_add(i as u16)
        }
    }
}

impl PioDevice for IsaFdc {
    fn pio_read(&mut self, port: u16, data: &mut [u8], ctx: &mut DevCtx) {
        let len = data.len();
        for (i, b) in data.iter_mut().enumerate() {
            *b = self.read_byte(self.port_of(port, len, i), ctx);
        }
    }

    fn pio_write(&mut self, port: u16, data: &[u8], ctx: &mut DevCtx) {
        for (i, &b) in data.iter().enumerate() {
            self.write_byte(self.port_of(port, data.len(), i), b, ctx);
        }
    }
}

impl BlockClient for IsaFdc {
    fn complete(&mut self, backend: BackendId, completion: Completion, ctx: &mut DevCtx) {
        self.fdc.complete(backend, completion, &mut self.dma, ctx);
    }
}
