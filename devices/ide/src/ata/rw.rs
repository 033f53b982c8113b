//! Sector transfers: PIO reads and writes (per DRQ block), bus-master DMA
//! (one zero-copy block request per command), TRIM and FLUSH CACHE.

use ironide_block::guest::guest_iovecs;
use ironide_block::{AlignedBuf, Completion, Request};
use ironide_dev_platform::DevCtx;

use crate::busmaster::{self, ST_ACTIVE, ST_ERROR};
use crate::channel::{Channel, DmaOp, Job, Pending};
use crate::taskfile::{BSY, DRDY, DRQ, DSC};

const SECTOR: u64 = 512;

impl Channel {
    pub(crate) fn total_sectors(&self, ctx: &DevCtx) -> u64 {
        self.drive().and_then(|d| d.backend).map_or(0, |b| ctx.block.size(b) / SECTOR)
    }

    fn geometry(&self) -> (u32, u32) {
        self.drive().map_or((0, 0), |d| (d.cur_heads, d.cur_secs))
    }

    pub(crate) fn sector_num(&self) -> Option<u64> {
        let (h, s) = self.geometry();
        self.slots[self.job_unit].tf.sector_num(h, s)
    }

    pub(crate) fn set_sector(&mut self, n: u64) {
        let (h, s) = self.geometry();
        self.slots[self.job_unit].tf.set_sector_num(n, h, s);
    }

    /// The addressed range `[lba, lba + n)` if it lies on the medium.
    fn checked_range(&self, n: u32, ctx: &DevCtx) -> Option<u64> {
        let lba = self.sector_num()?;
        let total = self.total_sectors(ctx);
        (lba <= total && n as u64 <= total - lba).then_some(lba)
    }

    /// End a PIO command with ERR/ABRT and an interrupt.
    fn rw_error(&mut self, ctx: &mut DevCtx) {
        self.abort();
        self.raise_irq(ctx);
    }

    // ---- PIO ---------------------------------------------------------------

    pub(crate) fn cmd_read_pio(&mut self, lba48: bool, per_block: u32, ctx: &mut DevCtx) -> bool {
        if self.slots[self.job_unit].is_cd() || !self.has_backend() || per_block == 0 {
            self.abort();
            return true;
        }
        self.slots[self.job_unit].tf.lba48_transform(lba48);
        // The whole request must lie on the medium: otherwise no DRQ at all.
        if self.checked_range(self.slots[self.job_unit].tf.nsector, ctx).is_none() {
            self.abort();
            return true;
        }
        self.job = Job::SectorRead { per_block };
        self.sector_read(per_block, ctx);
        false
    }

    /// Fetch the next DRQ block of a PIO read, or stop after the last.
    pub(crate) fn sector_read(&mut self, per_block: u32, ctx: &mut DevCtx) {
        let s = &mut self.slots[self.job_unit];
        s.status = DRDY | DSC;
        s.error = 0;
        let left = s.tf.nsector;
        if left == 0 {
            self.transfer_stop();
            return;
        }
        s.status |= BSY;
        let n = left.min(per_block);
        let Some(lba) = self.checked_range(n, ctx) else {
            self.rw_error(ctx);
            return;
        };
        self.job = Job::SectorRead { per_block };
        let req = Request::read_owned(lba * SECTOR, AlignedBuf::new(n as usize * 512), self.tag());
        self.submit_pio(req, Pending::SectorRead { lba, n }, ctx);
    }

    pub(crate) fn sector_read_done(&mut self, lba: u64, n: u32, c: Completion, ctx: &mut DevCtx) {
        self.slots[self.job_unit].status &= !BSY;
        let per_block = match self.job {
            Job::SectorRead { per_block } => per_block,
            _ => return,
        };
        let len = n as usize * 512;
        let data = match (&c.result, &c.buf) {
            (Ok(_), Some(b)) if b.len() >= len => b,
            _ => return self.rw_error(ctx),
        };
        if self.pio_buf.len() < len {
            self.pio_buf.resize(len, 0);
        }
        self.pio_buf[..len].copy_from_slice(&data.as_slice()[..len]);
        self.set_sector(lba + n as u64);
        let tf = &mut self.slots[self.job_unit].tf;
        tf.nsector = tf.nsector.saturating_sub(n);
        self.transfer_start(len, false, Job::SectorRead { per_block });
        self.raise_irq(ctx);
    }

