//! The execution phase of data commands: READ/WRITE/VERIFY/SCAN/READ
//! TRACK and FORMAT TRACK, through DMA channel 2 or the FIFO (non-DMA).
//!
//! Sector data moves one 512-byte sector at a time through the controller's
//! sector buffer; every sector is one asynchronous block request, and the
//! state machine continues in [`Fdc::complete`]. No virtual time is involved.

use ironide_block::layer::BackendId;
use ironide_block::{AlignedBuf, BlockError, Completion, Request};
use ironide_dev_isa_dma::IsaDma;
use ironide_dev_platform::DevCtx;

use crate::command::XferKind;
use crate::controller::Fdc;
use crate::drive::Seek;
use crate::regs::*;

/// What the running command does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    Data(XferKind),
    /// FORMAT TRACK: 4 ID bytes per sector in, `fill` written to each sector.
    Format {
        fill: u8,
    },
}

/// The block request the transfer waits for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Io {
    Idle,
    /// Loading the sector under the head into the buffer.
    Reading,
    /// Writing the buffer; then advance by `moved` bytes (`tc`: DMA hit terminal count).
    Writing {
        moved: u32,
        tc: bool,
    },
}

#[derive(Clone, Debug)]
pub(crate) struct Xfer {
    pub kind: Kind,
    pub dma: bool,
    /// Bytes the command covers.
    pub len: u32,
    /// Bytes done.
    pub pos: u32,
    /// The sector buffer holds the sector under the head.
    pub buf_valid: bool,
    pub io: Io,
    /// FORMAT: ID bytes collected for the current sector.
    pub id: [u8; 4],
}

impl Xfer {
    /// A transfer of `len` bytes about to start: nothing done, no I/O.
    fn new(kind: Kind, dma: bool, len: u32) -> Self {
        Xfer { kind, dma, len, pos: 0, buf_valid: false, io: Io::Idle, id: [0; 4] }
    }

    pub fn io_busy(&self) -> bool {
        self.io != Io::Idle
    }
}

impl Fdc {
    pub(crate) fn start_transfer(&mut self, kind: XferKind, dma: &mut IsaDma, ctx: &mut DevCtx) {
        self.cur_drv = usize::from(self.cmd[1] & 1);
        let (kt, kh, ks) = (self.cmd[2], self.cmd[3], self.cmd[4]);
        let fail = |f: &mut Fdc, st1: u8, dma: &mut IsaDma, ctx: &mut DevCtx| {
            f.stop_transfer(ST0_ABNTERM, st1, 0, dma, ctx);
            f.result[3] = kt;
            f.result[4] = kh;
            f.result[5] = ks;
        };
        match self.cur_mut().seek(kh, kt, ks) {
            Seek::NoTrack => return fail(self, 0, dma, ctx),
            Seek::NoSector => return fail(self, ST1_EC, dma, ctx),
            Seek::Moved => self.status0 |= ST0_SEEK,
            Seek::Same | Seek::Repositioned => {}
        }
        // No medium, or a data rate the medium was not written at: no
        // address mark is ever found.
        if !self.cur().has_medium || (self.dsr & DSR_RATE) != self.cur().media_rate as u8 {
            return fail(self, ST1_MA, dma, ctx);
        }
        self.multi_track = self.cmd[0] & 0x80 != 0;
        let len = if self.cmd[5] == 0 {
            u32::from(self.cmd[8])
        } else {
            let per = 128u32 << self.cmd[5].min(7);
            let Some(mut n) = u32::from(self.cmd[6]).checked_sub(u32::from(ks)).map(|n| n + 1) else {
                return fail(self, ST1_MA, dma, ctx);
            };
            if self.multi_track {
                n += u32::from(self.cmd[6]);
            }
            per * n
        };
        self.eot = self.cmd[6];
        if len == 0 {
            return self.stop_transfer(0, 0, 0, dma, ctx);
        }
        let use_dma = self.dor & DOR_DMAEN != 0;
        self.xfer = Some(Xfer::new(Kind::Data(kind), use_dma, len));
        if use_dma {
            self.msr &= !MSR_RQM;
            if kind == XferKind::Verify {
                // Nothing to move: walk the sectors as the transfer would.
                self.verify_walk(dma, ctx);
            } else {
                dma.set_dreq(self.dma_channel, true);
                self.pump_dma(dma, ctx);
            }
        } else {
            self.msr |= MSR_NONDMA;
            self.msr &= !MSR_RQM;
            if kind == XferKind::Write {
                self.msr |= MSR_RQM;
            } else {
                self.msr |= MSR_DIO;
                self.submit_read(ctx);
            }
            // The 82078 interrupts during non-DMA execution.
            self.raise_irq(ctx);
        }
    }

