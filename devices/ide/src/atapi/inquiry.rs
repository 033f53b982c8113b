//! INQUIRY: standard data and the two vital product data pages.

use super::sense::asc;

/// Strings the drive reports about itself.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Identity {
    /// Model string (VPD page 0x83; IDENTIFY PACKET DEVICE uses the same).
    pub model: String,
    /// Serial number (VPD page 0x83).
    pub serial: String,
    /// Product revision level (standard INQUIRY bytes 32-35).
    pub revision: String,
}

impl Default for Identity {
    fn default() -> Self {
        Identity { model: "QEMU DVD-ROM".into(), serial: "QM00001".into(), revision: "2.5+".into() }
    }
}

/// `s` in exactly `len` bytes: truncated, or padded with spaces.
fn padded(out: &mut Vec<u8>, s: &str, len: usize) {
    let bytes = s.as_bytes();
    out.extend((0..len).map(|i| bytes.get(i).copied().unwrap_or(b' ')));
}

/// Build the INQUIRY reply for `evpd`/`page` with allocation length
/// `alloc` (entries of page 0x83 that do not fit are left out, as QEMU
/// does), or the ASC of the ILLEGAL REQUEST it fails with.
pub fn inquiry(id: &Identity, evpd: bool, page: u8, alloc: u8) -> Result<Vec<u8>, u8> {
    let alloc = usize::from(alloc);
    if !evpd {
        let mut buf = vec![0x05, 0x80, 0x00, 0x21, 0, 0, 0, 0];
        padded(&mut buf, "QEMU", 8);
        padded(&mut buf, "QEMU DVD-ROM", 16);
        padded(&mut buf, &id.revision, 4);
        buf[4] = (buf.len() - 5) as u8;
        return Ok(buf);
    }
    let mut buf = vec![0x05, page, 0, 0];
    match page {
        0x00 => buf.extend_from_slice(&[0x00, 0x83]),
        0x83 => {
            // Serial entry (4-byte header + 20 bytes) must fit, or the
            // request is a data phase error.
            if buf.len() + 24 > alloc {
                return Err(asc::DATA_PHASE_ERROR);
            }
            buf.extend_from_slice(&[0x02, 0x00, 0x00, 20]);
            padded(&mut buf, &id.serial, 20);
            // Vendor "ATA" + model + serial, as libata reports it.
            if buf.len() + 72 <= alloc {
                buf.extend_from_slice(&[0x02, 0x01, 0x00, 68]);
                padded(&mut buf, "ATA", 8);
                padded(&mut buf, &id.model, 40);
                padded(&mut buf, &id.serial, 20);
            }
        }
        _ => return Err(asc::INV_FIELD_IN_CMD_PACKET),
    }
    buf[3] = (buf.len() - 4) as u8;
    Ok(buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn standard_data() {
        let b = inquiry(&Identity::default(), false, 0, 36).unwrap();
        assert_eq!(b.len(), 36);
        assert_eq!(&b[..5], &[5, 0x80, 0, 0x21, 31]);
        assert_eq!(&b[8..36], b"QEMU    QEMU DVD-ROM    2.5+");
    }

    #[test]
    fn vpd_pages() {
        let id = Identity::default();
        assert_eq!(inquiry(&id, true, 0, 255).unwrap(), vec![5, 0, 0, 2, 0, 0x83]);
        assert_eq!(inquiry(&id, true, 0x83, 27), Err(0x4b));
        assert_eq!(inquiry(&id, true, 0x83, 28).unwrap().len(), 28);
        let b = inquiry(&id, true, 0x83, 100).unwrap();
        assert_eq!(b.len(), 100);
        assert_eq!(b[3], 96);
        assert_eq!(&b[8..15], b"QM00001");
        assert_eq!(inquiry(&id, true, 0x80, 255), Err(0x24));
    }
}
