//! The packet command table: which opcodes exist and how the dispatcher
//! treats them before their handler runs.

/// The commands the drive implements.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    TestUnitReady,
    RequestSense,
    Inquiry,
    StartStopUnit,
    PreventAllow,
    ReadCapacity,
    Read10,
    Seek10,
    ReadToc,
    GetConfiguration,
    GetEventStatus,
    ReadDiscInformation,
    ModeSense10,
    Read12,
    ReadDvdStructure,
    SetSpeed,
    MechanismStatus,
    ReadCd,
}

/// How the dispatcher treats a command.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Flags {
    /// Runs while a unit attention is pending (and skips the media
    /// change report).
    pub allow_ua: bool,
    /// Needs a readable medium (tray closed, medium present).
    pub check_ready: bool,
    /// Never transfers data, so a zero PIO byte-count limit is fine.
    pub no_data: bool,
    /// Transfers data only for some field values (READ CD): the byte
    /// count limit is not checked up front either.
    pub cond_data: bool,
}

const U: Flags = Flags { allow_ua: true, check_ready: false, no_data: false, cond_data: false };
const R: Flags = Flags { allow_ua: false, check_ready: true, no_data: false, cond_data: false };
const N: Flags = Flags { allow_ua: false, check_ready: false, no_data: true, cond_data: false };
const RN: Flags = Flags { allow_ua: false, check_ready: true, no_data: true, cond_data: false };
const RC: Flags = Flags { allow_ua: false, check_ready: true, no_data: false, cond_data: true };
const NONE: Flags = Flags { allow_ua: false, check_ready: false, no_data: false, cond_data: false };

/// The command for `opcode` and its flags; `None` for an opcode the
/// drive does not implement (ILLEGAL REQUEST / invalid opcode).
pub fn lookup(opcode: u8) -> Option<(Op, Flags)> {
    let entry = match opcode {
        0x00 => (Op::TestUnitReady, RN),
        0x03 => (Op::RequestSense, U),
        0x12 => (Op::Inquiry, U),
        // Reports not-ready conditions itself.
        0x1b => (Op::StartStopUnit, N),
        0x1e => (Op::PreventAllow, N),
        0x25 => (Op::ReadCapacity, R),
        0x28 => (Op::Read10, R),
        0x2b => (Op::Seek10, RN),
        0x43 => (Op::ReadToc, R),
        0x46 => (Op::GetConfiguration, U),
        0x4a => (Op::GetEventStatus, U),
        0x51 => (Op::ReadDiscInformation, R),
        0x5a => (Op::ModeSense10, NONE),
        0xa8 => (Op::Read12, R),
        0xad => (Op::ReadDvdStructure, R),
        0xbb => (Op::SetSpeed, N),
        0xbd => (Op::MechanismStatus, NONE),
        0xbe => (Op::ReadCd, RC),
        _ => return None,
    };
    Some(entry)
}

/// Whether the command always moves data to the host (a PIO command
/// with a zero byte-count limit is then aborted at the ATA level).
pub fn transfers_data(opcode: u8) -> bool {
    matches!(lookup(opcode), Some((_, f)) if !f.no_data && !f.cond_data)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_match_the_table() {
        let allow_ua: Vec<u8> = (0..=255u8).filter(|&o| lookup(o).is_some_and(|(_, f)| f.allow_ua)).collect();
        assert_eq!(allow_ua, vec![0x03, 0x12, 0x46, 0x4a]);
        let ready: Vec<u8> = (0..=255u8).filter(|&o| lookup(o).is_some_and(|(_, f)| f.check_ready)).collect();
        assert_eq!(ready, vec![0x00, 0x25, 0x28, 0x2b, 0x43, 0x51, 0xa8, 0xad, 0xbe]);
        assert!(!transfers_data(0x00) && !transfers_data(0xbe) && !transfers_data(0x1b));
        assert!(transfers_data(0x28) && transfers_data(0x5a) && transfers_data(0xbd));
        assert!(!transfers_data(0xff));
    }
}
