//! The ATAPI transport: PACKET command phases, PIO data in byte-count-limited
//! DRQ blocks, bus-master DMA, and sector reads through the block layer.
//! What a command means is `crate::atapi`'s business.

use ironide_block::guest::guest_iovecs;
use ironide_block::{AlignedBuf, Completion, Request};
use ironide_dev_platform::DevCtx;

use crate::atapi::{PacketOutcome, SectorFormat};
use crate::busmaster::{self, ST_ERROR};
use crate::channel::{Channel, Job, Pending};
use crate::taskfile::{BSY, DRDY, DRQ, DSC, ERR};

const CD_SECTOR: u64 = 2048;
const PACKET_SIZE: usize = 12;

/// Interrupt reason (sector count register) bits.
const REASON_COD: u32 = 1;
const REASON_IO: u32 = 2;

/// Packet commands that move data: in PIO they need a non-zero byte count
/// limit (else the ATA command aborts).
fn is_data_command(op: u8) -> bool {
    matches!(op, 0x03 | 0x12 | 0x25 | 0x28 | 0xA8 | 0x43 | 0x46 | 0x4A | 0x51 | 0x5A | 0xAD | 0xBD | 0xBE)
}

impl Channel {
    /// A0 PACKET: wait for the 12 command bytes (no interrupt).
    pub(crate) fn cmd_packet(&mut self, _ctx: &mut DevCtx) -> bool {
        let s = &mut self.slots[self.job_unit];
        // Overlapped commands are not supported.
        if s.tf.feature & 0x02 != 0 {
            self.abort();
            return true;
        }
        s.status = DRDY | DSC;
        self.atapi_dma = s.tf.feature & 1 != 0;
        s.tf.nsector = REASON_COD;
        self.transfer_start(PACKET_SIZE, true, Job::Packet);
        false
    }

    fn byte_count_limit(&self) -> u32 {
        let tf = &self.slots[self.job_unit].tf;
        ((tf.hcyl as u32) << 8) | tf.lcyl as u32
    }

    fn set_reason(&mut self, reason: u32) {
        let tf = &mut self.slots[self.job_unit].tf;
        tf.nsector = (tf.nsector & !7) | reason;
    }

    /// Report guest-caused tray moves and media-change interrupts.
    fn collect_cd_events(&mut self, ctx: &mut DevCtx) {
        let u = self.job_unit;
        let Some(cd) = self.slots[u].drive.as_mut().and_then(|d| d.cd.as_mut()) else { return };
        let moves = cd.take_tray_moves();
        let irq = cd.take_irq_request();
        self.tray_moves.extend(moves.into_iter().map(|open| (u, open)));
        if irq {
            self.raise_irq(ctx);
        }
    }

    /// The 12 packet bytes are in: run the command.
    pub(crate) fn atapi_packet(&mut self, ctx: &mut DevCtx) {
        let mut cdb = [0u8; PACKET_SIZE];
        if let Some(src) = self.pio_buf.get(..PACKET_SIZE) {
            cdb.copy_from_slice(src);
        }
        self.pio_pos = 0;
        self.pio_end = 0;
        self.job = Job::Idle;
        if !self.atapi_dma && is_data_command(cdb[0]) && self.byte_count_limit() == 0 {
            // Aborted at the ATA level, without an interrupt (as QEMU).
            self.abort();
            return;
        }
        let Some(cd) = self.slots[self.job_unit].drive.as_mut().and_then(|d| d.cd.as_mut()) else {
            self.abort();
            return;
        };
        let outcome = cd.execute(&cdb);
        self.collect_cd_events(ctx);
        self.cd.buf.clear();
        self.cd.pos = 0;
        self.cd.sectors_left = 0;
        match outcome {
            PacketOutcome::Done => self.atapi_ok(ctx),
            PacketOutcome::Error => self.atapi_error(ctx),
            PacketOutcome::DataIn(data) => {
                self.cd.remaining = data.len() as u64;
                self.cd.buf = data;
                self.atapi_start(ctx);
            }
            PacketOutcome::Read { sectors: 0, .. } => self.atapi_ok(ctx),
            PacketOutcome::Read { lba, sectors, format } => {
                self.cd.lba = lba;
                self.cd.sectors_left = sectors;
                self.cd.format = format;
                self.cd.remaining = sectors as u64 * self.cd.sector_size() as u64;
                self.atapi_start(ctx);
            }
        }
    }

    fn atapi_start(&mut self, ctx: &mut DevCtx) {
        if self.atapi_dma {
            self.slots[self.job_unit].status = DRDY | DSC | DRQ;
            self.job = Job::AtapiDma;
            self.dma_running = false;
            if self.bm.active() {
                self.atapi_dma_run(ctx);
            }
        } else {
            self.slots[self.job_unit].status = DRDY | DSC;
            self.job = Job::AtapiPio;
            self.atapi_next_block(ctx);
        }
    }

