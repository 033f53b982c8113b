//! werror/rerror: what happens to a failed guest request before its device
//! sees it. `report` delivers the error, `ignore` delivers success, `stop`
//! (and `enospc` on ENOSPC) holds the request, marks the drive's io-status
//! and asks the machine to stop; `cont` resubmits what was held.
//!
//! Resubmitting needs the original request, which a completion does not
//! carry (guest scatter lists in particular). So the block access devices
//! get ([`TrackedLayer`], the machine's `env.layer`) remembers what is
//! submitted — only on drives whose action can stop, and only for the
//! direction that can, so the common path pays one map lookup.

use std::collections::HashMap;
use std::ops::{Deref, DerefMut};

use ironide_block::layer::{BackendId, BlockIo, BlockLayer};
use ironide_block::request::Payload;
use ironide_block::{AlignedBuf, BlockError, Completion, IoVec, Op, Request};
use ironide_dev_platform::MachineRequest;
use ironide_qmp::Event;
use serde_json::json;

use crate::config::ErrorAction;
use crate::machine::{DriveEntry, DriveSlot, Machine};

/// A drive's io-status (query-block).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum IoStatus {
    #[default]
    Ok,
    Failed,
    NoSpace,
}

impl IoStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            IoStatus::Ok => "ok",
            IoStatus::Failed => "failed",
            IoStatus::NoSpace => "nospace",
        }
    }
}

/// What to do with one failed request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    /// Deliver the error (report).
    Deliver,
    /// Deliver success (ignore).
    Succeed,
    /// Keep it for `cont` and stop the VM (stop; enospc on ENOSPC).
    Hold,
}

impl Decision {
    /// The BLOCK_IO_ERROR `action` member.
    pub fn action_name(self) -> &'static str {
        match self {
            Decision::Deliver => "report",
            Decision::Succeed => "ignore",
            Decision::Hold => "stop",
        }
    }
}

/// The action for an error under `action` (QEMU's blk_get_error_action).
pub fn decide(action: ErrorAction, nospace: bool) -> Decision {
    match action {
        ErrorAction::Report => Decision::Deliver,
        ErrorAction::Ignore => Decision::Succeed,
        ErrorAction::Stop => Decision::Hold,
        ErrorAction::Enospc if nospace => Decision::Hold,
        ErrorAction::Enospc => Decision::Deliver,
    }
}

/// The action that applies to `op` on a drive: rerror for reads, werror
/// for everything that writes (write, flush, discard), as QEMU's IDE does.
pub fn action_for(d: &DriveEntry, op: Op) -> ErrorAction {
    if op == Op::Read {
        d.rerror
    } else {
        d.werror
    }
}

/// What was submitted: enough to submit it again.
#[derive(Debug)]
struct Desc {
    op: Op,
    offset: u64,
    len: u64,
    /// Guest memory; None for owned buffers (they come back in the
    /// completion) and for flush/discard.
    iov: Option<Vec<IoVec>>,
}

/// One request kept for `cont`.
#[derive(Debug)]
struct Held {
    backend: BackendId,
    tag: u64,
    desc: Desc,
    buf: Option<AlignedBuf>,
}

/// Which directions of a backend may hold a request.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Watch {
    read: bool,
    write: bool,
}

impl Watch {
    fn covers(self, op: Op) -> bool {
        if op == Op::Read {
            self.read
        } else {
            self.write
        }
    }
}

fn may_hold(a: ErrorAction) -> bool {
    matches!(a, ErrorAction::Stop | ErrorAction::Enospc)
}

/// The retry bookkeeping of the whole machine.
#[derive(Debug, Default)]
pub struct IoRetry {
    watch: HashMap<BackendId, Watch>,
    /// In flight on watched backends, per (backend, tag), oldest first
    /// (a channel may have several requests under one tag, e.g. TRIM).
    inflight: HashMap<(BackendId, u64), Vec<Desc>>,
    held: Vec<Held>,
    status: HashMap<BackendId, IoStatus>,
    events: Vec<Event>,
}

