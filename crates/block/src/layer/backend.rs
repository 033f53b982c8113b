//! A backend: what one guest device is attached to. It owns the medium's
//! engine, the requests in flight and the statistics.

use crate::engine::Engine;
use crate::request::{Op, Payload};
use crate::stats::BlockStats;

use super::bounce::Bounce;
use super::node::{NodeId, Resolved};

/// Where an in-flight request is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Stage {
    /// Waiting in the throttle queue.
    Throttled,
    /// Held by an injected delay; `errno` fires when it expires.
    Delayed { errno: Option<i32> },
    /// The engine is doing the main operation.
    Engine,
    /// O_DIRECT read-modify-write: reading the aligned superset first.
    RmwRead,
    /// Write-through: the write is done, its fdatasync is running.
    SyncAfterWrite,
}

pub(crate) struct InFlight {
    pub tag: u64,
    pub op: Op,
    pub offset: u64,
    pub len: u64,
    pub start_ns: u64,
    /// Counted in the statistics when it finishes (`Request::account`).
    pub account: bool,
    pub payload: Payload,
    /// Aligned copy used instead of the payload under O_DIRECT.
    pub bounce: Option<Bounce>,
    pub stage: Stage,
}

pub(crate) struct Medium {
    pub root: NodeId,
    pub resolved: Resolved,
    pub engine: Box<dyn Engine>,
}

pub(crate) struct Backend {
    pub name: String,
    pub medium: Option<Medium>,
    pub stats: BlockStats,
    pub slots: Vec<Option<InFlight>>,
    free: Vec<u32>,
    pub live: usize,
    /// The guest-visible write cache; off = every write is made durable
    /// before it completes.
    pub write_cache: bool,
}

impl Backend {
    pub fn new(name: String, write_cache: bool) -> Self {
        Backend {
            name,
            medium: None,
            stats: BlockStats::default(),
            slots: Vec::new(),
            free: Vec::new(),
            live: 0,
            write_cache,
        }
    }

    pub fn alloc(&mut self, f: InFlight) -> u32 {
        self.live += 1;
        match self.free.pop() {
            Some(i) => {
                self.slots[i as usize] = Some(f);
                i
            }
            None => {
                self.slots.push(Some(f));
                (self.slots.len() - 1) as u32
            }
        }
    }

    pub fn take(&mut self, slot: u32) -> Option<InFlight> {
        let f = self.slots.get_mut(slot as usize)?.take()?;
        self.free.push(slot);
        self.live -= 1;
        Some(f)
    }

    pub fn slot_mut(&mut self, slot: u32) -> Option<&mut InFlight> {
        self.slots.get_mut(slot as usize)?.as_mut()
    }
}
