//! The device-facing block API.
//!
//! A [`BlockLayer`] owns the node graph, the backends devices attach to, the
//! throttle groups and one notification eventfd. Devices call
//! [`BlockLayer::submit`]; it returns at once. When the eventfd is readable
//! the event loop calls [`BlockLayer::process_completions`], which hands
//! each finished request to the owner's callback. Throttle waits and
//! injected delays are timers: the loop arms a timer (or the qtest virtual
//! clock) for [`BlockLayer::next_deadline`] and calls
//! [`BlockLayer::run_timers`] when it expires.

mod backend;
mod bounce;
pub mod node;

use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};
use std::os::fd::{AsRawFd, RawFd};
use std::sync::Arc;
use std::time::Duration;

use vmm_sys_util::eventfd::{EventFd, EFD_NONBLOCK};

use crate::clock::Clock;
use crate::engine::{self, EngineCompletion, EngineConfig, EngineOp, EngineRequest};
use crate::error::{BlockError, OpenError};
use crate::request::{Completion, Op, Payload, Request};
use crate::stats::{AcctKind, BlockStats, HistogramError};
use crate::throttle::{Direction, MemberId, ThrottleConfig, ThrottleConfigError, ThrottleGroups};

use backend::{Backend, InFlight, Medium, Stage};
pub use node::{ChildSpec, DriverSpec, NodeInfo, NodeSpec};
use node::{NodeGraph, NodeKind};

/// Handle of one backend.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct BackendId(pub u32);

/// Where a backend's requests stand (for query-block and tests).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MediumInfo {
    pub node: NodeInfo,
    pub size: u64,
    pub read_only: bool,
    pub write_cache: bool,
}

