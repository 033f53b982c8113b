//! The plumbing every ironide device model shares, and the platform
//! devices of the pc machine (PCI host and ISA bridges, RTC/CMOS, fw_cfg,
//! serial, debug ports, reset and A20 controls, a minimal i8042).
//!
//! Device models are plain state machines: the machine calls them with a
//! [`DevCtx`] that lends them, for the duration of one call, the block layer,
//! guest memory, the interrupt lines and the current time. Nothing here knows
//! about KVM, threads or sockets.

pub mod api;
pub mod cmos;
pub mod debug;
pub mod fw_cfg;
pub mod i440fx;
pub mod i8042;
pub mod pci;
pub mod piix3;
pub mod request;
pub mod reset;
pub mod rtc_time;
pub mod serial;
pub mod smbios;
pub mod testing;

pub use api::{BlockClient, DevCtx, IrqLog, IrqSink, PioDevice};
pub use cmos::{pc_bios_bytes, Cmos, WallClock};
pub use debug::{DebugExit, Debugcon};
pub use fw_cfg::{E820Entry, FwCfg, FwCfgError};
pub use i440fx::I440fx;
pub use i8042::I8042;
pub use pci::{BarKind, ConfigSpace, PciAddr, PciConfigAddress, PciFunction};
pub use piix3::{Elcr, Piix3Isa};
pub use request::MachineRequest;
pub use reset::{Port92, ResetControl};
pub use serial::Serial16550;