impl IoRetry {
    /// Watch the IDE drives whose werror/rerror can stop (floppies have no
    /// error actions in QEMU).
    pub fn for_drives(drives: &[DriveEntry]) -> Self {
        let mut r = IoRetry::default();
        for d in drives.iter().filter(|d| matches!(d.slot, DriveSlot::Ide { .. })) {
            let w = Watch { read: may_hold(d.rerror), write: may_hold(d.werror) };
            if w != Watch::default() {
                r.watch.insert(d.backend, w);
            }
        }
        r
    }

    fn record(&mut self, id: BackendId, req: &Request) {
        let Some(w) = self.watch.get(&id) else { return };
        if !w.covers(req.op) {
            return;
        }
        let iov = match &req.payload {
            Payload::Guest(v) => Some(v.clone()),
            Payload::Owned(_) | Payload::None => None,
        };
        let desc = Desc { op: req.op, offset: req.offset, len: req.len, iov };
        self.inflight.entry((id, req.tag)).or_default().push(desc);
    }

    /// The descriptor of a finished request, if it was recorded. With
    /// several under one tag, a success picks the one of its length; a
    /// failure the oldest of its kind.
    fn forget(&mut self, id: BackendId, c: &Completion) -> Option<Desc> {
        if self.inflight.is_empty() {
            return None;
        }
        let key = (id, c.tag);
        let list = self.inflight.get_mut(&key)?;
        let pos = match c.result {
            Ok(n) => list.iter().position(|d| d.op == c.op && d.len == n),
            Err(_) => None,
        }
        .or_else(|| list.iter().position(|d| d.op == c.op))?;
        let d = list.remove(pos);
        if list.is_empty() {
            self.inflight.remove(&key);
        }
        Some(d)
    }

    pub fn io_status(&self, id: BackendId) -> IoStatus {
        self.status.get(&id).copied().unwrap_or_default()
    }

    /// Requests waiting for `cont`.
    pub fn held_count(&self) -> usize {
        self.held.len()
    }

    /// BLOCK_IO_ERROR events since the last call, oldest first.
    pub fn take_events(&mut self) -> Vec<Event> {
        std::mem::take(&mut self.events)
    }

    /// Forget everything held (system reset: the requests of the old
    /// machine must not land in the new one). io-status stays until cont.
    pub fn clear_held(&mut self) {
        self.held.clear();
        self.inflight.clear();
    }
}

/// The machine's block layer as devices see it: every call goes to the
/// layer; submissions on watched drives are remembered first. Derefs to
/// the layer for everything else.
pub struct TrackedLayer {
    layer: BlockLayer,
    pub retry: IoRetry,
}

impl TrackedLayer {
    pub fn new(layer: BlockLayer, drives: &[DriveEntry]) -> Self {
        TrackedLayer { layer, retry: IoRetry::for_drives(drives) }
    }

    /// Submit, remembering the request when its drive may hold it. (An
    /// inherent method so `env.layer.submit` never bypasses the record.)
    pub fn submit(&mut self, id: BackendId, req: Request) {
        self.retry.record(id, &req);
        self.layer.submit(id, req);
    }
}

impl Deref for TrackedLayer {
    type Target = BlockLayer;
    fn deref(&self) -> &BlockLayer {
        &self.layer
    }
}

impl DerefMut for TrackedLayer {
    fn deref_mut(&mut self) -> &mut BlockLayer {
        &mut self.layer
    }
}

impl BlockIo for TrackedLayer {
    fn submit(&mut self, id: BackendId, req: Request) {
        TrackedLayer::submit(self, id, req)
    }
    fn size(&self, id: BackendId) -> u64 {
        self.layer.size(id)
    }
    fn is_read_only(&self, id: BackendId) -> bool {
        self.layer.is_read_only(id)
    }
    fn has_medium(&self, id: BackendId) -> bool {
        self.layer.has_medium(id)
    }
    fn set_write_cache(&mut self, id: BackendId, on: bool) {
        self.layer.set_write_cache(id, on)
    }
    fn write_cache(&self, id: BackendId) -> bool {
        self.layer.write_cache(id)
    }
}

