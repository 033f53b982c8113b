//! Accounting (QEMU's BlockDeviceStats) and latency histograms.

pub mod counters;
pub mod histogram;

pub use counters::{AcctKind, BlockStats, OpCounters};
pub use histogram::{HistogramError, LatencyHistogram};
