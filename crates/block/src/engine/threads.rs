//! Thread-pool engine (being written).
use super::*;
pub struct ThreadEngine;
impl ThreadEngine {
    pub fn new(_file: Arc<File>, _notify: &EventFd, _cfg: &EngineConfig) -> std::io::Result<Self> {
        Err(std::io::Error::from_raw_os_error(libc::ENOSYS))
    }
}
impl Engine for ThreadEngine {
    fn kind(&self) -> EngineKind { EngineKind::Threads }
    fn enqueue(&mut self, _req: EngineRequest) {}
    fn submit(&mut self) {}
    fn reap(&mut self, _out: &mut Vec<EngineCompletion>) {}
    fn in_flight(&self) -> usize { 0 }
}
impl Engine for UringEngineStub {
    fn kind(&self) -> EngineKind { EngineKind::IoUring }
    fn enqueue(&mut self, _req: EngineRequest) {}
    fn submit(&mut self) {}
    fn reap(&mut self, _out: &mut Vec<EngineCompletion>) {}
    fn in_flight(&self) -> usize { 0 }
}
pub struct UringEngineStub;