    pub(crate) fn cmd_write_pio(&mut self, lba48: bool, per_block: u32, ctx: &mut DevCtx) -> bool {
        if !self.has_backend() || per_block == 0 {
            self.abort();
            return true;
        }
        self.slots[self.job_unit].tf.lba48_transform(lba48);
        if self.checked_range(self.slots[self.job_unit].tf.nsector, ctx).is_none() {
            self.abort();
            return true;
        }
        let s = &mut self.slots[self.job_unit];
        s.status = DSC | DRDY;
        let n = s.tf.nsector.min(per_block);
        self.transfer_start(n as usize * 512, true, Job::SectorWrite { per_block });
        false
    }

    /// The host filled a DRQ block of a PIO write: write it out.
    pub(crate) fn sector_write(&mut self, per_block: u32, ctx: &mut DevCtx) {
        let s = &mut self.slots[self.job_unit];
        s.status = DRDY | DSC | BSY;
        let n = s.tf.nsector.min(per_block);
        let Some(lba) = self.checked_range(n, ctx) else {
            self.rw_error(ctx);
            return;
        };
        let len = n as usize * 512;
        let Some(data) = self.pio_buf.get(..len) else {
            self.rw_error(ctx);
            return;
        };
        self.job = Job::SectorWrite { per_block };
        let req = Request::write_owned(lba * SECTOR, AlignedBuf::from_slice(data), self.tag());
        self.submit_pio(req, Pending::SectorWrite { lba, n }, ctx);
    }

    /// Submit a PIO sector request; a refused submission is a device error.
    fn submit_pio(&mut self, req: Request, pending: Pending, ctx: &mut DevCtx) {
        self.pending = pending;
        if !self.submit(req, ctx) {
            self.pending = Pending::None;
            self.rw_error(ctx);
        }
    }

    pub(crate) fn sector_write_done(&mut self, lba: u64, n: u32, c: Completion, ctx: &mut DevCtx) {
        self.slots[self.job_unit].status &= !BSY;
        let per_block = match self.job {
            Job::SectorWrite { per_block } => per_block,
            _ => return,
        };
        if c.result.is_err() {
            return self.rw_error(ctx);
        }
        self.set_sector(lba + n as u64);
        let tf = &mut self.slots[self.job_unit].tf;
        tf.nsector = tf.nsector.saturating_sub(n);
        let left = tf.nsector;
        if left == 0 {
            self.transfer_stop();
        } else {
            self.transfer_start(left.min(per_block) as usize * 512, true, Job::SectorWrite { per_block });
        }
        self.raise_irq(ctx);
    }

    // ---- DMA ---------------------------------------------------------------

    pub(crate) fn cmd_rw_dma(&mut self, op: DmaOp, lba48: bool, ctx: &mut DevCtx) -> bool {
        if !self.has_backend() {
            self.abort();
            return true;
        }
        self.slots[self.job_unit].tf.lba48_transform(lba48);
        self.cmd_dma(op, ctx)
    }

    /// Wait for the engine (or go now if it is already running).
    pub(crate) fn cmd_dma(&mut self, op: DmaOp, ctx: &mut DevCtx) -> bool {
        self.slots[self.job_unit].status = DRDY | DSC | DRQ;
        self.job = Job::Dma(op);
        self.dma_running = false;
        if self.bm.active() {
            self.dma_run(ctx);
        }
        false
    }

    /// Keep ACTIVE set after a transfer only if the PRDs were longer than
    /// needed and the engine was not stopped meanwhile.
    pub(crate) fn set_inactive(&mut self, more: bool) {
        if more && self.bm.started() {
            self.bm.status |= ST_ACTIVE;
        } else {
            self.bm.status &= !ST_ACTIVE;
        }
    }

    pub(crate) fn dma_error(&mut self, ctx: &mut DevCtx) {
        self.abort();
        self.dma_running = false;
        self.set_inactive(false);
        self.raise_irq(ctx);
    }

    fn dma_mem_error(&mut self, ctx: &mut DevCtx) {
        self.bm.status |= ST_ERROR;
        self.dma_error(ctx);
    }

    /// PRDs shorter than the transfer: nothing moves, no interrupt.
    pub(crate) fn dma_short(&mut self) {
        self.dma_running = false;
        self.job = Job::Idle;
        self.set_inactive(false);
    }

    pub(crate) fn dma_finish(&mut self, lba: u64, n: u32, stay: bool, ctx: &mut DevCtx) {
        self.set_sector(lba + n as u64);
        let s = &mut self.slots[self.job_unit];
        s.tf.nsector = s.tf.nsector.saturating_sub(n);
        s.status = DRDY | DSC;
        self.job = Job::Idle;
        self.dma_running = false;
        self.raise_irq(ctx);
        self.set_inactive(stay);
    }

