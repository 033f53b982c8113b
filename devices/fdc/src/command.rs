//! The command set: opcode decoding and parameter counts.

/// What a data-transfer command does with the sectors.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum XferKind {
    Read,
    Write,
    Verify,
    ScanEqual,
    ScanLowOrEqual,
    ScanHighOrEqual,
}

impl XferKind {
    pub fn is_scan(self) -> bool {
        matches!(self, XferKind::ScanEqual | XferKind::ScanLowOrEqual | XferKind::ScanHighOrEqual)
    }
}

/// A decoded command byte.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Command {
    Transfer(XferKind),
    /// READ/WRITE DELETED DATA: not supported, ends abnormally.
    Deleted,
    FormatTrack,
    Seek,
    RelativeSeekIn,
    RelativeSeekOut,
    Recalibrate,
    SenseInterrupt,
    SenseDriveStatus,
    Specify,
    ReadId,
    Configure,
    Perpendicular,
    Lock,
    DumpReg,
    Version,
    PartId,
    Save,
    Restore,
    PowerDown,
    Option,
    DriveSpec,
    Invalid,
}

/// (opcode, mask, command) in match order: the first entry whose
/// `byte & mask == opcode` wins.
const TABLE: &[(u8, u8, Command)] = &[
    (0x06, 0x1F, Command::Transfer(XferKind::Read)),
    (0x05, 0x3F, Command::Transfer(XferKind::Write)),
    (0x0F, 0xFF, Command::Seek),
    (0x08, 0xFF, Command::SenseInterrupt),
    (0x07, 0xFF, Command::Recalibrate),
    (0x0D, 0xBF, Command::FormatTrack),
    (0x02, 0xBF, Command::Transfer(XferKind::Read)),
    (0x4E, 0xFF, Command::Restore),
    (0x2E, 0xFF, Command::Save),
    (0x0C, 0x1F, Command::Deleted),
    (0x11, 0x1F, Command::Transfer(XferKind::ScanEqual)),
    (0x16, 0x1F, Command::Transfer(XferKind::Verify)),
    (0x19, 0x1F, Command::Transfer(XferKind::ScanLowOrEqual)),
    (0x1D, 0x1F, Command::Transfer(XferKind::ScanHighOrEqual)),
    (0x09, 0x3F, Command::Deleted),
    (0x0A, 0xBF, Command::ReadId),
    (0x03, 0xFF, Command::Specify),
    (0x04, 0xFF, Command::SenseDriveStatus),
    (0x12, 0xFF, Command::Perpendicular),
    (0x13, 0xFF, Command::Configure),
    (0x17, 0xFF, Command::PowerDown),
    (0x33, 0xFF, Command::Option),
    (0x8E, 0xFF, Command::DriveSpec),
    (0x8F, 0xFF, Command::RelativeSeekOut),
    (0xCF, 0xFF, Command::RelativeSeekIn),
    (0x14, 0x7F, Command::Lock),
    (0x0E, 0xFF, Command::DumpReg),
    (0x10, 0xFF, Command::Version),
    (0x18, 0xFF, Command::PartId),
    // Some BeOS versions send WRITE with bit 5 set.
    (0x05, 0x1F, Command::Transfer(XferKind::Write)),
];

impl Command {
    pub fn decode(byte: u8) -> Command {
        TABLE.iter().find(|&&(op, mask, _)| byte & mask == op).map_or(Command::Invalid, |&(_, _, c)| c)
    }

    /// Parameter bytes after the command byte.
    pub fn params(self) -> usize {
        match self {
            Command::Transfer(_) | Command::Deleted => 8,
            Command::FormatTrack | Command::DriveSpec => 5,
            Command::Seek
            | Command::RelativeSeekIn
            | Command::RelativeSeekOut
            | Command::Specify
            | Command::PowerDown => 2,
            Command::Recalibrate
            | Command::SenseDriveStatus
            | Command::ReadId
            | Command::Perpendicular
            | Command::Option => 1,
            Command::Configure => 3,
            Command::Restore => 17,
            Command::SenseInterrupt
            | Command::Lock
            | Command::DumpReg
            | Command::Version
            | Command::PartId
            | Command::Save
            | Command::Invalid => 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decoding() {
        assert_eq!(Command::decode(0xE6), Command::Transfer(XferKind::Read));
        assert_eq!(Command::decode(0x46), Command::Transfer(XferKind::Read));
        assert_eq!(Command::decode(0xC5), Command::Transfer(XferKind::Write));
        assert_eq!(Command::decode(0x25), Command::Transfer(XferKind::Write));
        assert_eq!(Command::decode(0x4D), Command::FormatTrack);
        assert_eq!(Command::decode(0x4A), Command::ReadId);
        assert_eq!(Command::decode(0x94), Command::Lock);
        assert_eq!(Command::decode(0x14), Command::Lock);
        assert_eq!(Command::decode(0x4E), Command::Restore);
        assert_eq!(Command::decode(0x0E), Command::DumpReg);
        assert_eq!(Command::decode(0xCF), Command::RelativeSeekIn);
        assert_eq!(Command::decode(0x8F), Command::RelativeSeekOut);
        assert_eq!(Command::decode(0xF6), Command::Transfer(XferKind::Verify));
        assert_eq!(Command::decode(0x00), Command::Invalid);
        assert_eq!(Command::decode(0xFF), Command::Invalid);
        assert_eq!(Command::Restore.params(), 17);
    }
}
