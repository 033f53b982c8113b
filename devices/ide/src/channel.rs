//! One IDE channel: two device positions sharing a task file bus, the
//! device control register, the PIO data port, the interrupt line and the
//! channel's bus-master engine.

use ironide_block::Completion;
use ironide_dev_platform::DevCtx;

use crate::atapi::SectorFormat;
use crate::busmaster::{BusMaster, Prd, ST_ACTIVE, ST_INTR};
use crate::drive::Slot;
use crate::taskfile::{Signature, TaskFile, ABRT, BSY, DEV_ALWAYS_ON, DEV_SLAVE, DRDY, DRQ, DSC, ERR};

/// Device control register bits.
pub const CTL_NIEN: u8 = 0x02;
pub const CTL_SRST: u8 = 0x04;
pub const CTL_HOB: u8 = 0x80;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum DmaOp {
    Read,
    Write,
    Trim,
}

/// The running command: what happens when the current PIO block has been
/// moved or the bus-master engine starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Job {
    Idle,
    /// One PIO-in block (IDENTIFY, SMART data); the transfer just stops.
    PioIn,
    SectorRead {
        per_block: u32,
    },
    SectorWrite {
        per_block: u32,
    },
    /// ATA DMA, waiting for the engine or running.
    Dma(DmaOp),
    Flush,
    /// Receiving a 12-byte ATAPI packet.
    Packet,
    AtapiPio,
    AtapiDma,
}

/// What the block request(s) in flight are for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Pending {
    None,
    SectorRead { lba: u64, n: u32 },
    SectorWrite { lba: u64, n: u32 },
    Dma { lba: u64, n: u32, stay: bool },
    Trim { lba: u64, n: u32, stay: bool, failed: bool },
    Flush,
    CdPio { n: u32 },
    CdDma { n: u32 },
}

/// ATAPI data on its way to the host.
#[derive(Debug)]
pub(crate) struct CdXfer {
    /// Bytes staged for the host (reply data or sectors already read).
    pub buf: Vec<u8>,
    pub pos: usize,
    /// Bytes of the command still to deliver.
    pub remaining: u64,
    pub lba: u64,
    pub sectors_left: u32,
    pub format: SectorFormat,
}

impl CdXfer {
    fn new() -> Self {
        CdXfer { buf: Vec::new(), pos: 0, remaining: 0, lba: 0, sectors_left: 0, format: SectorFormat::User2048 }
    }

    pub fn sector_size(&self) -> usize {
        match self.format {
            SectorFormat::User2048 => 2048,
            SectorFormat::Raw2352 => 2352,
        }
    }
}

pub(crate) struct Channel {
    pub index: u8,
    pub line: u32,
    pub slots: [Slot; 2],
    /// The selected device position.
    pub unit: usize,
    /// The position the running command belongs to.
    pub job_unit: usize,
    pub devctl: u8,
    pub bm: BusMaster,
    /// Whether PCI bus mastering is enabled (set by the controller per call).
    pub bm_enabled: bool,
    pub pio_buf: Vec<u8>,
    pub pio_pos: usize,
    pub pio_end: usize,
    /// Direction of the PIO block: true = host writes.
    pub pio_out: bool,
    pub job: Job,
    /// The DMA job has been given to the engine already.
    pub dma_running: bool,
    pub pending: Pending,
    pub outstanding: u32,
    /// Bumped by resets: completions tagged with an older value are dropped.
    pub gen: u64,
    pub atapi_dma: bool,
    pub cd: CdXfer,
    pub prds: Vec<Prd>,
    pub scratch: Vec<u8>,
    /// Tray moves the guest caused: (unit, open).
    pub tray_moves: Vec<(usize, bool)>,
    /// The engine was stopped with a request in flight: QEMU drains there,
    /// the machine should deliver completions before the next guest access.
    pub drain_wanted: bool,
}

