//! ironide's block layer.
//!
//! Layers, from the device down (see docs/architecture.md):
//!
//! * [`layer::BlockLayer`]: the device-facing API. Named backends (what a
//!   guest device is attached to) with throttling, statistics and latency
//!   histograms, on top of a graph of named nodes.
//! * [`driver`]: the node drivers `file`, `raw` and `fault-inject`, opened
//!   into a single resolved chain per backend (one file, an offset window and
//!   optional fault rules).
//! * [`engine`]: how requests reach the kernel: io_uring, or a thread pool
//!   of `preadv`/`pwritev` workers when io_uring is unavailable.
//! * [`throttle`]: QEMU-exact I/O limits as token buckets, with groups.
//! * [`stats`]: lock-free accounting and latency histograms.
//!
//! Everything here is driven from one event loop: submissions return at
//! once, completions are signalled on one eventfd and collected with
//! [`layer::BlockLayer::process_completions`]; timers (throttle, injected
//! delays) are exposed as deadlines on an injected [`clock::Clock`].

pub mod buffer;
pub mod clock;
pub mod driver;
pub mod engine;
pub mod error;
pub mod guest;
pub mod layer;
pub mod request;
pub mod stats;
pub mod throttle;

pub use buffer::AlignedBuf;
pub use clock::{Clock, RealClock, VirtualClock};
pub use error::BlockError;
pub use request::{Completion, IoVec, Op, Request};
