//! Node drivers: `file`, `raw` and `fault-inject` (being written).

pub mod cache;

pub use cache::{CacheFlags, CacheMode};
