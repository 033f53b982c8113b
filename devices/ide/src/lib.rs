//! PIIX3 IDE controller with ATA disks and ATAPI CD-ROMs.
//!
//! [`Ide`] is the whole PCI function: port I/O in ([`PioDevice`]), block
//! completions in ([`BlockClient`]), interrupts 14/15 out. Commands that
//! need no backend I/O finish inside the port write; data transfers go to
//! the block layer at once and finish when their completion is delivered.
//!
//! [`PioDevice`]: ironide_dev_platform::PioDevice
//! [`BlockClient`]: ironide_dev_platform::BlockClient

mod ata;
pub mod atapi;
mod atapi_transport;
pub mod busmaster;
mod channel;
pub mod controller;
mod drive;
pub mod error;
pub mod fuzzing;
pub mod geometry;
pub mod identify;
pub mod pci;
pub mod taskfile;

pub use atapi::OpenTray;
pub use controller::{Ide, IdeEvent, TrayState, IRQ_LINES};
pub use drive::{DriveKind, IdeDriveConfig};
pub use error::{DmaError, IdeError};
