//! The plumbing every ironide device model shares, and (later) the few
//! platform devices of the pc machine.
//!
//! Device models are plain state machines: the machine calls them with a
//! [`DevCtx`] that lends them, for the duration of one call, the block layer,
//! guest memory, the interrupt lines and the current time. Nothing here knows
//! about KVM, threads or sockets.

pub mod api;
pub mod testing;

pub use api::{BlockClient, DevCtx, IrqLog, IrqSink, PioDevice};
