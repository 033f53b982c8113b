//! The PIIX3 IDE function: two channels on their legacy ports, the
//! bus-master block at BAR4, PCI configuration, and the media interface
//! the QMP layer drives.

use ironide_block::layer::BackendId;
use ironide_block::Completion;
use ironide_dev_platform::{BlockClient, DevCtx, PioDevice};

use crate::atapi::{Cdrom, OpenTray};
use crate::busmaster::{CMD_START, ST_ACTIVE};
use crate::channel::Channel;
use crate::drive::{Drive, IdeDriveConfig};
use crate::error::IdeError;
use crate::pci::PciConfig;

/// Command-block and control ports of the two channels.
pub const PRIMARY_CMD: u16 = 0x1F0;
pub const PRIMARY_CTL: u16 = 0x3F6;
pub const SECONDARY_CMD: u16 = 0x170;
pub const SECONDARY_CTL: u16 = 0x376;
/// ISA interrupt lines of the two channels.
pub const IRQ_LINES: [u32; 2] = [14, 15];

/// Something the machine reports to QMP clients.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IdeEvent {
    /// A CD tray really moved, by QMP or by the guest (DEVICE_TRAY_MOVED).
    TrayMoved { channel: usize, unit: usize, open: bool },
}

/// What query-block shows of a CD drive.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TrayState {
    pub open: bool,
    pub locked: bool,
    pub has_medium: bool,
}

/// Which register a port reaches.
enum Target {
    Cmd(usize, u16),
    Ctl(usize),
    Bm(usize, u16),
}

pub struct Ide {
    pci: PciConfig,
    channels: [Channel; 2],
    /// Default serial numbers count drives in attach order, from 1.
    drives_attached: u32,
    events: Vec<IdeEvent>,
}

impl Default for Ide {
    fn default() -> Self {
        Self::new()
    }
}

impl Ide {
    pub fn new() -> Self {
        Ide {
            pci: PciConfig::new(),
            channels: [Channel::new(0), Channel::new(1)],
            drives_attached: 0,
            events: Vec::new(),
        }
    }

    /// Put a drive at `channel` (0/1) `unit` (0 master, 1 slave). Attach in
    /// QEMU's creation order so default serials match ("QM00001" first).
    pub fn attach(&mut self, channel: usize, unit: usize, cfg: IdeDriveConfig) -> Result<(), IdeError> {
        let ch = self.channels.get_mut(channel).ok_or(IdeError::NoChannel(channel))?;
        let slot = ch.slots.get_mut(unit).ok_or(IdeError::NoDrive { channel, unit })?;
        if slot.drive.is_some() {
            return Err(IdeError::Occupied { channel, unit });
        }
        self.drives_attached += 1;
        let drive = Drive::new(&cfg, self.drives_attached);
        slot.tf.set_signature(drive.signature());
        slot.drive = Some(drive);
        Ok(())
    }

    /// System reset: every register at its power-on value.
    pub fn reset(&mut self, ctx: &mut DevCtx) {
        self.pci = PciConfig::new();
        for ch in self.channels.iter_mut() {
            ch.power_on_reset(ctx);
        }
    }

    pub fn pci(&self) -> &PciConfig {
        &self.pci
    }

    pub fn pci_mut(&mut self) -> &mut PciConfig {
        &mut self.pci
    }

    pub fn config_read(&self, offset: u16, size: usize) -> u32 {
        self.pci.config_read(offset, size)
    }

    pub fn config_write(&mut self, offset: u16, data: &[u8]) {
        self.pci.config_write(offset, data);
    }

    /// The bus-master block's port base while it decodes (see [`PciConfig::bm_base`]).
    pub fn bm_base(&self) -> Option<u16> {
        self.pci.bm_base()
    }

    /// The engine was stopped while a transfer was in flight. QEMU waits
    /// for that transfer inside the stopping write; a machine should deliver
    /// block completions (`BlockLayer::drain` + completions) before the
    /// guest's next access when this is true.
    pub fn wants_drain(&self) -> bool {
        self.channels.iter().any(|c| c.drain_wanted)
    }