    pub(crate) fn start_format(&mut self, dma: &mut IsaDma, ctx: &mut DevCtx) {
        self.cur_drv = usize::from(self.cmd[1] & 1);
        self.multi_track = self.cmd[0] & 0x80 != 0;
        let (sc, fill) = (self.cmd[3], self.cmd[5]);
        let d = self.cur();
        if !d.has_medium || (self.dsr & DSR_RATE) != d.media_rate as u8 {
            return self.stop_transfer(ST0_ABNTERM, ST1_MA, 0, dma, ctx);
        }
        if d.read_only {
            return self.stop_transfer(ST0_ABNTERM, ST1_NW, 0, dma, ctx);
        }
        if sc == 0 {
            return self.stop_transfer(0, 0, 0, dma, ctx);
        }
        let use_dma = self.dor & DOR_DMAEN != 0;
        let len = 4 * u32::from(sc);
        self.xfer = Some(Xfer::new(Kind::Format { fill }, use_dma, len));
        if use_dma {
            self.msr &= !MSR_RQM;
            dma.set_dreq(self.dma_channel, true);
            self.pump_dma(dma, ctx);
        } else {
            self.msr |= MSR_NONDMA | MSR_RQM;
            self.msr &= !MSR_DIO;
            self.raise_irq(ctx);
        }
    }

    /// Drop the running transfer (reset, or its end): stale completions are ignored.
    pub(crate) fn abort_xfer(&mut self, dma: &mut IsaDma) {
        if let Some(x) = self.xfer.take() {
            if x.dma {
                dma.set_dreq(self.dma_channel, false);
            }
            self.io_tag = self.io_tag.wrapping_add(1);
        }
    }

    fn finish(&mut self, dma: &mut IsaDma, ctx: &mut DevCtx) {
        let st2 = match self.xfer.as_ref().map(|x| x.kind) {
            Some(Kind::Data(k)) if k.is_scan() => ST2_SEH,
            _ => 0,
        };
        self.stop_transfer(0, 0, st2, dma, ctx);
    }

    /// Move the head to the sector after the current one (multi-track:
    /// head 1, then the next cylinder). False when the transfer must end.
    pub(crate) fn seek_to_next_sect(&mut self) -> bool {
        let (eot, mt) = (self.eot, self.multi_track);
        let d = &mut self.drives[self.cur_drv & 1];
        let (mut head, mut track, mut sect) = (d.head, d.track, d.sect);
        let mut more = true;
        if sect >= d.last_sect || sect == eot {
            sect = 1;
            if mt {
                if head == 0 && d.double_sided {
                    head = 1;
                } else {
                    head = 0;
                    track = track.wrapping_add(1);
                    self.status0 |= ST0_SEEK;
                    more = d.double_sided;
                }
            } else {
                self.status0 |= ST0_SEEK;
                track = track.wrapping_add(1);
                more = false;
            }
        } else {
            sect += 1;
        }
        d.seek(head, track, sect);
        more
    }

    /// Advance after `moved` bytes of the current sector went through.
    fn advance(&mut self, moved: u32, tc: bool, dma: &mut IsaDma, ctx: &mut DevCtx) -> bool {
        let Some(x) = self.xfer.as_mut() else { return false };
        x.pos = x.pos.saturating_add(moved);
        let (pos, len) = (x.pos, x.len);
        if pos % SECTOR as u32 == 0 {
            x.buf_valid = false;
            if !self.seek_to_next_sect() {
                self.finish(dma, ctx);
                return false;
            }
        }
        if tc || pos >= len {
            self.finish(dma, ctx);
            return false;
        }
        true
    }

    fn verify_walk(&mut self, dma: &mut IsaDma, ctx: &mut DevCtx) {
        while let Some(x) = self.xfer.as_ref() {
            let rel = x.pos % SECTOR as u32;
            let n = (SECTOR as u32 - rel).min(x.len.saturating_sub(x.pos));
            if !self.advance(n, false, dma, ctx) {
                return;
            }
        }
    }