impl Channel {
    pub fn new(index: u8) -> Self {
        Channel {
            index,
            line: if index == 0 { 14 } else { 15 },
            slots: [Slot::empty(), Slot::empty()],
            unit: 0,
            job_unit: 0,
            devctl: 0,
            bm: BusMaster::default(),
            bm_enabled: false,
            pio_buf: Vec::new(),
            pio_pos: 0,
            pio_end: 0,
            pio_out: false,
            job: Job::Idle,
            dma_running: false,
            pending: Pending::None,
            outstanding: 0,
            gen: 0,
            atapi_dma: false,
            cd: CdXfer::new(),
            prds: Vec::new(),
            scratch: Vec::new(),
            tray_moves: Vec::new(),
            drain_wanted: false,
        }
    }

    pub fn any_drive(&self) -> bool {
        self.slots.iter().any(|s| s.drive.is_some())
    }

    /// Selected slave position without a drive: its status reads 0 and
    /// commands to it are ignored.
    fn absent_selected(&self) -> bool {
        self.unit == 1 && self.slots[1].drive.is_none()
    }

    pub fn tag(&self) -> u64 {
        (self.gen << 1) | self.index as u64
    }

    // ---- interrupts -------------------------------------------------------

    pub fn raise_irq(&mut self, ctx: &mut DevCtx) {
        if self.devctl & CTL_NIEN == 0 {
            self.bm.status |= ST_INTR;
            ctx.irq.set_irq(self.line, true);
        }
    }

    pub fn lower_irq(&mut self, ctx: &mut DevCtx) {
        ctx.irq.set_irq(self.line, false);
    }

    // ---- task-file registers ---------------------------------------------

    pub fn read_reg(&mut self, reg: u16, ctx: &mut DevCtx) -> u8 {
        let any = self.any_drive();
        let absent = self.absent_selected();
        let hob = self.devctl & CTL_HOB != 0;
        let s = &self.slots[self.unit];
        let tf = &s.tf;
        let pick = |cur: u8, prev: u8| {
            if !any {
                0
            } else if hob {
                prev
            } else {
                cur
            }
        };
        match reg {
            1 => {
                if !any || absent {
                    0
                } else if hob {
                    tf.hob_feature
                } else {
                    s.error
                }
            }
            2 => pick(tf.nsector as u8, tf.hob_nsector),
            3 => pick(tf.sector, tf.hob_sector),
            4 => pick(tf.lcyl, tf.hob_lcyl),
            5 => pick(tf.hcyl, tf.hob_hcyl),
            6 => pick(tf.select, tf.select),
            7 => {
                let v = self.status_value();
                self.lower_irq(ctx);
                v
            }
            _ => 0xFF,
        }
    }

    /// Status as the host sees it (status and alternate status).
    pub fn status_value(&self) -> u8 {
        if !self.any_drive() || self.absent_selected() {
            0
        } else {
            self.slots[self.unit].status
        }
    }

    pub fn write_reg(&mut self, reg: u16, val: u8, ctx: &mut DevCtx) {
        if reg != 7 && self.slots[self.unit].status & (BSY | DRQ) != 0 {
            return;
        }
        self.devctl &= !CTL_HOB;
        match reg {
            1..=5 => {
                for s in self.slots.iter_mut() {
                    let tf = &mut s.tf;
                    let (cur, prev) = match reg {
                        1 => (&mut tf.feature, &mut tf.hob_feature),
                        2 => {
                            tf.hob_nsector = tf.nsector as u8;
                            tf.nsector = val as u32;
                            continue;
                        }
                        3 => (&mut tf.sector, &mut tf.hob_sector),
                        4 => (&mut tf.lcyl, &mut tf.hob_lcyl),
                        _ => (&mut tf.hcyl, &mut tf.hob_hcyl),
                    };
                    *prev = *cur;
                    *cur = val;
                }
            }
            6 => {
                for s in self.slots.iter_mut() {
                    s.tf.select = val | DEV_ALWAYS_ON;
                }
                self.unit = usize::from(val & DEV_SLAVE != 0);
            }
            7 => {
                self.lower_irq(ctx);
                self.exec_command(val, ctx);
            }
            _ => {}
        }
    }

