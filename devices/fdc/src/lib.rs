//! An 82078-compatible floppy disk controller (QEMU's isa-fdc behaviour):
//! two drives, IRQ 6, DMA channel 2 through `ironide-dev-isa-dma`.
//!
//! [`Fdc`] is the controller state machine; it owns no DMA controller and
//! takes the machine's `&mut IsaDma` on every call that may move data.
//! [`IsaFdc`] bundles both for the port bus (0x3F1-0x3F5, 0x3F7 and the
//! DMA ports). Sector I/O is asynchronous through the block layer; only
//! READ ID waits on virtual time ([`Fdc::next_deadline`], [`Fdc::on_timer`]).

mod command;
mod controller;
pub mod drive;
pub mod fuzzing;
pub mod geometry;
mod isa;
mod media;
mod regs;
mod transfer;

pub use command::XferKind;
pub use controller::{DriveConfig, Fdc, FdcConfig};
pub use geometry::{pick_format, DriveType, Format, Rate, FORMATS};
pub use isa::{IsaFdc, FDC_BASE};
pub use regs::READ_ID_DELAY_NS;