    /// Run the DMA side of the transfer as far as it goes without waiting
    /// for the block layer. Called whenever something it waits for changes
    /// (command start, completion, DOR, DMA controller programming).
    pub fn pump_dma(&mut self, dma: &mut IsaDma, ctx: &mut DevCtx) {
        loop {
            let Some(x) = self.xfer.as_ref() else { return };
            if !x.dma || x.io != Io::Idle || self.dor & DOR_DMAEN == 0 || !dma.is_ready(self.dma_channel) {
                return;
            }
            let ch = self.dma_channel;
            let rel = (x.pos % SECTOR as u32) as usize;
            let want = (SECTOR - rel).min(x.len.saturating_sub(x.pos) as usize);
            let (kind, buf_valid) = (x.kind, x.buf_valid);
            match kind {
                Kind::Format { fill } => {
                    let have = (x.pos % 4) as usize;
                    let mut id = x.id;
                    let t = dma.read_from_memory(ch, ctx.mem, &mut id[have..]);
                    if t.bytes == 0 {
                        return;
                    }
                    if let Some(x) = self.xfer.as_mut() {
                        x.id = id;
                        x.pos += t.bytes as u32;
                    }
                    if !self.format_id_done(fill, t.terminal_count, dma, ctx) {
                        return;
                    }
                }
                Kind::Data(XferKind::Write) => {
                    if self.cur().read_only {
                        return self.stop_transfer(ST0_ABNTERM | ST0_SEEK, ST1_NW, 0, dma, ctx);
                    }
                    if (want < SECTOR || rel != 0) && !buf_valid {
                        return self.submit_read(ctx);
                    }
                    let Some(chunk) = self.sector.get_mut(rel..rel + want) else { return };
                    let t = dma.read_from_memory(ch, ctx.mem, chunk);
                    if t.bytes == 0 {
                        return;
                    }
                    return self.submit_write(t.bytes as u32, t.terminal_count, ctx);
                }
                Kind::Data(k) => {
                    if !buf_valid {
                        return self.submit_read(ctx);
                    }
                    let Some(chunk) = self.sector.get(rel..rel + want) else { return };
                    if k.is_scan() {
                        let mut mem = [0u8; SECTOR];
                        let t = dma.read_from_memory(ch, ctx.mem, &mut mem[..want]);
                        if t.bytes == 0 {
                            return;
                        }
                        let ord = mem[..t.bytes].cmp(&chunk[..t.bytes]);
                        let hit = ord.is_eq()
                            || (ord.is_lt() && k == XferKind::ScanLowOrEqual)
                            || (ord.is_gt() && k == XferKind::ScanHighOrEqual);
                        if hit {
                            if let Some(x) = self.xfer.as_mut() {
                                x.pos += t.bytes as u32;
                            }
                            return self.finish(dma, ctx);
                        }
                        if !self.advance(t.bytes as u32, t.terminal_count, dma, ctx) {
                            return;
                        }
                    } else {
                        let t = dma.write_to_memory(ch, ctx.mem, chunk);
                        if t.bytes == 0 {
                            return;
                        }
                        if !self.advance(t.bytes as u32, t.terminal_count, dma, ctx) {
                            return;
                        }
                    }
                }
            }
        }
    }

    /// FORMAT: after ID bytes arrived. Writes the sector when all 4 are in.
    /// Returns whether the caller may keep going at once.
    fn format_id_done(&mut self, fill: u8, tc: bool, dma: &mut IsaDma, ctx: &mut DevCtx) -> bool {
        let Some(x) = self.xfer.as_ref() else { return false };
        let (pos, len, id) = (x.pos, x.len, x.id);
        if pos % 4 != 0 {
            if tc {
                self.finish(dma, ctx);
            }
            return !tc;
        }
        let [c, h, r, _n] = id;
        let d = self.cur();
        // Only sectors that exist on the medium's geometry are written.
        if c < d.max_track && u32::from(h) < d.heads() && r >= 1 && r <= d.last_sect {
            let lba = d.lba_of(h, c, r);
            self.sector.fill(fill);
            self.submit_write_at(lba, 0, tc, ctx);
            return false;
        }
        if tc || pos >= len {
            self.finish(dma, ctx);
            return false;
        }
        true
    }

    /// Non-DMA execution: the host reads one byte from the FIFO.
    pub(crate) fn pio_read_byte(&mut self, dma: &mut IsaDma, ctx: &mut DevCtx) -> u8 {
        let Some(x) = self.xfer.as_mut() else { return 0 };
        if x.dma || x.io != Io::Idle || !x.buf_valid || matches!(x.kind, Kind::Format { .. }) {
            return 0;
        }
        let v = self.sector.get((x.pos % SECTOR as u32) as usize).copied().unwrap_or(0);
        x.pos += 1;
        let (pos, len) = (x.pos, x.len);
        if pos >= len {
            self.msr &= !MSR_RQM;
            self.stop_transfer(0, 0, 0, dma, ctx);
        } else if pos % SECTOR as u32 == 0 {
            if let Some(x) = self.xfer.as_mut() {
                x.buf_valid = false;
            }
            if self.seek_to_next_sect() {
                self.submit_read(ctx);
            } else {
                self.stop_transfer(0, 0, 0, dma, ctx);
            }
        }
        v
    }