    pub fn write_control(&mut self, val: u8, ctx: &mut DevCtx) {
        let rising = self.devctl & CTL_SRST == 0 && val & CTL_SRST != 0;
        self.devctl = val;
        if rising {
            self.soft_reset(ctx);
            // The reset completes at once; a later 1->0 write has nothing to do.
            self.devctl &= !CTL_SRST;
        }
    }

    // ---- PIO data port ----------------------------------------------------

    /// Begin a PIO block of `len` bytes (already in `pio_buf` for reads).
    pub fn transfer_start(&mut self, len: usize, out: bool, job: Job) {
        if self.pio_buf.len() < len {
            self.pio_buf.resize(len, 0);
        }
        self.pio_pos = 0;
        self.pio_end = len;
        self.pio_out = out;
        self.job = job;
        let s = &mut self.slots[self.job_unit];
        if s.status & ERR == 0 {
            s.status |= DRQ;
        }
    }

    pub fn transfer_stop(&mut self) {
        self.pio_pos = 0;
        self.pio_end = 0;
        self.job = Job::Idle;
        self.slots[self.job_unit].status &= !DRQ;
    }

    /// Abort the running command: DRDY|ERR, ABRT.
    pub fn abort(&mut self) {
        self.transfer_stop();
        let s = &mut self.slots[self.job_unit];
        s.status = DRDY | ERR;
        s.error = ABRT;
    }

    fn pio_ready(&self, out: bool) -> bool {
        self.slots[self.unit].status & DRQ != 0 && self.pio_out == out && self.pio_pos < self.pio_end
    }

    /// Host reads the data port. A 4-byte access moves a dword; longer ones
    /// are strings of words and run across DRQ blocks the device has ready.
    pub fn data_read(&mut self, out: &mut [u8], ctx: &mut DevCtx) {
        let unit = if out.len() == 4 { 4 } else { 2 };
        let mut off = 0;
        while off < out.len() {
            if !self.pio_ready(false) {
                out[off..].fill(0);
                return;
            }
            let rest = &mut out[off..];
            let take = rest.len().min(self.pio_end - self.pio_pos);
            match self.pio_buf.get(self.pio_pos..self.pio_pos + take) {
                Some(src) => rest[..take].copy_from_slice(src),
                None => rest[..take].fill(0),
            }
            self.pio_pos += take;
            // A block ending inside an access unit: the rest of the unit is 0.
            let pad = if !take.is_multiple_of(unit) { (unit - take % unit).min(rest.len() - take) } else { 0 };
            rest[take..take + pad].fill(0);
            off += take + pad;
            if self.pio_pos >= self.pio_end {
                self.slots[self.unit].status &= !DRQ;
                self.end_transfer(ctx);
            }
        }
    }

    pub fn data_write(&mut self, data: &[u8], ctx: &mut DevCtx) {
        let unit = if data.len() == 4 { 4 } else { 2 };
        let mut off = 0;
        while off < data.len() {
            if !self.pio_ready(true) {
                return;
            }
            let rest = &data[off..];
            let take = rest.len().min(self.pio_end - self.pio_pos);
            if let Some(dst) = self.pio_buf.get_mut(self.pio_pos..self.pio_pos + take) {
                dst.copy_from_slice(&rest[..take]);
            }
            self.pio_pos += take;
            let pad = if !take.is_multiple_of(unit) { (unit - take % unit).min(rest.len() - take) } else { 0 };
            off += take + pad;
            if self.pio_pos >= self.pio_end {
                self.slots[self.unit].status &= !DRQ;
                self.end_transfer(ctx);
            }
        }
    }

    /// The host has moved the whole PIO block.
    fn end_transfer(&mut self, ctx: &mut DevCtx) {
        match self.job {
            Job::SectorRead { per_block } => self.sector_read(per_block, ctx),
            Job::SectorWrite { per_block } => self.sector_write(per_block, ctx),
            Job::Packet => self.atapi_packet(ctx),
            Job::AtapiPio => self.atapi_next_block(ctx),
            _ => self.transfer_stop(),
        }
    }

    // ---- resets -----------------------------------------------------------