    /// The engine is running and an ATA DMA command waits: walk the PRDs
    /// and submit the transfer.
    pub(crate) fn dma_run(&mut self, ctx: &mut DevCtx) {
        let Job::Dma(op) = self.job else { return };
        self.dma_running = true;
        let n = self.slots[self.job_unit].tf.nsector;
        let need = n as u64 * SECTOR;
        let walk = match busmaster::walk_prds(ctx.mem, self.bm_enabled, self.bm.table, &mut self.prds) {
            Ok(w) => w,
            Err(_) => return self.dma_mem_error(ctx),
        };
        let Some(lba) = self.sector_num() else { return self.dma_error(ctx) };
        if n == 0 {
            return self.dma_finish(lba, 0, false, ctx);
        }
        if walk.total < need {
            self.slots[self.job_unit].status = DRDY | DSC;
            return self.dma_short();
        }
        let stay = walk.total > need;
        if op != DmaOp::Trim && self.checked_range(n, ctx).is_none() {
            return self.dma_error(ctx);
        }
        if !walk.memory {
            // Bus mastering off: the transfer "happens" without touching memory.
            return self.dma_finish(lba, n, stay, ctx);
        }
        match op {
            DmaOp::Read | DmaOp::Write => {
                let mut iov = Vec::with_capacity(self.prds.len());
                let mut left = need;
                for p in &self.prds {
                    if left == 0 {
                        break;
                    }
                    let take = left.min(p.len as u64);
                    if guest_iovecs(ctx.mem, p.addr, take as usize, &mut iov).is_err() {
                        return self.dma_mem_error(ctx);
                    }
                    left -= take;
                }
                let req = if op == DmaOp::Read {
                    Request::read(lba * SECTOR, iov, self.tag())
                } else {
                    Request::write(lba * SECTOR, iov, self.tag())
                };
                self.pending = Pending::Dma { lba, n, stay };
                if !self.submit(req, ctx) {
                    self.pending = Pending::None;
                    self.dma_error(ctx);
                }
            }
            DmaOp::Trim => self.trim(lba, n, stay, need, ctx),
        }
    }

    /// DATA SET MANAGEMENT / TRIM: the DMA payload is a list of LE64
    /// entries `lba | count << 48`; empty entries are skipped.
    fn trim(&mut self, lba: u64, n: u32, stay: bool, need: u64, ctx: &mut DevCtx) {
        let mut list = std::mem::take(&mut self.scratch);
        if busmaster::gather(ctx.mem, &self.prds, need as usize, &mut list).is_err() {
            self.scratch = list;
            return self.dma_mem_error(ctx);
        }
        let total = self.total_sectors(ctx);
        let mut ranges = Vec::new();
        let mut bad = false;
        for e in list.chunks_exact(8) {
            let mut raw = [0u8; 8];
            raw.copy_from_slice(e);
            let v = u64::from_le_bytes(raw);
            let (start, count) = (v & ((1 << 48) - 1), v >> 48);
            if count == 0 {
                continue;
            }
            if start > total || count > total - start {
                bad = true;
                break;
            }
            ranges.push((start, count));
        }
        self.scratch = list;
        if bad {
            return self.dma_error(ctx);
        }
        if ranges.is_empty() {
            return self.dma_finish(lba, n, stay, ctx);
        }
        self.pending = Pending::Trim { lba, n, stay, failed: false };
        for (start, count) in ranges {
            let req = Request::discard(start * SECTOR, count * SECTOR, self.tag());
            if !self.submit(req, ctx) {
                self.pending = Pending::None;
                self.outstanding = 0;
                return self.dma_error(ctx);
            }
        }
    }

    // ---- FLUSH -------------------------------------------------------------

    /// Flush the backend; true if there is nothing to flush (done at once).
    pub(crate) fn start_flush(&mut self, ctx: &mut DevCtx) -> bool {
        let Some(be) = self.drive().and_then(|d| d.backend) else { return true };
        if !ctx.block.has_medium(be) {
            return true;
        }
        self.slots[self.job_unit].status |= BSY;
        self.job = Job::Flush;
        self.pending = Pending::Flush;
        if !self.submit(Request::flush(self.tag()), ctx) {
            self.pending = Pending::None;
            return true;
        }
        false
    }

    pub(crate) fn flush_done(&mut self, c: Completion, ctx: &mut DevCtx) {
        if c.result.is_err() {
            return self.rw_error(ctx);
        }
        self.slots[self.job_unit].status = DRDY | DSC;
        self.job = Job::Idle;
        self.raise_irq(ctx);
    }
}