    /// Non-DMA execution: the host writes one byte to the FIFO.
    pub(crate) fn pio_write_byte(&mut self, v: u8, dma: &mut IsaDma, ctx: &mut DevCtx) {
        let Some(x) = self.xfer.as_mut() else { return };
        if x.dma || x.io != Io::Idle {
            return;
        }
        match x.kind {
            Kind::Format { fill } => {
                if let Some(b) = x.id.get_mut((x.pos % 4) as usize) {
                    *b = v;
                }
                x.pos += 1;
                if self.format_id_done(fill, false, dma, ctx) {
                    // Skipped an impossible sector; more ID bytes wanted.
                    self.msr |= MSR_RQM;
                }
            }
            Kind::Data(XferKind::Write) => {
                if let Some(b) = self.sector.get_mut((x.pos % SECTOR as u32) as usize) {
                    *b = v;
                }
                x.pos += 1;
                if x.pos % SECTOR as u32 == 0 || x.pos >= x.len {
                    if self.cur().read_only {
                        return self.stop_transfer(ST0_ABNTERM | ST0_SEEK, ST1_NW, 0, dma, ctx);
                    }
                    self.submit_write(0, false, ctx);
                }
            }
            Kind::Data(_) => {}
        }
    }

    fn submit_read(&mut self, ctx: &mut DevCtx) {
        let lba = self.cur().lba();
        self.submit(Io::Reading, lba, ctx);
    }

    /// Write the sector buffer to the sector under the head.
    fn submit_write(&mut self, moved: u32, tc: bool, ctx: &mut DevCtx) {
        let lba = self.cur().lba();
        self.submit_write_at(lba, moved, tc, ctx);
    }

    fn submit_write_at(&mut self, lba: u64, moved: u32, tc: bool, ctx: &mut DevCtx) {
        self.submit(Io::Writing { moved, tc }, lba, ctx);
    }

    fn submit(&mut self, io: Io, lba: u64, ctx: &mut DevCtx) {
        let Some(x) = self.xfer.as_mut() else { return };
        x.io = io;
        // The host sees no request for service while the drive is busy.
        self.msr &= !MSR_RQM;
        self.io_tag = self.io_tag.wrapping_add(1);
        let tag = self.io_tag;
        let offset = lba.saturating_mul(SECTOR as u64);
        let backend = self.cur().backend;
        // QEMU's floppy controller does no block accounting: its drives show
        // zero operations in query-blockstats whatever the guest reads.
        let req = match io {
            Io::Writing { .. } => Request::write_owned(offset, AlignedBuf::from_slice(&self.sector), tag),
            _ => Request::read_owned(offset, AlignedBuf::new(SECTOR), tag),
        }
        .unaccounted();
        match backend {
            Some(b) => ctx.block.submit(b, req),
            // Cannot happen (no medium ends the command first); stay safe.
            None => self.xfer = None,
        }
    }

    /// A block request finished.
    pub fn complete(&mut self, _backend: BackendId, c: Completion, dma: &mut IsaDma, ctx: &mut DevCtx) {
        if c.tag != self.io_tag {
            return;
        }
        let Some(x) = self.xfer.as_mut() else { return };
        let io = std::mem::replace(&mut x.io, Io::Idle);
        let (use_dma, kind, pos, len) = (x.dma, x.kind, x.pos, x.len);
        match io {
            Io::Idle => {}
            Io::Reading => {
                // A sector the image does not have reads as zeros.
                match (&c.result, &c.buf) {
                    (Ok(_), Some(b)) if b.len() == SECTOR => self.sector.copy_from_slice(b.as_slice()),
                    _ => self.sector.fill(0),
                }
                if let Some(x) = self.xfer.as_mut() {
                    x.buf_valid = true;
                }
                if use_dma {
                    self.pump_dma(dma, ctx);
                } else {
                    self.msr |= MSR_RQM;
                }
            }
            Io::Writing { moved, tc } => {
                if let Err(e) = c.result {
                    let st1 = if e == BlockError::ReadOnly { ST1_NW } else { 0 };
                    return self.stop_transfer(ST0_ABNTERM | ST0_SEEK, st1, 0, dma, ctx);
                }
                match kind {
                    Kind::Format { .. } => {
                        if tc || pos >= len {
                            return self.finish(dma, ctx);
                        }
                        if use_dma {
                            self.pump_dma(dma, ctx);
                        } else {
                            self.msr |= MSR_RQM;
                        }
                    }
                    Kind::Data(_) if use_dma => {
                        if self.advance(moved, tc, dma, ctx) {
                            self.pump_dma(dma, ctx);
                        }
                    }
                    Kind::Data(_) => {
                        let more = self.seek_to_next_sect();
                        if pos >= len || !more {
                            self.stop_transfer(0, 0, 0, dma, ctx);
                        } else {
                            self.msr |= MSR_RQM;
                        }
                    }
                }
            }
        }
    }
}
