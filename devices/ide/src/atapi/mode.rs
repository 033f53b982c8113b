//! MODE SENSE(10): the three mode pages the drive reports.

use super::sense::asc;

pub const PAGE_ERROR_RECOVERY: u8 = 0x01;
pub const PAGE_AUDIO_CONTROL: u8 = 0x0e;
pub const PAGE_CAPABILITIES: u8 = 0x2a;

/// Build the reply (mode parameter header + page) for page control
/// `pc` (CDB byte 2 bits 7-6) and `page` (bits 5-0), or the ASC of the
/// ILLEGAL REQUEST it fails with. Like QEMU, only current values of
/// pages 0x01, 0x0E and 0x2A exist: changeable/default values and the
/// "all pages" code 0x3F are invalid fields, saved values are refused
/// with "saving parameters not supported".
pub fn sense_page(pc: u8, page: u8, locked: bool) -> Result<Vec<u8>, u8> {
    match pc {
        0 => {}
        1 | 2 => return Err(asc::INV_FIELD_IN_CMD_PACKET),
        _ => return Err(asc::SAVING_PARAMETERS_NOT_SUPPORTED),
    }
    let len = match page {
        PAGE_ERROR_RECOVERY => 16,
        PAGE_AUDIO_CONTROL => 24,
        PAGE_CAPABILITIES => 30,
        _ => return Err(asc::INV_FIELD_IN_CMD_PACKET),
    };
    let mut buf = vec![0u8; len];
    buf[..2].copy_from_slice(&(len as u16 - 2).to_be_bytes());
    // Medium type byte: QEMU always reports 0x70 (door closed, no disc).
    buf[2] = 0x70;
    buf[8] = page;
    buf[9] = (len - 10) as u8;
    match page {
        PAGE_ERROR_RECOVERY => {
            // Read retry count 5.
            buf[11] = 0x05;
        }
        PAGE_AUDIO_CONTROL => {
            // Port volumes all zero (what QEMU leaves in them).
        }
        _ => {
            // Reads CD-R/RW, DVD-ROM, DVD-R, DVD-RAM.
            buf[10] = 0x3b;
            // Audio play (some Linux automounters look for it), composite,
            // digital ports, multi-session, mode 2 forms.
            buf[12] = 0x71;
            buf[13] = 3 << 5;
            // Lock supported, eject supported, tray loading mechanism;
            // bit 1 reports the current lock state.
            buf[14] = 0x01 | 0x08 | 0x20 | if locked { 0x02 } else { 0 };
            buf[16..18].copy_from_slice(&704u16.to_be_bytes());
            buf[19] = 2;
            buf[20..22].copy_from_slice(&512u16.to_be_bytes());
            buf[22..24].copy_from_slice(&704u16.to_be_bytes());
        }
    }
    Ok(buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capabilities_lock_bit() {
        let p = sense_page(0, 0x2a, false).unwrap();
        assert_eq!(p.len(), 30);
        assert_eq!(&p[0..2], &[0, 28]);
        assert_eq!(p[9], 20);
        assert_eq!(p[14], 0x29);
        assert_eq!(sense_page(0, 0x2a, true).unwrap()[14], 0x2b);
    }

    #[test]
    fn page_control_and_unknown_pages() {
        assert_eq!(sense_page(1, 0x2a, false), Err(0x24));
        assert_eq!(sense_page(2, 0x01, false), Err(0x24));
        assert_eq!(sense_page(3, 0x01, false), Err(0x39));
        assert_eq!(sense_page(0, 0x3f, false), Err(0x24));
        assert_eq!(sense_page(0, 0x05, false), Err(0x24));
        assert_eq!(sense_page(0, 0x01, false).unwrap().len(), 16);
        assert_eq!(sense_page(0, 0x0e, false).unwrap()[9], 14);
    }
}
