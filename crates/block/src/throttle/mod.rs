//! QEMU-exact I/O throttling, as token buckets, with throttle groups.
//!
//! * [`config`]: the six limits of `block_set_io_throttle` and their
//!   validation, with QEMU's error texts and check order.
//! * [`bucket`]: [`ThrottleState`], QEMU's leaky-bucket meter re-expressed as
//!   a token bucket in exact fixed point (no float drift, exact deadlines).
//! * [`group`]: [`ThrottleGroups`], named groups sharing one state, with a
//!   FIFO per member, one timer and one round-robin token per direction.
//!
//! Nothing here reads a clock or sleeps: every call takes `now_ns`, and a
//! group only says when it next wants to run ([`ThrottleGroups::next_deadline`]);
//! the owner arms a real or virtual timer for it and calls
//! [`ThrottleGroups::run_timers`]. The wait is always computed exactly (never
//! a fixed retry period), so a request released by a timer is admitted on
//! that very deadline.

pub mod bucket;
pub mod config;
pub mod group;

pub use bucket::{ThrottleState, TOKEN_SCALE};
pub use config::{BucketKind, Limit, ThrottleConfig, ThrottleConfigError, THROTTLE_VALUE_MAX};
pub use group::{MemberId, ThrottleGroups};

/// Which way a request moves data; reads and writes have their own limits,
/// queues and timers, and share the total limits.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Direction {
    Read,
    Write,
}

impl Direction {
    /// Both directions, in index order.
    pub const ALL: [Direction; 2] = [Direction::Read, Direction::Write];

    /// 0 for reads, 1 for writes (QEMU's order).
    pub fn index(self) -> usize {
        match self {
            Direction::Read => 0,
            Direction::Write => 1,
        }
    }
}

#[cfg(test)]
mod tests;
