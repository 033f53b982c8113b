//! The pc board's platform devices (devices/platform) and the PCI
//! configuration mechanism that reaches them and the IDE function.

use ironide_dev_ide::Ide;
use ironide_dev_platform::cmos::Cmos;
use ironide_dev_platform::debug::{DebugExit, Debugcon, Port92, ResetControl, I8042};
use ironide_dev_platform::fw_cfg::FwCfg;
use ironide_dev_platform::serial::Serial16550;
use ironide_dev_platform::{DevCtx, Elcr, I440fx, MachineRequest, PciConfigAddress, PciFunction, Piix3Isa, PioDevice};

use crate::bus::Dev;

/// PCI slot of the PIIX3 (functions 0 = ISA bridge, 1 = IDE).
const PIIX3_DEV: u8 = 1;

pub struct Chipset {
    pub pci_address: PciConfigAddress,
    pub i440fx: I440fx,
    pub piix3: Piix3Isa,
    pub elcr: Elcr,
    pub cmos: Cmos,
    pub fw_cfg: FwCfg,
    pub serial: Option<Serial16550>,
    pub debugcon: Option<Debugcon>,
    pub debug_exit: Option<DebugExit>,
    pub port92: Port92,
    pub reset_control: ResetControl,
    pub i8042: I8042,
}

impl Chipset {
    /// The platform device behind `dev` (None for the IDE/FDC and PCI data).
    fn pio(&mut self, dev: Dev) -> Option<&mut dyn PioDevice> {
        Some(match dev {
            Dev::PciAddress => &mut self.pci_address,
            Dev::Cmos => &mut self.cmos,
            Dev::FwCfg => &mut self.fw_cfg,
            Dev::Serial => self.serial.as_mut()?,
            Dev::Debugcon => self.debugcon.as_mut()?,
            Dev::DebugExit => self.debug_exit.as_mut()?,
            Dev::I8042 => &mut self.i8042,
            Dev::Port92 => &mut self.port92,
            Dev::ResetControl => &mut self.reset_control,
            Dev::Elcr => &mut self.elcr,
            Dev::Ide | Dev::Fdc | Dev::PciData => return None,
        })
    }

    pub fn pio_read(&mut self, dev: Dev, port: u16, data: &mut [u8], ide: &mut Ide, ctx: &mut DevCtx) {
        if dev == Dev::PciData {
            self.config_read(port, data, ide);
        } else if let Some(d) = self.pio(dev) {
            d.pio_read(port, data, ctx);
        } else {
            data.fill(0xFF);
        }
    }

    pub fn pio_write(&mut self, dev: Dev, port: u16, data: &[u8], ide: &mut Ide, ctx: &mut DevCtx) {
        if dev == Dev::PciData {
            self.config_write(port, data, ide);
        } else if let Some(d) = self.pio(dev) {
            d.pio_write(port, data, ctx);
        }
    }

    /// A request a device made during the last write (exit, reset).
    pub fn take_request(&mut self, dev: Dev) -> Option<MachineRequest> {
        match dev {
            Dev::DebugExit => self.debug_exit.as_mut()?.take_request(),
            Dev::I8042 => self.i8042.take_request(),
            Dev::Port92 => self.port92.take_request(),
            Dev::ResetControl => self.reset_control.take_request(),
            _ => None,
        }
    }

    fn config_read(&mut self, port: u16, data: &mut [u8], ide: &mut Ide) {
        data.fill(0xFF);
        let Some(a) = self.pci_address.decode(port) else { return };
        match (a.bus, a.dev, a.func) {
            (0, 0, 0) => self.i440fx.config_read(a.reg, data),
            (0, PIIX3_DEV, 0) => self.piix3.config_read(a.reg, data),
            (0, PIIX3_DEV, 1) => {
                let v = ide.config_read(a.reg, data.len()).to_le_bytes();
                let n = data.len().min(4);
                data[..n].copy_from_slice(&v[..n]);
            }
            _ => {}
        }
    }

    fn config_write(&mut self, port: u16, data: &[u8], ide: &mut Ide) {
        let Some(a) = self.pci_address.decode(port) else { return };
        match (a.bus, a.dev, a.func) {
            (0, 0, 0) => self.i440fx.config_write(a.reg, data),
            (0, PIIX3_DEV, 0) => self.piix3.config_write(a.reg, data),
            // BAR4 may move: the port map asks ide.bm_base() on every access.
            (0, PIIX3_DEV, 1) => ide.config_write(a.reg, data),
            _ => {}
        }
    }

    /// Power-on state of every platform device (CMOS RAM keeps its
    /// contents, as the battery-backed part does).
    pub fn reset(&mut self, ctx: &mut DevCtx) {
        self.pci_address.reset();
        self.cmos.reset(ctx.irq);
        self.i440fx.reset();
        self.piix3.reset();
        self.elcr.reset();
        if let Some(s) = self.serial.as_mut() {
            s.reset(ctx.irq);
        }
        self.port92.reset();
        self.reset_control.reset();
        self.i8042.reset(ctx.irq);
    }
}
