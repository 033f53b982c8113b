//! Port decoding of the two controllers and the page registers.

/// What a port reaches.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Reg {
    /// Controller (0 or 1) and register number 0-15.
    Ctrl(usize, u8),
    /// Page register of a channel (0-7).
    Page(u8),
}

/// The standard PC page-register ports: 0x87 ch0, 0x83 ch1, 0x81 ch2,
/// 0x82 ch3, 0x8F ch4 (cascade; stored but unused), 0x8B ch5, 0x89 ch6,
/// 0x8A ch7. The other ports of 0x80-0x8F are not ours (0x80 is the POST
/// port).
pub fn page_port_channel(port: u16) -> Option<u8> {
    Some(match port {
        0x87 => 0,
        0x83 => 1,
        0x81 => 2,
        0x82 => 3,
        0x8F => 4,
        0x8B => 5,
        0x89 => 6,
        0x8A => 7,
        _ => return None,
    })
}

pub(crate) fn decode(port: u16) -> Option<Reg> {
    match port {
        0x00..=0x0F => Some(Reg::Ctrl(0, port as u8)),
        // Controller 2 is word-addressed: registers at even ports only.
        0xC0..=0xDF if port & 1 == 0 => Some(Reg::Ctrl(1, ((port - 0xC0) >> 1) as u8)),
        _ => page_port_channel(port).map(Reg::Page),
    }
}

/// Whether the DMA device answers `port` (for the machine's port map).
pub fn decodes(port: u16) -> bool {
    decode(port).is_some()
}
