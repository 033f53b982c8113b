//! The controller: registers, command/result phases and the non-transfer commands.
//! Data transfers live in `transfer.rs`.

use ironide_block::layer::{BackendId, BlockIo};
use ironide_dev_isa_dma::IsaDma;
use ironide_dev_platform::DevCtx;

use crate::command::Command;
use crate::drive::Drive;
use crate::geometry::{resolve_type, DriveType};
use crate::regs::*;
use crate::transfer::Xfer;

/// How one drive slot is populated.
#[derive(Clone, Copy, Debug)]
pub struct DriveConfig {
    /// The block backend (None: a drive without a backend, always empty).
    pub backend: Option<BackendId>,
    pub drive_type: DriveType,
}

impl DriveConfig {
    /// No drive in this slot.
    pub const ABSENT: DriveConfig = DriveConfig { backend: None, drive_type: DriveType::None };
}

/// Construction parameters of an ISA floppy controller.
#[derive(Clone, Copy, Debug)]
pub struct FdcConfig {
    pub drives: [DriveConfig; 2],
    /// Type an `auto` drive takes when it starts empty (`isa-fdc.fallback`).
    pub fallback: DriveType,
    pub irq: u32,
    pub dma_channel: u8,
}

impl Default for FdcConfig {
    fn default() -> Self {
        FdcConfig { drives: [DriveConfig::ABSENT; 2], fallback: DriveType::D288, irq: 6, dma_channel: 2 }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Phase {
    Command,
    Execution,
    Result,
}

/// The 82078-compatible controller. It owns no DMA controller: every call
/// that may move data takes the machine's `&mut IsaDma` (see `IsaFdc` for
/// the bundle the machine registers on the port bus).
#[derive(Debug)]
pub struct Fdc {
    pub(crate) drives: [Drive; 2],
    pub(crate) fallback: DriveType,
    pub(crate) irq: u32,
    pub(crate) dma_channel: u8,
    pub(crate) dor: u8,
    tdr: u8,
    pub(crate) dsr: u8,
    pub(crate) msr: u8,
    srb: u8,
    pub(crate) cur_drv: usize,
    pub(crate) status0: u8,
    int_pending: bool,
    reset_sensei: u8,
    pub(crate) phase: Phase,
    pub(crate) cmd: [u8; 18],
    cmd_len: usize,
    cmd_pos: usize,
    pub(crate) result: [u8; 16],
    res_len: usize,
    res_pos: usize,
    timer0: u8,
    timer1: u8,
    config: u8,
    precomp: u8,
    lock: bool,
    pwrd: u8,
    pub(crate) eot: u8,
    pub(crate) multi_track: bool,
    read_id_deadline: Option<u64>,
    pub(crate) xfer: Option<Xfer>,
    pub(crate) sector: [u8; SECTOR],
    /// Tag of the block request in flight; completions with another tag are stale.
    pub(crate) io_tag: u64,
}

impl Fdc {
    /// A controller at power-on. `block` tells which drives start with a medium.
    pub fn new(cfg: FdcConfig, block: &dyn BlockIo) -> Self {
        let drives = cfg.drives.map(|d| {
            let medium = medium_sectors(block, d.backend);
            let ty = resolve_type(d.drive_type, cfg.fallback, medium);
            let mut drive = Drive::new(d.backend, ty);
            drive.revalidate(medium, d.backend.map(|b| block.is_read_only(b)).unwrap_or(true), cfg.fallback);
            drive
        });
        let mut f = Fdc {
            drives,
            fallback: cfg.fallback,
            irq: cfg.irq,
            dma_channel: cfg.dma_channel,
            dor: DOR_NRESET | DOR_DMAEN,
            tdr: 0,
            dsr: 0,
            msr: MSR_RQM,
            srb: 0xC0,
            cur_drv: 0,
            status0: 0,
            int_pending: false,
            reset_sensei: 0,
            phase: Phase::Command,
            cmd: [0; 18],
            cmd_len: 1,
            cmd_pos: 0,
            result: [0; 16],
            res_len: 0,
            res_pos: 0,
            timer0: 0,
            timer1: 0,
            config: CONFIG_EIS | CONFIG_EFIFO,
            precomp: 0,
            lock: false,
            pwrd: 0,
            eot: 0,
            multi_track: false,
            read_id_deadline: None,
            xfer: None,
            sector: [0; SECTOR],
            io_tag: 0,
        };
        for d in f.drives.iter_mut() {
            d.recalibrate();
        }
        f
    }

    // ---- interrupts and phases ----

    pub(crate) fn raise_irq(&mut self, ctx: &mut DevCtx) {
        if !self.int_pending {
            ctx.irq.set_irq(self.irq, true);
            self.int_pending = true;
        }
        self.reset_sensei = 0;
    }

    pub(crate) fn lower_irq(&mut self, ctx: &mut DevCtx) {
        self.status0 = 0;
        if self.int_pending {
            ctx.irq.set_irq(self.irq, false);
            self.int_pending = false;
        }
    }

    pub(crate) fn enter_command_phase(&mut self) {
        self.phase = Phase::Command;
        self.cmd_pos = 0;
        self.cmd_len = 1;
        self.msr &= !(MSR_CMDBUSY | MSR_DIO);
        self.msr |= MSR_RQM;
    }

    pub(crate) fn enter_result_phase(&mut self, len: usize) {
        self.phase = Phase::Result;
        self.res_len = len.min(self.result.len());
        self.res_pos = 0;
        self.msr |= MSR_CMDBUSY | MSR_RQM | MSR_DIO;
    }

    /// One result byte, the rest of the result phase as QEMU leaves it.
    fn result1(&mut self, v: u8) {
        self.result[0] = v;
        self.enter_result_phase(1);
    }

    pub(crate) fn cur(&self) -> &Drive {
        &self.drives[self.cur_drv & 1]
    }

    pub(crate) fn cur_mut(&mut self) -> &mut Drive {
        &mut self.drives[self.cur_drv & 1]
    }

    fn select_from_param(&mut self) {
        self.cur_drv = usize::from(self.cmd[1] & 1);
    }

    // ---- reset ----

    /// Controller reset (DOR /RESET edge, DSR software reset, power-down).
    pub(crate) fn reset_controller(&mut self, do_irq: bool, dma: &mut IsaDma, ctx: &mut DevCtx) {
        self.lower_irq(ctx);
        self.srb = 0xC0;
        self.cur_drv = 0;
        self.dor = DOR_NRESET | DOR_DMAEN;
        self.msr = MSR_RQM;
        self.reset_sensei = 0;
        self.read_id_deadline = None;
        self.abort_xfer(dma);
        for d in self.drives.iter_mut() {
            d.recalibrate();
        }
        self.enter_command_phase();
        if do_irq {
            self.status0 |= ST0_RDYCHG;
            self.raise_irq(ctx);
            self.reset_sensei = RESET_SENSEI;
        }
    }

    /// System reset: the controller state of power-on (configuration and
    /// drive types survive, as on QEMU), no interrupt pending.
    pub fn reset(&mut self, dma: &mut IsaDma, ctx: &mut DevCtx) {
        self.reset_controller(false, dma, ctx);
    }

    // ---- registers ----

    /// Read the register at `offset` from the base (0-7).
    pub fn read_reg(&mut self, offset: u16, dma: &mut IsaDma, ctx: &mut DevCtx) -> u8 {
        match offset {
            1 => self.srb,
            2 => (self.dor & !DOR_SEL) | self.cur_drv as u8,
            3 => self.tdr,
            4 => {
                self.dsr &= !DSR_PWRDOWN;
                self.dor |= DOR_NRESET;
                self.msr
            }
            5 => self.read_fifo(dma, ctx),
            7 => {
                if self.cur().media_changed {
                    DIR_DSKCHG
                } else {
                    0
                }
            }
            _ => 0xFF,
        }
    }

    /// Write the register at `offset` from the base (0-7).
    pub fn write_reg(&mut self, offset: u16, v: u8, dma: &mut IsaDma, ctx: &mut DevCtx) {
        match offset {
            2 => self.write_dor(v, dma, ctx),
            3 if self.dor & DOR_NRESET != 0 => self.tdr = v & 0x0C,
            4 => {
                if self.dor & DOR_NRESET == 0 {
                    return;
                }
                if v & DSR_SWRESET != 0 {
                    self.dor &= !DOR_NRESET;
                    self.reset_controller(true, dma, ctx);
                    self.dor |= DOR_NRESET;
                }
                if v & DSR_PWRDOWN != 0 {
                    self.reset_controller(true, dma, ctx);
                }
                self.dsr = v;
            }
            5 => self.write_fifo(v, dma, ctx),
            7 if self.dor & DOR_NRESET != 0 => self.dsr = (self.dsr & !DSR_RATE) | (v & DSR_RATE),
            _ => {}
        }
    }

    fn write_dor(&mut self, v: u8, dma: &mut IsaDma, ctx: &mut DevCtx) {
        let set = |srb: &mut u8, bit: u8, on: bool| if on { *srb |= bit } else { *srb &= !bit };
        set(&mut self.srb, SRB_MTR0, v & 0x10 != 0);
        set(&mut self.srb, SRB_MTR1, v & 0x20 != 0);
        set(&mut self.srb, SRB_DR0, v & 1 != 0);
        if v & DOR_NRESET != 0 && self.dor & DOR_NRESET == 0 {
            self.reset_controller(true, dma, ctx);
            self.dsr &= !DSR_PWRDOWN;
        }
        self.cur_drv = usize::from(v & 1);
        self.dor = v;
        // DMA requests may have been waiting for bit 3.
        self.pump_dma(dma, ctx);
    }

    fn write_fifo(&mut self, v: u8, dma: &mut IsaDma, ctx: &mut DevCtx) {
        if self.dor & DOR_NRESET == 0 || self.msr & MSR_RQM == 0 || self.msr & MSR_DIO != 0 {
            return;
        }
        self.dsr &= !DSR_PWRDOWN;
        match self.phase {
            Phase::Execution => self.pio_write_byte(v, dma, ctx),
            Phase::Command => {
                if self.cmd_pos == 0 {
                    self.cmd_len = Command::decode(v).params() + 1;
                    self.msr |= MSR_CMDBUSY;
                }
                if let Some(slot) = self.cmd.get_mut(self.cmd_pos) {
                    *slot = v;
                }
                self.cmd_pos += 1;
                if self.cmd_pos >= self.cmd_len {
                    self.phase = Phase::Execution;
                    self.execute(dma, ctx);
                }
            }
            Phase::Result => {}
        }
    }

    fn read_fifo(&mut self, dma: &mut IsaDma, ctx: &mut DevCtx) -> u8 {
        if self.msr & MSR_RQM == 0 || self.msr & MSR_DIO == 0 {
            return 0;
        }
        match self.phase {
            Phase::Execution => self.pio_read_byte(dma, ctx),
            Phase::Result => {
                let v = self.result.get(self.res_pos).copied().unwrap_or(0);
                self.res_pos += 1;
                if self.res_pos >= self.res_len {
                    self.msr &= !MSR_RQM;
                    self.enter_command_phase();
                    self.lower_irq(ctx);
                }
                v
            }
            Phase::Command => 0,
        }
    }

    // ---- commands ----

    fn execute(&mut self, dma: &mut IsaDma, ctx: &mut DevCtx) {
        let c = self.cmd;
        match Command::decode(c[0]) {
            Command::Transfer(kind) => self.start_transfer(kind, dma, ctx),
            Command::Deleted => {
                self.select_from_param();
                self.stop_transfer(ST0_ABNTERM, 0, 0, dma, ctx);
            }
            Command::FormatTrack => self.start_format(dma, ctx),
            Command::Seek => {
                self.select_from_param();
                let head = self.cur().head;
                self.cur_mut().seek(head, c[2], 1);
                self.seek_done(ctx);
            }
            Command::RelativeSeekIn => {
                self.select_from_param();
                let d = self.cur_mut();
                let track = if u16::from(c[2]) + u16::from(d.track) >= u16::from(d.max_track) {
                    d.max_track.wrapping_sub(1)
                } else {
                    d.track + c[2]
                };
                let (head, sect) = (d.head, d.sect);
                d.seek(head, track, sect);
                self.seek_done(ctx);
            }
            Command::RelativeSeekOut => {
                self.select_from_param();
                let d = self.cur_mut();
                let track = d.track.saturating_sub(c[2]);
                let (head, sect) = (d.head, d.sect);
                d.seek(head, track, sect);
                self.seek_done(ctx);
            }
            Command::Recalibrate => {
                self.select_from_param();
                self.cur_mut().recalibrate();
                self.seek_done(ctx);
            }
            Command::SenseInterrupt => self.sense_interrupt(ctx),
            Command::SenseDriveStatus => {
                self.select_from_param();
                let drv = self.cur_drv as u8;
                let d = self.cur_mut();
                d.head = (c[1] >> 2) & 1;
                let v = (u8::from(d.read_only) << 6) | if d.track == 0 { 0x10 } else { 0 } | (d.head << 2) | drv | 0x28;
                self.result1(v);
            }
            Command::Specify => {
                self.timer0 = c[1];
                self.timer1 = c[2];
                if c[2] & 1 != 0 {
                    self.dor &= !DOR_DMAEN;
                } else {
                    self.dor |= DOR_DMAEN;
                }
                self.enter_command_phase();
            }
            Command::ReadId => {
                let head = (c[1] >> 2) & 1;
                self.cur_mut().head = head;
                self.msr &= !MSR_RQM;
                self.read_id_deadline = Some(ctx.now_ns().saturating_add(READ_ID_DELAY_NS));
            }
            Command::Configure => {
                self.config = c[2];
                self.precomp = c[3];
                self.enter_command_phase();
            }
            Command::Perpendicular => {
                if c[1] & 0x80 != 0 {
                    self.cur_mut().perpendicular = c[1] & 7;
                }
                self.enter_command_phase();
            }
            Command::Lock => {
                self.lock = c[0] & 0x80 != 0;
                self.result1(u8::from(self.lock) << 4);
            }
            Command::DumpReg => {
                let d = self.cur();
                let r = [
                    self.drives[0].track,
                    self.drives[1].track,
                    0,
                    0,
                    self.timer0,
                    (self.timer1 << 1) | u8::from(self.dor & DOR_DMAEN != 0),
                    d.last_sect,
                    (u8::from(self.lock) << 7) | (d.perpendicular << 2),
                    self.config,
                    self.precomp,
                ];
                self.result[..10].copy_from_slice(&r);
                self.enter_result_phase(10);
            }
            Command::Version => self.result1(0x90),
            Command::PartId => self.result1(0x41),
            Command::Save => {
                let d = self.cur();
                let r = [
                    0,
                    0,
                    self.drives[0].track,
                    self.drives[1].track,
                    0,
                    0,
                    self.timer0,
                    self.timer1,
                    d.last_sect,
                    (u8::from(self.lock) << 7) | (d.perpendicular << 2),
                    self.config,
                    self.precomp,
                    self.pwrd,
                    0,
                    0,
                ];
                self.result[..15].copy_from_slice(&r);
                self.enter_result_phase(15);
            }
            Command::Restore => {
                self.drives[0].track = c[3];
                self.drives[1].track = c[4];
                self.timer0 = c[7];
                self.timer1 = c[8];
                // A guest may claim any sector count: every later use of
                // it is bounds-checked against the medium.
                self.cur_mut().last_sect = c[9];
                self.lock = c[10] & 0x80 != 0;
                self.cur_mut().perpendicular = (c[10] >> 2) & 0x0F;
                self.config = c[11];
                self.precomp = c[12];
                self.pwrd = c[13];
                self.enter_command_phase();
            }
            Command::PowerDown => {
                self.pwrd = c[1];
                self.result1(c[1]);
            }
            Command::Option => self.enter_command_phase(),
            Command::DriveSpec => {
                // The last parameter ends the list when bit 7 is set; bit 6
                // asks for the drive-specification result bytes.
                if c[5] & 0xC0 == 0xC0 {
                    self.result[..4].copy_from_slice(&[c[1], 0, 0, 0]);
                    self.enter_result_phase(4);
                } else {
                    self.enter_command_phase();
                }
            }
            Command::Invalid => self.result1(ST0_INVCMD),
        }
    }

    fn seek_done(&mut self, ctx: &mut DevCtx) {
        self.enter_command_phase();
        self.status0 |= ST0_SEEK;
        self.raise_irq(ctx);
    }

    fn sense_interrupt(&mut self, ctx: &mut DevCtx) {
        if self.reset_sensei > 0 {
            self.result[0] = ST0_RDYCHG + RESET_SENSEI - self.reset_sensei;
            self.reset_sensei -= 1;
        } else if !self.int_pending {
            self.result1(ST0_INVCMD);
            return;
        } else {
            self.result[0] = (self.status0 & !0x07) | self.cur_drv as u8;
        }
        self.result[1] = self.cur().track;
        self.enter_result_phase(2);
        self.lower_irq(ctx);
        self.status0 = ST0_RDYCHG;
    }

    /// End of a transfer-type command: the 7 result bytes and the interrupt.
    pub(crate) fn stop_transfer(&mut self, st0: u8, st1: u8, st2: u8, dma: &mut IsaDma, ctx: &mut DevCtx) {
        self.status0 &= !0x07;
        self.status0 |= self.cur_drv as u8;
        if self.cur().head != 0 {
            self.status0 |= ST0_HEAD;
        }
        self.status0 |= st0;
        let d = self.cur();
        let r = [self.status0, st1, st2, d.track, d.head, d.sect, 2];
        self.result[..7].copy_from_slice(&r);
        self.abort_xfer(dma);
        self.msr |= MSR_RQM | MSR_DIO;
        self.msr &= !MSR_NONDMA;
        self.enter_result_phase(7);
        self.raise_irq(ctx);
    }

    // ---- READ ID timer ----

    /// When `on_timer` wants to run (virtual-time ns), if at all.
    pub fn next_deadline(&self) -> Option<u64> {
        self.read_id_deadline
    }

    /// Run what is due at `ctx.now_ns`.
    pub fn on_timer(&mut self, dma: &mut IsaDma, ctx: &mut DevCtx) {
        let Some(t) = self.read_id_deadline else { return };
        if ctx.now_ns() < t {
            return;
        }
        self.read_id_deadline = None;
        let d = self.cur_mut();
        // Pretend the disk spins: successive READ IDs see successive sectors.
        if d.last_sect != 0 {
            d.sect = (d.sect % d.last_sect) + 1;
        }
        let ok = d.has_medium && (self.dsr & DSR_RATE) == self.cur().media_rate as u8;
        if ok {
            self.stop_transfer(0, 0, 0, dma, ctx);
        } else {
            self.stop_transfer(ST0_ABNTERM, ST1_MA, 0, dma, ctx);
        }
    }
}

pub(crate) fn medium_sectors(block: &dyn BlockIo, backend: Option<BackendId>) -> Option<u64> {
    let b = backend?;
    block.has_medium(b).then(|| block.size(b) / SECTOR as u64)
}
