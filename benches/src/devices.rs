//! `devices`: the cost of device work on the I/O path, with a null backend
//! (`null-co`, reads return zeros) so no disk time is counted: ns per 4 KiB
//! bus-master DMA read and per 512-byte PIO sector, from the command write
//! to the completion seen by the guest (status read, BM status cleared).

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ironide_block::layer::{BackendId, BlockLayer, DriverSpec, NodeSpec};
use ironide_block::RealClock;
use ironide_dev_ide::{Ide, IdeDriveConfig};
use ironide_dev_platform::{BlockClient, DevCtx, IrqLog, PioDevice};
use serde_json::json;
use vm_memory::{Bytes, GuestAddress, GuestMemoryMmap};

use crate::harness::{round, Opts, Report};

const BM: u16 = 0xC000;
const PRDT: u64 = 0x1000;
const BUF: u64 = 0x10000;

struct Rig {
    mem: GuestMemoryMmap,
    layer: BlockLayer,
    irq: IrqLog,
    ide: Ide,
    clock: Arc<RealClock>,
}

impl Rig {
    fn new() -> std::io::Result<Self> {
        let mem = GuestMemoryMmap::from_ranges(&[(GuestAddress(0), 16 << 20)]).map_err(std::io::Error::other)?;
        let clock = Arc::new(RealClock::new());
        let mut layer = BlockLayer::new(clock.clone())?;
        let be = layer.create_backend("null0", true);
        let spec = NodeSpec {
            node_name: Some("null".into()),
            read_only: false,
            direct: false,
            no_flush: false,
            driver: DriverSpec::Null { size: 1 << 30, read_zeroes: true },
        };
        layer.add_node(&spec, true).map_err(|e| std::io::Error::other(e.to_string()))?;
        layer.insert_medium(be, "null").map_err(|e| std::io::Error::other(e.to_string()))?;
        let mut ide = Ide::new();
        ide.attach(0, 0, IdeDriveConfig::disk(be, 16383, 16, 63)).map_err(|e| std::io::Error::other(e.to_string()))?;
        // PCI: I/O + bus master on, BAR4 at 0xC000.
        ide.config_write(0x20, &(BM as u32 | 1).to_le_bytes());
        ide.config_write(0x04, &0x0005u16.to_le_bytes());
        let rig = Rig { mem, layer, irq: IrqLog::default(), ide, clock };
        // One PRD: 4 KiB at BUF, end of table.
        rig.mem.write_obj(BUF as u32, GuestAddress(PRDT)).map_err(std::io::Error::other)?;
        rig.mem.write_obj(4096u32 | 0x8000_0000, GuestAddress(PRDT + 4)).map_err(std::io::Error::other)?;
        Ok(rig)
    }

    fn out(&mut self, port: u16, data: &[u8]) {
        let mut ctx = DevCtx { block: &mut self.layer, mem: &self.mem, irq: &mut self.irq, clock: &*self.clock };
        self.ide.pio_write(port, data, &mut ctx);
    }

    fn inp(&mut self, port: u16, data: &mut [u8]) {
        let mut ctx = DevCtx { block: &mut self.layer, mem: &self.mem, irq: &mut self.irq, clock: &*self.clock };
        self.ide.pio_read(port, data, &mut ctx);
    }

    fn inb(&mut self, port: u16) -> u8 {
        let mut b = [0u8];
        self.inp(port, &mut b);
        b[0]
    }

    /// Deliver completions until the device has nothing pending.
    fn complete(&mut self) {
        while self.ide.io_pending() || self.layer.pending_completions() > 0 {
            self.layer.wait(Duration::from_secs(1));
            let mut got: Vec<(BackendId, ironide_block::Completion)> = Vec::new();
            self.layer.process_completions(|id, c| got.push((id, c)));
            for (id, c) in got {
                let mut ctx =
                    DevCtx { block: &mut self.layer, mem: &self.mem, irq: &mut self.irq, clock: &*self.clock };
                self.ide.complete(id, c, &mut ctx);
            }
        }
    }

    fn task(&mut self, lba: u32, count: u8, cmd: u8) {
        self.out(0x1F6, &[0xE0 | ((lba >> 24) as u8 & 0x0F)]);
        self.out(0x1F2, &[count]);
        self.out(0x1F3, &[lba as u8]);
        self.out(0x1F4, &[(lba >> 8) as u8]);
        self.out(0x1F5, &[(lba >> 16) as u8]);
        self.out(0x1F7, &[cmd]);
    }

    /// One READ DMA of 8 sectors, as a driver does it.
    fn dma_read(&mut self, lba: u32) -> u8 {
        self.out(BM + 4, &(PRDT as u32).to_le_bytes());
        self.task(lba, 8, 0xC8);
        self.out(BM, &[0x09]);
        self.complete();
        let st = self.inb(0x1F7);
        let bm = self.inb(BM + 2);
        self.out(BM + 2, &[bm]);
        self.out(BM, &[0x00]);
        st
    }

    /// One READ SECTORS of one sector, data fetched in one 512-byte string access.
    fn pio_read(&mut self, lba: u32, buf: &mut [u8; 512]) -> u8 {
        self.task(lba, 1, 0x20);
        self.complete();
        self.inp(0x1F0, buf);
        self.inb(0x1F7)
    }
}

pub fn run(opts: &Opts) -> std::io::Result<()> {
    let n: u32 = if opts.quick { 200_000 } else { 2_000_000 };
    let mut rig = Rig::new()?;
    let mut report = Report::new("devices", &["path", "operations", "ns/op", "ops/s"]);
    // Warm up and check the status is right before timing.
    let st = rig.dma_read(0);
    if st & 0x89 != 0 {
        return Err(std::io::Error::other(format!("DMA read failed in the benchmark: status {st:#x}")));
    }
    let t = Instant::now();
    for i in 0..n {
        black_box(rig.dma_read((i * 8) % (1 << 20)));
    }
    let dma_ns = t.elapsed().as_nanos() as f64 / n as f64;
    let mut buf = [0u8; 512];
    let t = Instant::now();
    for i in 0..n {
        black_box(rig.pio_read(i % (1 << 20), &mut buf));
    }
    let pio_ns = t.elapsed().as_nanos() as f64 / n as f64;
    for (name, ns) in [("4 KiB bus-master DMA read", dma_ns), ("512-byte PIO sector read", pio_ns)] {
        report.row(
            vec![name.to_string(), n.to_string(), format!("{ns:.0}"), format!("{:.0}", 1e9 / ns)],
            json!({"path": name, "ops": n, "ns_per_op": round(ns, 1)}),
        );
    }
    report.summary("ns_per_4k_dma", round(dma_ns, 1));
    report.summary("ns_per_pio_sector", round(pio_ns, 1));
    report.note("null-co backend (read-zeroes): device + block layer work only; includes the layer's eventfd round trip per request");
    report.finish(opts)?;
    Ok(())
}
