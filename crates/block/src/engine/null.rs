//! The null engine behind the `null-co` driver: every request succeeds at
//! once without touching a file (reads return zeros when asked to). Used by
//! benchmarks that measure device and layer cost alone, as QEMU's null-co.

use vmm_sys_util::eventfd::EventFd;

use super::{Engine, EngineCompletion, EngineKind, EngineOp, EngineRequest};

pub struct NullEngine {
    notify: EventFd,
    read_zeroes: bool,
    queued: Vec<EngineRequest>,
    done: Vec<EngineCompletion>,
}

impl NullEngine {
    pub fn new(notify: &EventFd, read_zeroes: bool) -> std::io::Result<Self> {
        Ok(NullEngine { notify: notify.try_clone()?, read_zeroes, queued: Vec::new(), done: Vec::new() })
    }
}

impl Engine for NullEngine {
    fn kind(&self) -> EngineKind {
        EngineKind::Null
    }

    fn enqueue(&mut self, req: EngineRequest) {
        self.queued.push(req);
    }

    fn submit(&mut self) {
        if self.queued.is_empty() {
            return;
        }
        for req in self.queued.drain(..) {
            if req.op == EngineOp::Read && self.read_zeroes {
                for v in &req.iov {
                    // SAFETY: the submitter guarantees the iovec memory is
                    // valid until completion (IoVec's contract).
                    unsafe { std::ptr::write_bytes(v.base(), 0, v.len()) };
                }
            }
            self.done.push(EngineCompletion { tag: req.tag, result: Ok(req.len) });
        }
        let _ = self.notify.write(1);
    }

    fn reap(&mut self, out: &mut Vec<EngineCompletion>) {
        out.append(&mut self.done);
    }

    fn in_flight(&self) -> usize {
        self.queued.len() + self.done.len()
    }
}