    /// Success: status 0x50, reason 3 (command done, to host), interrupt.
    pub(crate) fn atapi_ok(&mut self, ctx: &mut DevCtx) {
        self.transfer_stop();
        let s = &mut self.slots[self.job_unit];
        s.error = 0;
        s.status = DRDY | DSC;
        self.set_reason(REASON_IO | REASON_COD);
        self.raise_irq(ctx);
    }

    /// Failure: status 0x41, error = sense key << 4, reason 3, interrupt.
    pub(crate) fn atapi_error(&mut self, ctx: &mut DevCtx) {
        self.transfer_stop();
        let u = self.job_unit;
        let key = self.slots[u].drive.as_ref().and_then(|d| d.cd.as_ref()).map_or(0, |c| c.sense_key());
        let s = &mut self.slots[u];
        s.error = key << 4;
        s.status = DRDY | ERR;
        self.set_reason(REASON_IO | REASON_COD);
        self.raise_irq(ctx);
    }

    fn cd_read_error(&mut self, errno: i32, ctx: &mut DevCtx) {
        if let Some(cd) = self.slots[self.job_unit].drive.as_mut().and_then(|d| d.cd.as_mut()) {
            cd.set_read_error(errno);
        }
        self.atapi_error(ctx);
    }

    /// Submit a read of `n` sectors at the transfer's current LBA.
    fn cd_submit(&mut self, n: u32, into_guest: Option<Vec<ironide_block::IoVec>>, ctx: &mut DevCtx) -> bool {
        let Some(offset) = self.cd.lba.checked_mul(CD_SECTOR) else { return false };
        let req = match into_guest {
            Some(iov) => Request::read(offset, iov, self.tag()),
            None => Request::read_owned(offset, AlignedBuf::new(n as usize * CD_SECTOR as usize), self.tag()),
        };
        self.submit(req, ctx)
    }

    // ---- PIO ---------------------------------------------------------------

    /// Offer the host the next DRQ block, reading sectors first if needed.
    pub(crate) fn atapi_next_block(&mut self, ctx: &mut DevCtx) {
        if self.cd.remaining == 0 {
            return self.atapi_ok(ctx);
        }
        let limit = match self.byte_count_limit() {
            // 0 only reaches here for commands the transport does not know
            // to carry data: use the largest limit rather than stall.
            0 | 0xFFFF => 0xFFFE,
            l => l,
        } as u64;
        let mut size = self.cd.remaining;
        if size > limit {
            size = limit & !1;
        }
        let avail = (self.cd.buf.len() - self.cd.pos.min(self.cd.buf.len())) as u64;
        if avail < size && self.cd.sectors_left > 0 {
            let ss = self.cd.sector_size() as u64;
            let n = (size - avail).div_ceil(ss).min(self.cd.sectors_left as u64) as u32;
            self.slots[self.job_unit].status = DRDY | DSC | BSY;
            self.pending = Pending::CdPio { n };
            if !self.cd_submit(n, None, ctx) {
                self.pending = Pending::None;
                self.slots[self.job_unit].status = DRDY | DSC;
                self.cd_read_error(libc_eio(), ctx);
            }
            return;
        }
        let size = size.min(avail) as usize;
        if size == 0 {
            return self.atapi_ok(ctx);
        }
        if self.pio_buf.len() < size {
            self.pio_buf.resize(size, 0);
        }
        let start = self.cd.pos;
        match self.cd.buf.get(start..start + size) {
            Some(src) => self.pio_buf[..size].copy_from_slice(src),
            None => return self.atapi_ok(ctx),
        }
        self.cd.pos += size;
        self.cd.remaining -= size as u64;
        self.set_reason(REASON_IO);
        let tf = &mut self.slots[self.job_unit].tf;
        tf.lcyl = size as u8;
        tf.hcyl = (size >> 8) as u8;
        self.slots[self.job_unit].status = DRDY | DSC;
        self.transfer_start(size, false, Job::AtapiPio);
        self.raise_irq(ctx);
    }

    /// Append `n` sectors read into `data` to the staging buffer.
    fn stage_sectors(&mut self, n: u32, data: &[u8]) {
        self.cd.buf.drain(..self.cd.pos.min(self.cd.buf.len()));
        self.cd.pos = 0;
        let raw = self.cd.format == SectorFormat::Raw2352;
        let cdrom = self.slots[self.job_unit].drive.as_ref().and_then(|d| d.cd.as_ref());
        for (i, user) in data.chunks_exact(CD_SECTOR as usize).take(n as usize).enumerate() {
            match (raw, cdrom) {
                (true, Some(cd)) => self.cd.buf.extend_from_slice(&cd.raw_sector(self.cd.lba + i as u64, user)),
                _ => self.cd.buf.extend_from_slice(user),
            }
        }
        self.cd.lba += n as u64;
        self.cd.sectors_left = self.cd.sectors_left.saturating_sub(n);
    }

