//! The port I/O map of the pc board: which device answers which port.

/// A device on the port bus.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dev {
    Ide,
    /// The FDC and the 8237 DMA controllers.
    Fdc,
    PciAddress,
    PciData,
    Cmos,
    FwCfg,
    Serial,
    Debugcon,
    DebugExit,
    I8042,
    Port92,
    ResetControl,
    Elcr,
}

/// IDE data ports and the FDC FIFO take string accesses whole.
pub fn is_stream_port(port: u16) -> bool {
    matches!(port, 0x1F0 | 0x170 | 0x3F5)
}

/// The configurable part of the map.
#[derive(Clone, Copy, Debug, Default)]
pub struct PortMap {
    pub serial: bool,
    pub debugcon: Option<u16>,
    /// (iobase, iosize)
    pub debug_exit: Option<(u16, u16)>,
    /// ELCR in user space (only without KVM's in-kernel PIC).
    pub elcr: bool,
}

impl PortMap {
    /// The device at `port`; `bm_base` is the IDE bus-master base while
    /// BAR4 decodes. Checked in order of priority, first match wins.
    pub fn route(&self, port: u16, bm_base: Option<u16>) -> Option<Dev> {
        if let Some((base, size)) = self.debug_exit {
            if port.wrapping_sub(base) < size.max(1) {
                return Some(Dev::DebugExit);
            }
        }
        if self.debugcon == Some(port) {
            return Some(Dev::Debugcon);
        }
        let dev = match port {
            0x1F0..=0x1F7 | 0x170..=0x177 | 0x3F6 | 0x376 => Dev::Ide,
            0x3F1..=0x3F5 | 0x3F7 => Dev::Fdc,
            0x3F8..=0x3FF if self.serial => Dev::Serial,
            0xCF8 | 0xCFA | 0xCFB => Dev::PciAddress,
            0xCFC..=0xCFF => Dev::PciData,
            0x70 | 0x71 => Dev::Cmos,
            0x510 | 0x511 => Dev::FwCfg,
            0x60 | 0x64 => Dev::I8042,
            0x92 => Dev::Port92,
            0xCF9 => Dev::ResetControl,
            0x4D0 | 0x4D1 if self.elcr => Dev::Elcr,
            _ if ironide_dev_isa_dma::decodes(port) => Dev::Fdc,
            _ => match bm_base {
                Some(b) if port.wrapping_sub(b) < 16 => Dev::Ide,
                _ => return None,
            },
        };
        Some(dev)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixed_ports() {
        let m = PortMap { serial: true, debugcon: Some(0x402), debug_exit: Some((0xF4, 4)), elcr: false };
        assert_eq!(m.route(0x1F7, None), Some(Dev::Ide));
        assert_eq!(m.route(0x3F6, None), Some(Dev::Ide));
        assert_eq!(m.route(0x3F5, None), Some(Dev::Fdc));
        assert_eq!(m.route(0x3F0, None), None);
        assert_eq!(m.route(0x04, None), Some(Dev::Fdc));
        assert_eq!(m.route(0x81, None), Some(Dev::Fdc));
        assert_eq!(m.route(0xF7, None), Some(Dev::DebugExit));
        assert_eq!(m.route(0xF8, None), None);
        assert_eq!(m.route(0x402, None), Some(Dev::Debugcon));
        assert_eq!(m.route(0x3F8, None), Some(Dev::Serial));
        assert_eq!(m.route(0xCF9, None), Some(Dev::ResetControl));
        assert_eq!(m.route(0xCF8, None), Some(Dev::PciAddress));
        assert_eq!(m.route(0xCFE, None), Some(Dev::PciData));
        assert_eq!(m.route(0x4D0, None), None);
    }

    #[test]
    fn bus_master_follows_bar4() {
        let m = PortMap::default();
        assert_eq!(m.route(0xC040, None), None);
        assert_eq!(m.route(0xC040, Some(0xC040)), Some(Dev::Ide));
        assert_eq!(m.route(0xC04F, Some(0xC040)), Some(Dev::Ide));
        assert_eq!(m.route(0xC050, Some(0xC040)), None);
        assert_eq!(m.route(0x3F8, None), None);
    }
}