/// BLOCK_IO_ERROR as QEMU sends it for a device with io-status (IDE):
/// `nospace` is always present.
fn io_error_event(device: &str, node: Option<&str>, op: Op, action: &str, err: &BlockError) -> Event {
    let mut data = json!({
        "device": device,
        "operation": if op == Op::Read { "read" } else { "write" },
        "action": action,
        "nospace": err.is_nospace(),
        "reason": errno_text(err.errno()),
    });
    if let (Some(n), Some(map)) = (node, data.as_object_mut()) {
        map.insert("node-name".into(), n.into());
    }
    Event::new("BLOCK_IO_ERROR", Some(data))
}

/// strerror() text, without std's " (os error N)".
fn errno_text(errno: i32) -> String {
    ironide_block::error::Errno(errno).to_string()
}

/// The completion-routing hook: apply the drive's error action to a
/// finished request. Returns what the device gets, or None when the
/// request is held for `cont`.
pub fn intercept(m: &mut Machine, id: BackendId, mut c: Completion) -> Option<Completion> {
    let desc = m.env.layer.retry.forget(id, &c);
    let err = match &c.result {
        Ok(_) => return Some(c),
        // A request dropped with its backend (reset, drain) is no I/O error.
        Err(BlockError::Canceled) => return Some(c),
        Err(e) => e.clone(),
    };
    let Some(drive) = m.drives.iter().find(|d| d.backend == id && matches!(d.slot, DriveSlot::Ide { .. })) else {
        return Some(c);
    };
    let mut decision = decide(action_for(drive, c.op), err.is_nospace());
    // Without the original request there is nothing to resubmit.
    if decision == Decision::Hold && desc.is_none() {
        decision = Decision::Deliver;
    }
    let node = m.env.layer.medium_info(id).map(|i| i.node.node_name);
    let ev = io_error_event(&drive.backend_name, node.as_deref(), c.op, decision.action_name(), &err);
    let retry = &mut m.env.layer.retry;
    retry.events.push(ev);
    match decision {
        Decision::Deliver => Some(c),
        Decision::Succeed => {
            let n = desc.map(|d| d.len).or(c.buf.as_ref().map(|b| b.len() as u64)).unwrap_or(0);
            c.result = Ok(n);
            Some(c)
        }
        Decision::Hold => {
            let desc = desc?;
            let st = retry.status.entry(id).or_default();
            // The first error since the last cont is the one shown.
            if *st == IoStatus::Ok {
                *st = if err.is_nospace() { IoStatus::NoSpace } else { IoStatus::Failed };
            }
            retry.held.push(Held { backend: id, tag: c.tag, desc, buf: c.buf.take() });
            if !m.requests.contains(&MachineRequest::Stop) {
                m.requests.push_back(MachineRequest::Stop);
            }
            None
        }
    }
}

/// `cont`: every drive's io-status back to ok and every held request
/// submitted again, oldest first, under its original tag.
pub fn resume(m: &mut Machine) {
    let layer = &mut m.env.layer;
    layer.retry.status.clear();
    let held = std::mem::take(&mut layer.retry.held);
    for h in held {
        let Desc { op, offset, len, iov } = h.desc;
        let req = match (op, iov, h.buf) {
            (Op::Read, Some(v), _) => Request::read(offset, v, h.tag),
            (Op::Write, Some(v), _) => Request::write(offset, v, h.tag),
            (Op::Read, None, Some(b)) => Request::read_owned(offset, b, h.tag),
            (Op::Write, None, Some(b)) => Request::write_owned(offset, b, h.tag),
            // The layer always hands owned buffers back; a read can do with a new one.
            (Op::Read, None, None) => Request::read_owned(offset, AlignedBuf::new(len as usize), h.tag),
            (Op::Write, None, None) => {
                tracing::error!("io retry: write at {offset} lost its buffer; not resubmitted");
                continue;
            }
            (Op::Flush, ..) => Request::flush(h.tag),
            (Op::Discard, ..) => Request::discard(offset, len, h.tag),
        };
        layer.submit(h.backend, req);
    }
}

#[cfg(test)]
#[path = "io_retry_tests.rs"]
mod tests;
