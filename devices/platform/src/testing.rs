//! A miniature machine for device tests and fuzzers: guest RAM, a block
//! layer on a virtual clock with image files in a temporary directory, and
//! recorded interrupt lines.

use std::sync::Arc;
use std::time::{Duration, Instant};

use ironide_block::engine::AioMode;
use ironide_block::layer::{BackendId, BlockLayer, NodeSpec};
use ironide_block::VirtualClock;
use vm_memory::{GuestAddress, GuestMemoryMmap};

use crate::api::{BlockClient, DevCtx, IrqLog};

pub struct TestEnv {
    pub mem: GuestMemoryMmap,
    pub layer: BlockLayer,
    pub clock: Arc<VirtualClock>,
    pub irq: IrqLog,
    dir: tempfile::TempDir,
    files: usize,
}

impl TestEnv {
    /// `ram` bytes of guest RAM at address 0.
    pub fn new(ram: usize) -> Self {
        let mem = GuestMemoryMmap::from_ranges(&[(GuestAddress(0), ram)]).expect("guest RAM");
        let clock = VirtualClock::new();
        let layer = BlockLayer::new(clock.clone()).expect("block layer");
        // A disk-backed directory when one is configured (O_DIRECT-capable).
        let dir = match std::env::var_os("CARGO_TARGET_TMPDIR") {
            Some(d) => tempfile::tempdir_in(d),
            None => tempfile::tempdir(),
        }
        .expect("temp dir");
        TestEnv { mem, layer, clock, irq: IrqLog::default(), dir, files: 0 }
    }

    pub fn ctx(&mut self) -> DevCtx<'_> {
        DevCtx { block: &mut self.layer, mem: &self.mem, irq: &mut self.irq, clock: &*self.clock }
    }

    /// Write `data` to a new image file and return its path.
    pub fn image(&mut self, data: &[u8]) -> std::path::PathBuf {
        self.files += 1;
        let p = self.dir.path().join(format!("img{}.raw", self.files));
        std::fs::write(&p, data).expect("image file");
        p
    }

    /// A backend named `name` with `data` as its medium (None: empty drive).
    pub fn backend(&mut self, name: &str, data: Option<&[u8]>, read_only: bool) -> BackendId {
        let id = self.layer.create_backend(name, true);
        if let Some(d) = data {
            let p = self.image(d);
            let spec = NodeSpec::raw_over_file(&p, read_only, false, false, AioMode::Auto);
            self.layer.open_medium(id, &spec).expect("open medium");
        }
        id
    }

    /// Deliver completions to `dev` until the layer has nothing in flight
    /// for any backend (or panic after 10 s: a test must never hang).
    pub fn run_io(&mut self, dev: &mut dyn BlockClient) {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let mut got = Vec::new();
            self.layer.process_completions(|id, c| got.push((id, c)));
            let idle = got.is_empty();
            for (id, c) in got {
                let mut ctx =
                    DevCtx { block: &mut self.layer, mem: &self.mem, irq: &mut self.irq, clock: &*self.clock };
                dev.complete(id, c, &mut ctx);
            }
            if idle {
                if self.layer.pending_completions() == 0 && !self.any_in_flight() {
                    return;
                }
                assert!(Instant::now() < deadline, "device I/O did not complete within 10 s");
                self.layer.wait(Duration::from_millis(50));
            }
        }
    }

    fn any_in_flight(&self) -> bool {
        (0..64).any(|i| self.layer.in_flight(BackendId(i)) > 0)
    }

    /// Advance virtual time and fire block-layer timers.
    pub fn advance(&mut self, ns: u64) {
        self.clock.advance(ns);
        self.layer.run_timers();
    }
}
