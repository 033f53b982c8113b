//! Medium profiles (CD-ROM vs DVD-ROM by size) and GET CONFIGURATION.

use super::sense::asc;

pub const PROFILE_CD_ROM: u16 = 0x0008;
pub const PROFILE_DVD_ROM: u16 = 0x0010;

/// An 80-minute CD holds 80*60*75 sectors of 2048 bytes; a larger
/// medium is presented as a DVD.
pub const CD_MAX_BYTES: u64 = 80 * 60 * 75 * 2048;

/// The current profile of a readable medium of `bytes` (`None`: no
/// readable medium, profile 0).
pub fn current_profile(bytes: Option<u64>) -> u16 {
    match bytes {
        // Sizes are compared in whole 512-byte sectors, as QEMU does.
        Some(b) if b / 512 > CD_MAX_BYTES / 512 => PROFILE_DVD_ROM,
        Some(_) => PROFILE_CD_ROM,
        None => 0,
    }
}

/// GET CONFIGURATION reply (before the allocation-length cut): the
/// feature header with the current profile, then the Profile List
/// feature (0x0000, persistent + current) listing DVD-ROM and CD-ROM.
/// Only a starting feature number of 0 is supported (as QEMU); the RT
/// field is ignored since the profile list is the only feature reported.
pub fn get_configuration(start_feature: u16, current: u16) -> Result<Vec<u8>, u8> {
    if start_feature != 0 {
        return Err(asc::INV_FIELD_IN_CMD_PACKET);
    }
    let mut buf = vec![0u8; 12];
    buf[6..8].copy_from_slice(&current.to_be_bytes());
    buf[10] = 0x02 | 0x01;
    for profile in [PROFILE_DVD_ROM, PROFILE_CD_ROM] {
        buf.extend_from_slice(&profile.to_be_bytes());
        buf.push((profile == current) as u8);
        buf.push(0);
        buf[11] += 4;
    }
    let data_len = (buf.len() - 4) as u32;
    buf[..4].copy_from_slice(&data_len.to_be_bytes());
    Ok(buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn profile_by_size() {
        assert_eq!(current_profile(None), 0);
        assert_eq!(current_profile(Some(CD_MAX_BYTES)), PROFILE_CD_ROM);
        assert_eq!(current_profile(Some(CD_MAX_BYTES + 511)), PROFILE_CD_ROM);
        assert_eq!(current_profile(Some(CD_MAX_BYTES + 512)), PROFILE_DVD_ROM);
    }

    #[test]
    fn configuration_layout() {
        let b = get_configuration(0, PROFILE_CD_ROM).unwrap();
        assert_eq!(b, vec![0, 0, 0, 16, 0, 0, 0, 8, 0, 0, 3, 8, 0, 0x10, 0, 0, 0, 0x08, 1, 0]);
        let b = get_configuration(0, 0).unwrap();
        assert_eq!((b[14], b[18]), (0, 0));
        assert_eq!(get_configuration(1, 0), Err(0x24));
    }
}
