//! Sense data: the key and additional sense code latched by a failed
//! command and returned by REQUEST SENSE.

/// Sense keys (SPC / MMC).
pub mod key {
    pub const NO_SENSE: u8 = 0x00;
    pub const NOT_READY: u8 = 0x02;
    pub const MEDIUM_ERROR: u8 = 0x03;
    pub const ILLEGAL_REQUEST: u8 = 0x05;
    pub const UNIT_ATTENTION: u8 = 0x06;
}

/// Additional sense codes (the qualifier is always 0 for these).
pub mod asc {
    pub const ILLEGAL_OPCODE: u8 = 0x20;
    pub const LOGICAL_BLOCK_OOR: u8 = 0x21;
    pub const INV_FIELD_IN_CMD_PACKET: u8 = 0x24;
    pub const MEDIUM_MAY_HAVE_CHANGED: u8 = 0x28;
    pub const INCOMPATIBLE_FORMAT: u8 = 0x30;
    pub const SAVING_PARAMETERS_NOT_SUPPORTED: u8 = 0x39;
    pub const MEDIUM_NOT_PRESENT: u8 = 0x3a;
    pub const DATA_PHASE_ERROR: u8 = 0x4b;
    pub const MEDIA_REMOVAL_PREVENTED: u8 = 0x53;
}

/// Linux ENOMEDIUM: the one errno a failed read maps to NOT READY.
pub const ENOMEDIUM: i32 = 123;

/// Latched sense. Only errors set it; a successful command leaves it
/// alone, and REQUEST SENSE clears it only when it is UNIT ATTENTION —
/// the drive QEMU models behaves that way and guests depend on it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Sense {
    pub key: u8,
    pub asc: u8,
}

impl Sense {
    pub fn set(&mut self, key: u8, asc: u8) {
        self.key = key;
        self.asc = asc;
    }

    /// The 18-byte fixed-format sense data (valid bit set, no ASCQ).
    pub fn fixed_format(&self) -> [u8; 18] {
        let mut buf = [0u8; 18];
        buf[0] = 0x70 | 0x80;
        buf[2] = self.key;
        buf[7] = 10;
        buf[12] = self.asc;
        buf
    }

    /// REQUEST SENSE consumed the data: a unit attention is reported once.
    pub fn consumed(&mut self) {
        if self.key == key::UNIT_ATTENTION {
            self.key = key::NO_SENSE;
        }
    }

    /// The sense a failed sector read leaves: no medium -> NOT READY,
    /// anything else -> ILLEGAL REQUEST / LBA out of range (what QEMU
    /// reports for every other read error).
    pub fn for_read_errno(errno: i32) -> Sense {
        if errno == ENOMEDIUM || errno == -ENOMEDIUM {
            Sense { key: key::NOT_READY, asc: asc::MEDIUM_NOT_PRESENT }
        } else {
            Sense { key: key::ILLEGAL_REQUEST, asc: asc::LOGICAL_BLOCK_OOR }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixed_format_layout() {
        let s = Sense { key: key::UNIT_ATTENTION, asc: asc::MEDIUM_MAY_HAVE_CHANGED };
        let b = s.fixed_format();
        assert_eq!(b[0], 0xf0);
        assert_eq!(b[2], 6);
        assert_eq!(b[7], 10);
        assert_eq!(b[12], 0x28);
        assert_eq!(b[13], 0);
    }

    #[test]
    fn consumed_clears_only_unit_attention() {
        let mut s = Sense { key: key::NOT_READY, asc: asc::MEDIUM_NOT_PRESENT };
        s.consumed();
        assert_eq!(s.key, key::NOT_READY);
        s.set(key::UNIT_ATTENTION, asc::MEDIUM_MAY_HAVE_CHANGED);
        s.consumed();
        assert_eq!(s.key, key::NO_SENSE);
        assert_eq!(s.asc, asc::MEDIUM_MAY_HAVE_CHANGED);
    }

    #[test]
    fn read_errno_mapping() {
        assert_eq!(Sense::for_read_errno(ENOMEDIUM).key, key::NOT_READY);
        assert_eq!(Sense::for_read_errno(-ENOMEDIUM).asc, asc::MEDIUM_NOT_PRESENT);
        assert_eq!(Sense::for_read_errno(5).asc, asc::LOGICAL_BLOCK_OOR);
    }
}
