//! ironide's QMP (QEMU Machine Protocol) implementation.
//!
//! * [`json`]: an incremental parser for QEMU's JSON dialect over a byte
//!   stream, with QEMU's limits and error texts, and QEMU-style output.
//! * [`protocol`]: one client's session: greeting, capabilities
//!   negotiation, the request envelope, replies. [`QmpHandler`] is what the
//!   machine implements.
//! * [`schema`]: every command as a typed [`Command`], argument checking
//!   with QEMU's texts before anything runs.
//! * [`monitor`]: Unix-socket monitors (server and client mode) behind one
//!   pollable fd, for the machine's event loop.
//! * [`event`]: events and their wire form.

pub mod error;
pub mod event;
pub mod fuzzing;
pub mod json;
pub mod monitor;
pub mod protocol;
pub mod schema;

pub use error::{ErrorClass, QmpError};
pub use event::Event;
pub use monitor::{MonitorError, MonitorSpec, Monitors};
pub use protocol::{QmpHandler, ServerInfo, Session};
pub use schema::{Command, DeviceSel, Target};