/// Errors of layer-level management calls (not of I/O).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LayerError {
    #[error(transparent)]
    Open(#[from] OpenError),
    #[error(transparent)]
    Throttle(#[from] ThrottleConfigError),
    #[error(transparent)]
    Histogram(#[from] HistogramError),
    #[error("Device has no medium")]
    NoMedium,
    #[error("There already is a medium in the device")]
    HasMedium,
    #[error("Node '{0}' not found")]
    NodeNotFound(String),
    #[error("Node '{0}' is already in use")]
    NodeInUse(String),
    #[error("no such backend")]
    NoBackend,
    #[error("{0}")]
    Io(String),
}

/// The block layer of one machine. Single-threaded: everything runs on the
/// event loop (or under the machine lock).
pub struct BlockLayer {
    clock: Arc<dyn Clock>,
    notify: EventFd,
    engine_cfg: EngineConfig,
    nodes: NodeGraph,
    backends: Vec<Option<Backend>>,
    throttle: ThrottleGroups<(BackendId, u32)>,
    delays: BinaryHeap<Reverse<(u64, u32, u32)>>,
    ready: VecDeque<(BackendId, Completion)>,
    scratch: Vec<EngineCompletion>,
    plugged: bool,
    /// Inside reap_engines: completions found there need no eventfd kick.
    reaping: bool,
}

impl BlockLayer {
    pub fn new(clock: Arc<dyn Clock>) -> std::io::Result<Self> {
        Self::with_config(clock, EngineConfig::default())
    }

    pub fn with_config(clock: Arc<dyn Clock>, engine_cfg: EngineConfig) -> std::io::Result<Self> {
        Ok(BlockLayer {
            clock,
            notify: EventFd::new(EFD_NONBLOCK)?,
            engine_cfg,
            nodes: NodeGraph::default(),
            backends: Vec::new(),
            throttle: ThrottleGroups::new(),
            delays: BinaryHeap::new(),
            ready: VecDeque::new(),
            scratch: Vec::new(),
            plugged: false,
            reaping: false,
        })
    }

    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }

    /// Readable when completions wait: register it with the event loop.
    pub fn notify_fd(&self) -> RawFd {
        self.notify.as_raw_fd()
    }

    // ---- nodes -----------------------------------------------------------

    /// Open a node graph (blockdev-add when `require_name`, -drive otherwise).
    /// Returns the root's node name.
    pub fn add_node(&mut self, spec: &NodeSpec, require_name: bool) -> Result<String, LayerError> {
        let id = self.nodes.add(spec, require_name)?;
        Ok(self.nodes.get(id).map(|n| n.name.clone()).unwrap_or_default())
    }

    /// blockdev-del.
    pub fn delete_node(&mut self, name: &str) -> Result<(), LayerError> {
        Ok(self.nodes.delete(name)?)
    }

    pub fn node_info(&self, name: &str) -> Option<NodeInfo> {
        self.nodes.lookup(name).and_then(|id| self.nodes.info(id))
    }

    /// Every node, for query-named-block-nodes.
    pub fn nodes(&self) -> Vec<NodeInfo> {
        self.nodes.all().filter_map(|id| self.nodes.info(id)).collect()
    }

    // ---- backends --------------------------------------------------------

    /// A backend with no medium.
    pub fn create_backend(&mut self, name: &str, write_cache: bool) -> BackendId {
        let be = Backend::new(name.to_string(), write_cache);
        let id = match self.backends.iter().position(|b| b.is_none()) {
            Some(i) => {
                self.backends[i] = Some(be);
                i
            }
            None => {
                self.backends.push(Some(be));
                self.backends.len() - 1
            }
        };
        BackendId(id as u32)
    }

    pub fn backend_name(&self, id: BackendId) -> Option<&str> {
        self.backend(id).map(|b| b.name.as_str())
    }

    pub fn find_backend(&self, name: &str) -> Option<BackendId> {
        self.backends.iter().position(|b| b.as_ref().is_some_and(|b| b.name == name)).map(|i| BackendId(i as u32))
    }

    /// Remove a backend: in-flight I/O is drained first, its throttle
    /// membership ends and its medium is released.
    pub fn destroy_backend(&mut self, id: BackendId) {
        let _ = self.remove_medium(id);
        let _ = self.throttle.remove(MemberId(id.0 as u64), self.clock.now_ns());
        if let Some(slot) = self.backends.get_mut(id.0 as usize) {
            *slot = None;
        }
        self.ready.retain(|(b, _)| *b != id);
    }

    /// Attach the node `node_name` as the backend's medium.
    pub fn insert_medium(&mut self, id: BackendId, node_name: &str) -> Result<(), LayerError> {
        let nid = self.nodes.lookup(node_name).ok_or_else(|| LayerError::NodeNotFound(node_name.to_string()))?;
        if self.nodes.get(nid).is_some_and(|n| n.users > 0) {
            return Err(LayerError::NodeInUse(node_name.to_string()));
        }
        let be = self.backends.get(id.0 as usize).and_then(|b| b.as_ref()).ok_or(LayerError::NoBackend)?;
        if be.medium.is_some() {
            return Err(LayerError::HasMedium);
        }
        let resolved = self.nodes.resolve(nid).ok_or_else(|| LayerError::NodeNotFound(node_name.to_string()))?;
        let engine = match &resolved.file {
            Some(file) => engine::create(resolved.aio, file.clone(), &self.notify, &self.engine_cfg),
            None => engine::null::NullEngine::new(&self.notify, resolved.read_zeroes)
                .map(|e| Box::new(e) as Box<dyn engine::Engine>),
        }
        .map_err(|e| LayerError::Io(format!("cannot start I/O engine: {e}")))?;
        if let Some(n) = self.nodes.get_mut(nid) {
            n.users += 1;
        }
        if let Some(be) = self.backend_mut(id) {
            be.medium = Some(Medium { root: nid, resolved, engine });
        }
        Ok(())
    }

    /// Detach the medium (after draining its I/O). Auto-named nodes (from
    /// -drive or change-medium) are closed; named ones stay for reuse.
    pub fn remove_medium(&mut self, id: BackendId) -> Result<(), LayerError> {
        self.drain(id);
        let be = self.backend_mut(id).ok_or(LayerError::NoBackend)?;
        let medium = be.medium.take().ok_or(LayerError::NoMedium)?;
        let root = medium.root;
        drop(medium);
        self.nodes.release_child(root);
        Ok(())
    }

    /// Open `spec` with an automatic name and insert it (-drive, change-medium).
    pub fn open_medium(&mut self, id: BackendId, spec: &NodeSpec) -> Result<String, LayerError> {
        let name = self.add_node(spec, false)?;
        if let Err(e) = self.insert_medium(id, &name) {
            if let Some(nid) = self.nodes.lookup(&name) {
                self.nodes.remove(nid);
            }
            return Err(e);
        }
        // The backend is now the only user; releasing it closes the node.
        if let Some(n) = self.nodes.lookup(&name).and_then(|nid| self.nodes.get_mut(nid)) {
            n.auto_named = true;
        }
        Ok(name)
    }

    pub fn has_medium(&self, id: BackendId) -> bool {
        self.backend(id).is_some_and(|b| b.medium.is_some())
    }

    pub fn medium_info(&self, id: BackendId) -> Option<MediumInfo> {
        let be = self.backend(id)?;
        let m = be.medium.as_ref()?;
        Some(MediumInfo {
            node: self.nodes.info(m.root)?,
            size: m.resolved.size,
            read_only: m.resolved.read_only,
            write_cache: be.write_cache,
        })
    }

    /// Size in bytes of the medium (0 without one).
    pub fn size(&self, id: BackendId) -> u64 {
        self.backend(id).and_then(|b| b.medium.as_ref()).map(|m| m.resolved.size).unwrap_or(0)
    }

    pub fn is_read_only(&self, id: BackendId) -> bool {
        self.backend(id).and_then(|b| b.medium.as_ref()).is_some_and(|m| m.resolved.read_only)
    }

    /// The guest toggles its write cache (ATA SET FEATURES).
    pub fn set_write_cache(&mut self, id: BackendId, on: bool) {
        if let Some(be) = self.backend_mut(id) {
            be.write_cache = on;
        }
    }

    pub fn write_cache(&self, id: BackendId) -> bool {
        self.backend(id).is_some_and(|b| b.write_cache)
    }

    pub fn stats(&self, id: BackendId) -> Option<&BlockStats> {
        self.backend(id).map(|b| &b.stats)
    }

    pub fn stats_mut(&mut self, id: BackendId) -> Option<&mut BlockStats> {
        self.backend_mut(id).map(|b| &mut b.stats)
    }

    /// block-latency-histogram-set for one class; None removes it.
    pub fn set_histogram(
        &mut self,
        id: BackendId,
        kind: AcctKind,
        boundaries: Option<Vec<u64>>,
    ) -> Result<(), LayerError> {
        let be = self.backend_mut(id).ok_or(LayerError::NoBackend)?;
        Ok(be.stats.set_histogram(kind, boundaries)?)
    }

    /// Requests of this backend not yet completed (queued, delayed, in the engine).
    pub fn in_flight(&self, id: BackendId) -> usize {
        self.backend(id).map(|b| b.live).unwrap_or(0)
    }

    // ---- throttling ------------------------------------------------------

    /// Apply limits (block_set_io_throttle / -drive throttling.*). A config
    /// with every limit 0 takes the backend out of throttling. `group`
    /// defaults to the backend's name, as in QEMU.
    pub fn set_throttle(&mut self, id: BackendId, cfg: ThrottleConfig, group: Option<&str>) -> Result<(), LayerError> {
        cfg.validate()?;
        let name = self.backend(id).ok_or(LayerError::NoBackend)?.name.clone();
        let now = self.clock.now_ns();
        let member = MemberId(id.0 as u64);
        let released = if cfg.is_enabled() {
            self.throttle.set(member, group.unwrap_or(&name), cfg, now)
        } else {
            self.throttle.remove(member, now)
        };
        self.dispatch_all(released, now);
        Ok(())
    }

    /// The group name and config applied to this backend, if throttled.
    pub fn throttle_config(&self, id: BackendId) -> Option<(String, ThrottleConfig)> {
        self.throttle.group_of(MemberId(id.0 as u64)).map(|(g, c)| (g.to_string(), c.clone()))
    }

    // ---- I/O -------------------------------------------------------------

    /// Batch submissions: between `plug` and `unplug`, requests reach the
    /// engines in one go.
    pub fn plug(&mut self) {
        self.plugged = true;
    }

    pub fn unplug(&mut self) {
        self.plugged = false;
        for be in self.backends.iter_mut().flatten() {
            if let Some(m) = be.medium.as_mut() {
                m.engine.submit();
            }
        }
    }

    /// Submit one request. Returns at once; the completion arrives through
    /// [`Self::process_completions`], never from inside this call.
    pub fn submit(&mut self, id: BackendId, req: Request) {
        let now = self.clock.now_ns();
        let kind = AcctKind::from(req.op);
        let Some(be) = self.backends.get_mut(id.0 as usize).and_then(|b| b.as_mut()) else {
            self.complete_early(id, req, BlockError::Canceled);
            return;
        };
        let check = match &be.medium {
            None => Err(BlockError::NoMedium),
            Some(m) => bounce::validate(&req, m.resolved.size, m.resolved.read_only),
        };
        if let Err(e) = check {
            if req.account {
                be.stats.account_invalid(kind, now);
            }
            self.complete_early(id, req, e);
            return;
        }
        let op = req.op;
        let len = req.len;
        let slot = be.alloc(InFlight {
            tag: req.tag,
            op,
            offset: req.offset,
            len,
            start_ns: now,
            account: req.account,
            payload: req.payload,
            bounce: None,
            stage: Stage::Throttled,
        });
        let member = MemberId(id.0 as u64);
        let dir = match op {
            Op::Read => Some(Direction::Read),
            Op::Write => Some(Direction::Write),
            // QEMU throttles only reads and writes.
            _ => None,
        };
        match dir {
            Some(d) if self.throttle.is_throttled(member) => {
                if self.throttle.submit(member, d, len, (id, slot), now).is_some() {
                    self.dispatch(id, slot, now);
                }
            }
            _ => self.dispatch(id, slot, now),
        }
    }

    /// Deliver finished requests to `f`, in completion order.
    pub fn process_completions(&mut self, mut f: impl FnMut(BackendId, Completion)) {
        let _ = self.notify.read();
        self.reap_engines();
        while let Some((id, c)) = self.ready.pop_front() {
            f(id, c);
        }
    }

    /// Completions waiting to be delivered.
    pub fn pending_completions(&self) -> usize {
        self.ready.len()
    }

    /// The earliest timer (throttle or injected delay), absolute ns.
    pub fn next_deadline(&self) -> Option<u64> {
        let d = self.delays.peek().map(|Reverse((t, _, _))| *t);
        match (d, self.throttle.next_deadline()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Run every timer that is due.
    pub fn run_timers(&mut self) {
        let now = self.clock.now_ns();
        let released = self.throttle.run_timers(now);
        self.dispatch_all(released, now);
        while let Some(Reverse((t, b, slot))) = self.delays.peek().copied() {
            if t > now {
                break;
            }
            self.delays.pop();
            let id = BackendId(b);
            self.fire_delay(id, slot);
        }
        self.kick_engines();
    }

    /// Block the calling thread until completions are ready or a timer is
    /// due, at most `timeout` (real clocks; with a virtual clock timers only
    /// move when the clock does). Returns whether anything is ready.
    pub fn wait(&mut self, timeout: Duration) -> bool {
        // Completions already in a ring cost no syscall to find.
        self.reap_engines();
        if !self.ready.is_empty() {
            return true;
        }
        let now = self.clock.now_ns();
        let mut ns = timeout.as_nanos().min(u64::MAX as u128) as u64;
        if let Some(d) = self.next_deadline() {
            ns = ns.min(d.saturating_sub(now));
        }
        // ppoll: nanosecond timeouts, so throttle timers fire on time.
        let ts = libc::timespec {
            tv_sec: (ns / 1_000_000_000) as libc::time_t,
            tv_nsec: (ns % 1_000_000_000) as libc::c_long,
        };
        let mut pfd = libc::pollfd { fd: self.notify.as_raw_fd(), events: libc::POLLIN, revents: 0 };
        // SAFETY: one valid pollfd and timespec for the duration of the call.
        unsafe { libc::ppoll(&mut pfd, 1, &ts, std::ptr::null()) };
        self.run_timers();
        self.reap_engines();
        !self.ready.is_empty()
    }

    /// Wait until the backend has nothing in flight (medium change, reset,
    /// shutdown). Completions stay queued for the owner.
    pub fn drain(&mut self, id: BackendId) {
        // Throttled requests of a draining backend may not wait for a
        // virtual clock that nobody advances: let them through.
        if self.throttle.is_throttled(MemberId(id.0 as u64)) && self.in_flight(id) > 0 {
            let cfg = self.throttle_config(id);
            let now = self.clock.now_ns();
            let released = self.throttle.remove(MemberId(id.0 as u64), now);
            self.dispatch_all(released, now);
            if let Some((g, c)) = cfg {
                let back = self.throttle.set(MemberId(id.0 as u64), &g, c, now);
                self.dispatch_all(back, now);
            }
        }
        let mut spins = 0u32;
        while self.in_flight(id) > 0 {
            // Injected delays are timers too; expire them early when the
            // clock will not move on its own.
            if !self.wait(Duration::from_millis(100)) {
                spins += 1;
                if spins > 50 {
                    self.expire_delays(id);
                }
            }
        }
    }

    /// Drain every backend.
    pub fn drain_all(&mut self) {
        let ids: Vec<_> = (0..self.backends.len() as u32).map(BackendId).collect();
        for id in ids {
            self.drain(id);
        }
    }

    // ---- internals -------------------------------------------------------

    fn backend(&self, id: BackendId) -> Option<&Backend> {
        self.backends.get(id.0 as usize).and_then(|b| b.as_ref())
    }

    fn backend_mut(&mut self, id: BackendId) -> Option<&mut Backend> {
        self.backends.get_mut(id.0 as usize).and_then(|b| b.as_mut())
    }

    fn complete_early(&mut self, id: BackendId, req: Request, err: BlockError) {
        let buf = match req.payload {
            Payload::Owned(b) => Some(b),
            _ => None,
        };
        self.ready.push_back((id, Completion { tag: req.tag, op: req.op, result: Err(err), buf }));
        let _ = self.notify.write(1);
    }

    fn dispatch_all(&mut self, items: Vec<(MemberId, (BackendId, u32))>, now: u64) {
        for (_, (id, slot)) in items {
            self.dispatch(id, slot, now);
        }
        self.kick_engines();
    }

    /// A request leaves the throttle: fault rules, then the engine.
    fn dispatch(&mut self, id: BackendId, slot: u32, now: u64) {
        let Some(be) = self.backends.get_mut(id.0 as usize).and_then(|b| b.as_mut()) else { return };
        let (Some(m), Some(f)) = (be.medium.as_ref(), be.slots.get(slot as usize).and_then(|s| s.as_ref())) else {
            return;
        };
        let (op, offset, len) = (f.op, f.offset, f.len);
        let mut action = crate::driver::FaultAction::default();
        for nid in m.resolved.fault_nodes.clone() {
            if let Some(NodeKind::Fault(rules)) = self.nodes.get_mut(nid).map(|n| &mut n.kind) {
                let a = rules.check(op, offset, len);
                action.errno = action.errno.or(a.errno);
                action.delay_ns = action.delay_ns.max(a.delay_ns);
            }
        }
        if action.delay_ns > 0 {
            if let Some(f) = self.backend_mut(id).and_then(|be| be.slot_mut(slot)) {
                f.stage = Stage::Delayed { errno: action.errno };
            }
            self.delays.push(Reverse((now.saturating_add(action.delay_ns), id.0, slot)));
            return;
        }
        if let Some(e) = action.errno {
            self.finish(id, slot, Err(BlockError::from_errno(e)));
            return;
        }
        self.start_engine(id, slot);
    }

    fn start_engine(&mut self, id: BackendId, slot: u32) {
        let plugged = self.plugged;
        let Some(be) = self.backends.get_mut(id.0 as usize).and_then(|b| b.as_mut()) else { return };
        let Some(m) = be.medium.as_mut() else { return };
        let Some(f) = be.slots.get_mut(slot as usize).and_then(|s| s.as_mut()) else { return };
        let r = &m.resolved;
        let file_offset = r.base + f.offset;
        let tag = slot as u64;
        let req = match f.op {
            Op::Flush if r.no_flush => None,
            Op::Flush => {
                Some(EngineRequest { op: EngineOp::Sync { datasync: true }, offset: 0, len: 0, iov: vec![], tag })
            }
            Op::Discard => {
                Some(EngineRequest { op: EngineOp::Discard, offset: file_offset, len: f.len, iov: vec![], tag })
            }
            Op::Read | Op::Write => {
                let iov = bounce::payload_iovecs(&mut f.payload);
                let eop = if f.op == Op::Read { EngineOp::Read } else { EngineOp::Write };
                if r.direct && !bounce::is_aligned(&iov, file_offset, f.len, r.align) {
                    let mut b = bounce::Bounce::for_range(file_offset, f.len, r.align);
                    let whole = b.skip == 0 && b.buf.len() as u64 == f.len;
                    let stage_op = if f.op == Op::Write && whole {
                        bounce::copy_from_iovecs(&iov, &mut b.buf.as_mut_slice()[..]);
                        EngineOp::Write
                    } else {
                        // Reads, and writes that need the surrounding bytes.
                        if f.op == Op::Write {
                            f.stage = Stage::RmwRead;
                        }
                        EngineOp::Read
                    };
                    let biov = b.iovec();
                    let req = EngineRequest {
                        op: stage_op,
                        offset: b.file_offset,
                        len: b.buf.len() as u64,
                        iov: vec![biov],
                        tag,
                    };
                    f.bounce = Some(b);
                    if f.stage != Stage::RmwRead {
                        f.stage = Stage::Engine;
                    }
                    m.engine.enqueue(req);
                    if !plugged {
                        m.engine.submit();
                    }
                    return;
                }
                Some(EngineRequest { op: eop, offset: file_offset, len: f.len, iov, tag })
            }
        };
        match req {
            Some(req) => {
                f.stage = Stage::Engine;
                m.engine.enqueue(req);
                if !plugged {
                    m.engine.submit();
                }
            }
            None => self.finish(id, slot, Ok(0)),
        }
    }

    fn kick_engines(&mut self) {
        if self.plugged {
            return;
        }
        for be in self.backends.iter_mut().flatten() {
            if let Some(m) = be.medium.as_mut() {
                m.engine.submit();
            }
        }
    }

    fn reap_engines(&mut self) {
        let mut out = std::mem::take(&mut self.scratch);
        self.reaping = true;
        for i in 0..self.backends.len() {
            let Some(m) = self.backends[i].as_mut().and_then(|b| b.medium.as_mut()) else { continue };
            if m.engine.in_flight() == 0 {
                continue;
            }
            out.clear();
            m.engine.reap(&mut out);
            for c in out.drain(..) {
                self.engine_done(BackendId(i as u32), c);
            }
        }
        self.reaping = false;
        self.scratch = out;
        self.kick_engines();
    }

    /// One engine operation finished: advance the request's stages.
    fn engine_done(&mut self, id: BackendId, c: EngineCompletion) {
        let slot = c.tag as u32;
        let Some(be) = self.backends.get_mut(id.0 as usize).and_then(|b| b.as_mut()) else { return };
        let write_cache = be.write_cache;
        let Some(m) = be.medium.as_mut() else { return };
        let Some(f) = be.slots.get_mut(slot as usize).and_then(|s| s.as_mut()) else { return };
        match (f.stage, c.result) {
            (Stage::RmwRead, Ok(_)) => {
                // Merge the guest's data into the aligned block and write it.
                let iov = bounce::payload_iovecs(&mut f.payload);
                if let Some(b) = f.bounce.as_mut() {
                    let (skip, len) = (b.skip, f.len as usize);
                    bounce::copy_from_iovecs(&iov, &mut b.buf.as_mut_slice()[skip..skip + len]);
                    let req = EngineRequest {
                        op: EngineOp::Write,
                        offset: b.file_offset,
                        len: b.buf.len() as u64,
                        iov: vec![b.iovec()],
                        tag: c.tag,
                    };
                    f.stage = Stage::Engine;
                    m.engine.enqueue(req);
                }
                return;
            }
            (Stage::Engine, Ok(_)) if f.op == Op::Write && !write_cache && !m.resolved.no_flush => {
                f.stage = Stage::SyncAfterWrite;
                m.engine.enqueue(EngineRequest {
                    op: EngineOp::Sync { datasync: true },
                    offset: 0,
                    len: 0,
                    iov: vec![],
                    tag: c.tag,
                });
                return;
            }
            _ => {}
        }
        let result = match c.result {
            Ok(_) => {
                if f.op == Op::Read {
                    if let Some(b) = f.bounce.as_ref() {
                        let iov = bounce::payload_iovecs(&mut f.payload);
                        bounce::copy_to_iovecs(&b.buf.as_slice()[b.skip..b.skip + f.len as usize], &iov);
                    }
                }
                Ok(f.len)
            }
            // Discard is a hint: a backend that cannot punch holes ignores it.
            Err(e) if f.op == Op::Discard && (e == libc::EOPNOTSUPP || e == libc::ENOTTY) => Ok(f.len),
            Err(e) => Err(BlockError::from_errno(e)),
        };
        self.finish(id, slot, result);
    }

    /// Account and queue the completion of one request.
    fn finish(&mut self, id: BackendId, slot: u32, result: Result<u64, BlockError>) {
        let now = self.clock.now_ns();
        let Some(be) = self.backends.get_mut(id.0 as usize).and_then(|b| b.as_mut()) else { return };
        let Some(f) = be.take(slot) else { return };
        let kind = AcctKind::from(f.op);
        if f.op == Op::Write {
            be.stats.note_write_end(f.offset + f.len);
        }
        if f.account {
            be.stats.account_done(kind, f.len, now.saturating_sub(f.start_ns), result.is_err(), now);
        }
        let buf = match f.payload {
            Payload::Owned(b) => Some(b),
            _ => None,
        };
        self.ready.push_back((id, Completion { tag: f.tag, op: f.op, result, buf }));
        // The owner is told through the eventfd, except when we are already
        // collecting completions for it (one syscall per request saved).
        if !self.reaping {
            let _ = self.notify.write(1);
        }
    }

    /// An injected delay is over: fail the request or let it go on.
    fn fire_delay(&mut self, id: BackendId, slot: u32) {
        let stage = self.backend_mut(id).and_then(|be| be.slot_mut(slot)).map(|f| f.stage);
        match stage {
            Some(Stage::Delayed { errno: Some(e) }) => self.finish(id, slot, Err(BlockError::from_errno(e))),
            Some(Stage::Delayed { errno: None }) => self.start_engine(id, slot),
            _ => {}
        }
    }

    /// Fire the injected delays of one backend now (drain without a clock).
    fn expire_delays(&mut self, id: BackendId) {
        let mine: Vec<_> = self.delays.iter().filter(|Reverse((_, b, _))| *b == id.0).copied().collect();
        self.delays.retain(|Reverse((_, b, _))| *b != id.0);
        for Reverse((_, _, slot)) in mine {
            self.fire_delay(id, slot);
        }
        self.kick_engines();
    }
}

impl Drop for BlockLayer {
    fn drop(&mut self) {
        // Engines may still write into guest memory or owned buffers:
        // finish everything before the memory goes away.
        self.drain_all();
    }
}

/// What a device model needs from the block layer, so device crates can be
/// driven by the real layer or by a test double.
pub trait BlockIo {
    /// Submit; the completion comes back later through the owner's loop.
    fn submit(&mut self, id: BackendId, req: Request);
    fn size(&self, id: BackendId) -> u64;
    fn is_read_only(&self, id: BackendId) -> bool;
    fn has_medium(&self, id: BackendId) -> bool;
    fn set_write_cache(&mut self, id: BackendId, on: bool);
    fn write_cache(&self, id: BackendId) -> bool;
}

impl BlockIo for BlockLayer {
    fn submit(&mut self, id: BackendId, req: Request) {
        BlockLayer::submit(self, id, req)
    }
    fn size(&self, id: BackendId) -> u64 {
        BlockLayer::size(self, id)
    }
    fn is_read_only(&self, id: BackendId) -> bool {
        BlockLayer::is_read_only(self, id)
    }
    fn has_medium(&self, id: BackendId) -> bool {
        BlockLayer::has_medium(self, id)
    }
    fn set_write_cache(&mut self, id: BackendId, on: bool) {
        BlockLayer::set_write_cache(self, id, on)
    }
    fn write_cache(&self, id: BackendId) -> bool {
        BlockLayer::write_cache(self, id)
    }
}
