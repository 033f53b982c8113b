//! READ DVD STRUCTURE for a single-layer DVD-ROM.

use super::sense::asc;

/// What the drive knows about the medium when the command runs.
pub struct DvdMedium {
    /// A medium small enough to be a CD (such media refuse DVD formats).
    pub is_cd: bool,
    /// Capacity in 2048-byte sectors.
    pub total_sectors: u64,
}

/// Build the reply for CDB `cdb` (before the allocation-length cut) or
/// return the ASC of the ILLEGAL REQUEST it fails with.
pub fn read_structure(cdb: &[u8; 12], medium: &DvdMedium) -> Result<Vec<u8>, u8> {
    // QEMU compares the whole byte, not just the media-type nibble.
    let media_type = cdb[1];
    let layer = cdb[6];
    let format = cdb[7];
    let alloc = u16::from_be_bytes([cdb[8], cdb[9]]);

    if format < 0xff && medium.is_cd {
        return Err(asc::INCOMPATIBLE_FORMAT);
    }
    if media_type != 0 || (0x80..0xff).contains(&format) {
        return Err(asc::INV_FIELD_IN_CMD_PACKET);
    }
    match format {
        0x00 => {
            // QEMU clears its reply buffer (which still holds the CDB)
            // over the allocation length before looking at the layer, so
            // the layer number only counts when that length is <= 6.
            if alloc <= 6 && layer != 0 {
                return Err(asc::INV_FIELD_IN_CMD_PACKET);
            }
            if medium.total_sectors == 0 {
                return Err(asc::MEDIUM_NOT_PRESENT);
            }
            let mut buf = vec![0u8; 2048 + 4];
            buf[..2].copy_from_slice(&(2048u16 + 2).to_be_bytes());
            buf[4] = 1; // DVD-ROM, part version 1
            buf[5] = 0x0f; // 120 mm disc, maximum rate unspecified
            buf[6] = 1; // one layer, read-only
            let last = (medium.total_sectors - 1) as u32;
            buf[12..16].copy_from_slice(&last.to_be_bytes()); // end sector
            buf[16..20].copy_from_slice(&last.to_be_bytes()); // layer 0 end sector
            Ok(buf)
        }
        0x01 => {
            // Copyright information: no protection, no region restriction.
            let mut buf = vec![0u8; 8];
            buf[..2].copy_from_slice(&6u16.to_be_bytes());
            Ok(buf)
        }
        0x04 => {
            // Manufacturing information: 2048 zero bytes.
            let mut buf = vec![0u8; 2048 + 4];
            buf[..2].copy_from_slice(&(2048u16 + 2).to_be_bytes());
            Ok(buf)
        }
        0xff => {
            // The list of structures above that can be read.
            let mut buf = vec![0u8; 20];
            buf[..2].copy_from_slice(&18u16.to_be_bytes());
            for (i, (fmt, len)) in [(0x00u8, 2052u16), (0x01, 8), (0x03, 188), (0x04, 2052)].into_iter().enumerate() {
                let at = 4 + i * 4;
                buf[at] = fmt;
                buf[at + 1] = 0x40;
                buf[at + 2..at + 4].copy_from_slice(&len.to_be_bytes());
            }
            Ok(buf)
        }
        // 0x03 (BCA: none on this disc) and everything else.
        _ => Err(asc::INV_FIELD_IN_CMD_PACKET),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cdb(format: u8, layer: u8, alloc: u16) -> [u8; 12] {
        let a = alloc.to_be_bytes();
        [0xad, 0, 0, 0, 0, 0, layer, format, a[0], a[1], 0, 0]
    }

    #[test]
    fn physical_format() {
        let m = DvdMedium { is_cd: false, total_sectors: 1_000_000 };
        let b = read_structure(&cdb(0, 0, 4096), &m).unwrap();
        assert_eq!(b.len(), 2052);
        assert_eq!(&b[0..8], &[0x08, 0x02, 0, 0, 1, 0x0f, 1, 0]);
        assert_eq!(&b[12..16], &999_999u32.to_be_bytes());
        assert_eq!(read_structure(&cdb(0, 1, 4), &m), Err(0x24));
        assert!(read_structure(&cdb(0, 1, 4096), &m).is_ok());
    }

    #[test]
    fn cd_and_invalid_formats() {
        let cd = DvdMedium { is_cd: true, total_sectors: 100 };
        assert_eq!(read_structure(&cdb(0, 0, 100), &cd), Err(0x30));
        assert_eq!(read_structure(&cdb(0xff, 0, 100), &cd).unwrap().len(), 20);
        let dvd = DvdMedium { is_cd: false, total_sectors: 1_000_000 };
        assert_eq!(read_structure(&cdb(3, 0, 100), &dvd), Err(0x24));
        assert_eq!(read_structure(&cdb(0x83, 0, 100), &dvd), Err(0x24));
        assert_eq!(read_structure(&cdb(0x05, 0, 100), &dvd), Err(0x24));
        assert_eq!(read_structure(&cdb(1, 0, 100), &dvd).unwrap(), vec![0, 6, 0, 0, 0, 0, 0, 0]);
    }
}