    /// Whether any block request of the controller is in flight.
    pub fn io_pending(&self) -> bool {
        self.channels.iter().any(|c| c.outstanding > 0)
    }

    /// Events since the last call, oldest first.
    pub fn take_events(&mut self) -> Vec<IdeEvent> {
        for (i, ch) in self.channels.iter_mut().enumerate() {
            for (unit, open) in ch.tray_moves.drain(..) {
                self.events.push(IdeEvent::TrayMoved { channel: i, unit, open });
            }
        }
        std::mem::take(&mut self.events)
    }

    /// The backend a drive uses.
    pub fn backend(&self, channel: usize, unit: usize) -> Option<BackendId> {
        self.channels.get(channel)?.slots.get(unit)?.drive.as_ref()?.backend
    }

    fn cdrom(&mut self, channel: usize, unit: usize) -> Result<&mut Cdrom, IdeError> {
        let drive = self
            .channels
            .get_mut(channel)
            .and_then(|c| c.slots.get_mut(unit))
            .and_then(|s| s.drive.as_mut())
            .ok_or(IdeError::NoDrive { channel, unit })?;
        drive.cd.as_deref_mut().ok_or(IdeError::NotRemovable)
    }

    /// After a media operation: forward tray moves and the interrupt the
    /// drive asks for.
    fn after_media_op(&mut self, channel: usize, unit: usize, moved: Option<bool>, ctx: &mut DevCtx) {
        if let Some(open) = moved {
            self.events.push(IdeEvent::TrayMoved { channel, unit, open });
        }
        let Ok(cd) = self.cdrom(channel, unit) else { return };
        let moves = cd.take_tray_moves();
        let irq = cd.take_irq_request();
        self.events.extend(moves.into_iter().map(|open| IdeEvent::TrayMoved { channel, unit, open }));
        if irq {
            if let Some(ch) = self.channels.get_mut(channel) {
                ch.raise_irq(ctx);
            }
        }
    }

    /// QMP blockdev-open-tray / eject's first half.
    pub fn open_tray(
        &mut self,
        channel: usize,
        unit: usize,
        force: bool,
        ctx: &mut DevCtx,
    ) -> Result<OpenTray, IdeError> {
        let r = self.cdrom(channel, unit)?.open_tray(force);
        self.after_media_op(channel, unit, (r == OpenTray::Opened).then_some(true), ctx);
        Ok(r)
    }

    /// QMP blockdev-close-tray; true if the tray moved.
    pub fn close_tray(&mut self, channel: usize, unit: usize, ctx: &mut DevCtx) -> Result<bool, IdeError> {
        let moved = self.cdrom(channel, unit)?.close_tray();
        self.after_media_op(channel, unit, moved.then_some(false), ctx);
        Ok(moved)
    }

    /// QMP blockdev-insert-medium: the backend now has a medium of `bytes`.
    pub fn insert_medium(&mut self, channel: usize, unit: usize, bytes: u64, ctx: &mut DevCtx) -> Result<(), IdeError> {
        let cd = self.cdrom(channel, unit)?;
        if !cd.tray_open() {
            return Err(IdeError::TrayClosed);
        }
        if cd.has_medium() {
            return Err(IdeError::MediumPresent);
        }
        cd.insert_medium(bytes);
        self.after_media_op(channel, unit, None, ctx);
        Ok(())
    }

    /// QMP blockdev-remove-medium (no-op when already empty).
    pub fn remove_medium(&mut self, channel: usize, unit: usize, ctx: &mut DevCtx) -> Result<(), IdeError> {
        let cd = self.cdrom(channel, unit)?;
        if !cd.tray_open() {
            return Err(IdeError::TrayClosed);
        }
        if cd.has_medium() {
            cd.remove_medium();
            self.after_media_op(channel, unit, None, ctx);
        }
        Ok(())
    }

    pub fn tray_state(&mut self, channel: usize, unit: usize) -> Result<TrayState, IdeError> {
        let cd = self.cdrom(channel, unit)?;
        Ok(TrayState { open: cd.tray_open(), locked: cd.locked(), has_medium: cd.has_medium() })
    }