    pub(crate) fn cd_pio_done(&mut self, n: u32, c: Completion, ctx: &mut DevCtx) {
        if self.job != Job::AtapiPio {
            return;
        }
        self.slots[self.job_unit].status = DRDY | DSC;
        let buf = match (c.result, c.buf) {
            (Ok(_), Some(b)) => b,
            (Err(e), _) => return self.cd_read_error(e.errno(), ctx),
            (Ok(_), None) => return self.cd_read_error(libc_eio(), ctx),
        };
        self.stage_sectors(n, buf.as_slice());
        self.atapi_next_block(ctx);
    }

    // ---- DMA ---------------------------------------------------------------

    /// The engine runs and an ATAPI DMA transfer waits: move what the PRD
    /// table covers in one go.
    pub(crate) fn atapi_dma_run(&mut self, ctx: &mut DevCtx) {
        if self.job != Job::AtapiDma {
            return;
        }
        self.dma_running = true;
        let walk = match busmaster::walk_prds(ctx.mem, self.bm_enabled, self.bm.table, &mut self.prds) {
            Ok(w) => w,
            Err(_) => {
                self.bm.status |= ST_ERROR;
                return self.dma_error(ctx);
            }
        };
        if self.cd.sectors_left == 0 {
            // Reply data already in the buffer.
            let len = self.cd.remaining.min(walk.total) as usize;
            let start = self.cd.pos;
            let Some(data) = self.cd.buf.get(start..start + len) else { return self.dma_error(ctx) };
            if walk.memory && busmaster::scatter(ctx.mem, &self.prds, data).is_err() {
                self.bm.status |= ST_ERROR;
                return self.dma_error(ctx);
            }
            self.cd.pos += len;
            self.cd.remaining -= len as u64;
            return self.atapi_dma_end(ctx);
        }
        let ss = self.cd.sector_size() as u64;
        let n = (walk.total / ss).min(self.cd.sectors_left as u64) as u32;
        if n == 0 {
            return self.dma_short();
        }
        if !walk.memory {
            self.cd.lba += n as u64;
            self.cd.sectors_left -= n;
            self.cd.remaining = self.cd.remaining.saturating_sub(n as u64 * ss);
            return self.atapi_dma_end(ctx);
        }
        let guest = if self.cd.format == SectorFormat::User2048 {
            // Zero-copy: the sectors land straight in the PRD regions.
            let mut iov = Vec::with_capacity(self.prds.len());
            let mut left = n as u64 * CD_SECTOR;
            for p in &self.prds {
                if left == 0 {
                    break;
                }
                let take = left.min(p.len as u64);
                if guest_iovecs(ctx.mem, p.addr, take as usize, &mut iov).is_err() {
                    self.bm.status |= ST_ERROR;
                    return self.dma_error(ctx);
                }
                left -= take;
            }
            Some(iov)
        } else {
            None
        };
        self.pending = Pending::CdDma { n };
        if !self.cd_submit(n, guest, ctx) {
            self.pending = Pending::None;
            self.set_inactive(false);
            self.cd_read_error(libc_eio(), ctx);
        }
    }

    pub(crate) fn cd_dma_done(&mut self, n: u32, c: Completion, ctx: &mut DevCtx) {
        if self.job != Job::AtapiDma {
            return;
        }
        if let Err(e) = &c.result {
            self.set_inactive(false);
            self.dma_running = false;
            return self.cd_read_error(e.errno(), ctx);
        }
        let ss = self.cd.sector_size() as u64;
        if self.cd.format == SectorFormat::Raw2352 {
            let Some(buf) = c.buf else { return self.cd_read_error(libc_eio(), ctx) };
            self.cd.buf.clear();
            self.cd.pos = 0;
            self.stage_sectors(n, buf.as_slice());
            if busmaster::scatter(ctx.mem, &self.prds, &self.cd.buf).is_err() {
                self.bm.status |= ST_ERROR;
                return self.dma_error(ctx);
            }
            self.cd.buf.clear();
        } else {
            self.cd.lba += n as u64;
            self.cd.sectors_left = self.cd.sectors_left.saturating_sub(n);
        }
        self.cd.remaining = self.cd.remaining.saturating_sub(n as u64 * ss);
        self.atapi_dma_end(ctx);
    }

    /// All data moved: success; PRDs ran out first: stop without interrupt.
    fn atapi_dma_end(&mut self, ctx: &mut DevCtx) {
        if self.cd.remaining > 0 {
            return self.dma_short();
        }
        self.dma_running = false;
        self.atapi_ok(ctx);
        self.set_inactive(false);
    }
}

fn libc_eio() -> i32 {
    5
}