    /// Forget the running command and anything in flight.
    fn cancel(&mut self) {
        if self.pending != Pending::None || self.outstanding > 0 {
            self.bm.status &= !ST_ACTIVE;
        }
        self.gen = self.gen.wrapping_add(1);
        self.pending = Pending::None;
        self.outstanding = 0;
        self.dma_running = false;
        self.job = Job::Idle;
        self.pio_pos = 0;
        self.pio_end = 0;
        self.cd.buf.clear();
        self.cd.pos = 0;
        self.cd.remaining = 0;
    }

    /// Per-device power-on register state.
    fn reset_slot(&mut self, u: usize) {
        let s = &mut self.slots[u];
        let sig = s.signature();
        s.tf = TaskFile::power_on();
        s.tf.set_signature(sig);
        s.status = DRDY | DSC;
        s.error = 0;
        if let Some(d) = s.drive.as_mut() {
            d.mult_sectors = crate::identify::MAX_MULT_SECTORS;
            if let Some(cd) = d.cd.as_mut() {
                cd.reset();
                // QEMU closes the tray on reset without an event.
                let _ = cd.take_tray_moves();
            }
        }
    }

    /// SRST: both devices reset and run their diagnostics.
    pub fn soft_reset(&mut self, _ctx: &mut DevCtx) {
        self.cancel();
        for u in 0..2 {
            self.reset_slot(u);
            self.diagnose(u);
        }
    }

    /// DEVICE RESET (ATAPI only): like SRST for one device, status 0.
    pub fn device_reset(&mut self) {
        self.cancel();
        let u = self.job_unit;
        self.reset_slot(u);
        self.slots[u].status = 0;
    }

    /// Diagnostic outcome: signature, error 1 (passed), CD status 0.
    pub fn diagnose(&mut self, u: usize) {
        let s = &mut self.slots[u];
        let sig = s.signature();
        s.tf.set_signature(sig);
        s.status = if sig == Signature::Atapi { 0 } else { DRDY | DSC };
        s.error = 0x01;
    }

    /// System reset: power-on state.
    pub fn power_on_reset(&mut self, ctx: &mut DevCtx) {
        self.cancel();
        for u in 0..2 {
            self.reset_slot(u);
        }
        self.unit = 0;
        self.job_unit = 0;
        self.devctl = 0;
        self.bm = BusMaster::default();
        self.drain_wanted = false;
        self.lower_irq(ctx);
    }

    // ---- completions ------------------------------------------------------

    pub fn complete(&mut self, c: Completion, ctx: &mut DevCtx) {
        if c.tag != self.tag() || self.outstanding == 0 {
            return;
        }
        self.outstanding -= 1;
        let pending = self.pending;
        if self.outstanding == 0 {
            self.pending = Pending::None;
            self.drain_wanted = false;
        }
        match pending {
            Pending::None => {}
            Pending::SectorRead { lba, n } => self.sector_read_done(lba, n, c, ctx),
            Pending::SectorWrite { lba, n } => self.sector_write_done(lba, n, c, ctx),
            Pending::Dma { lba, n, stay } => match c.result {
                Ok(_) => self.dma_finish(lba, n, stay, ctx),
                Err(_) => self.dma_error(ctx),
            },
            Pending::Trim { lba, n, stay, failed } => {
                let failed = failed || c.result.is_err();
                if self.outstanding > 0 {
                    self.pending = Pending::Trim { lba, n, stay, failed };
                } else if failed {
                    self.dma_error(ctx);
                } else {
                    self.dma_finish(lba, n, stay, ctx);
                }
            }
            Pending::Flush => self.flush_done(c, ctx),
            Pending::CdPio { n } => self.cd_pio_done(n, c, ctx),
            Pending::CdDma { n } => self.cd_dma_done(n, c, ctx),
        }
    }

    /// Submit one request tagged for this channel.
    pub fn submit(&mut self, req: ironide_block::Request, ctx: &mut DevCtx) -> bool {
        let Some(be) = self.slots[self.job_unit].drive.as_ref().and_then(|d| d.backend) else {
            return false;
        };
        self.outstanding += 1;
        ctx.block.submit(be, req);
        true
    }
}