    fn decode(&self, port: u16) -> Option<Target> {
        match port {
            0x1F0..=0x1F7 => Some(Target::Cmd(0, port - PRIMARY_CMD)),
            0x170..=0x177 => Some(Target::Cmd(1, port - SECONDARY_CMD)),
            PRIMARY_CTL => Some(Target::Ctl(0)),
            SECONDARY_CTL => Some(Target::Ctl(1)),
            _ => {
                let base = self.pci.bm_base()?;
                let off = port.checked_sub(base).filter(|&o| o < 16)?;
                Some(Target::Bm((off / 8) as usize, off % 8))
            }
        }
    }

    fn channel(&mut self, i: usize) -> &mut Channel {
        let bm = self.pci.bus_master_enabled();
        let ch = &mut self.channels[i & 1];
        ch.bm_enabled = bm;
        ch
    }

    fn bm_command(&mut self, i: usize, val: u8, ctx: &mut DevCtx) {
        let ch = self.channel(i);
        let old = ch.bm.cmd;
        ch.bm.cmd = val & 0x09;
        if (val ^ old) & CMD_START == 0 {
            return;
        }
        if val & CMD_START == 0 {
            if ch.outstanding > 0 {
                ch.drain_wanted = true;
            }
            ch.bm.status &= !ST_ACTIVE;
        } else {
            ch.bm.table = ch.bm.addr;
            if !ch.bm.active() {
                ch.bm.status |= ST_ACTIVE;
                if !ch.dma_running {
                    match ch.job {
                        crate::channel::Job::Dma(_) => ch.dma_run(ctx),
                        crate::channel::Job::AtapiDma => ch.atapi_dma_run(ctx),
                        _ => {}
                    }
                }
            }
        }
    }
}

impl PioDevice for Ide {
    fn pio_read(&mut self, port: u16, data: &mut [u8], ctx: &mut DevCtx) {
        if data.is_empty() {
            return;
        }
        match self.decode(port) {
            Some(Target::Cmd(c, 0)) if data.len() > 1 => self.channel(c).data_read(data, ctx),
            Some(Target::Bm(c, off)) => self.channel(c).bm.read(off, data),
            _ if data.len() > 1 => {
                // Byte registers: a wider access is split into byte accesses.
                for (i, b) in data.iter_mut().enumerate() {
                    let mut one = [0xFF];
                    self.pio_read(port.wrapping_add(i as u16), &mut one, ctx);
                    *b = one[0];
                }
            }
            Some(Target::Cmd(c, reg)) => data[0] = self.channel(c).read_reg(reg, ctx),
            Some(Target::Ctl(c)) => data[0] = self.channel(c).status_value(),
            None => data.fill(0xFF),
        }
    }

    fn pio_write(&mut self, port: u16, data: &[u8], ctx: &mut DevCtx) {
        if data.is_empty() {
            return;
        }
        match self.decode(port) {
            Some(Target::Cmd(c, 0)) if data.len() > 1 => self.channel(c).data_write(data, ctx),
            Some(Target::Bm(c, off)) => match (off, data.len()) {
                (0, 1) => self.bm_command(c, data[0], ctx),
                (2, 1) => self.channel(c).bm.write_status(data[0]),
                (4..=7, _) => self.channel(c).bm.write_addr(off, data),
                _ => {}
            },
            _ if data.len() > 1 => {
                for (i, &b) in data.iter().enumerate() {
                    self.pio_write(port.wrapping_add(i as u16), &[b], ctx);
                }
            }
            Some(Target::Cmd(c, reg)) => {
                if let Some(&v) = data.first() {
                    self.channel(c).write_reg(reg, v, ctx);
                }
            }
            Some(Target::Ctl(c)) => {
                if let Some(&v) = data.first() {
                    self.channel(c).write_control(v, ctx);
                }
            }
            None => {}
        }
    }
}

impl BlockClient for Ide {
    fn complete(&mut self, _backend: BackendId, completion: Completion, ctx: &mut DevCtx) {
        let i = (completion.tag & 1) as usize;
        self.channel(i).complete(completion, ctx);
    }
}
