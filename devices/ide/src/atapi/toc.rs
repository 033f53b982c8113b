//! READ TOC/PMA/ATIP for a single-track data disc, and the MSF address
//! form used by the TOC and by raw sector headers.

/// Minute/second/frame of `lba` (the 150-frame pre-gap added), in binary
/// as QEMU emits it (not BCD). Each field is truncated to a byte, so an
/// absurdly large medium wraps instead of failing.
pub fn lba_to_msf(lba: u64) -> [u8; 3] {
    let frames = lba.wrapping_add(150);
    [(frames / 75 / 60) as u8, (frames / 75 % 60) as u8, (frames % 75) as u8]
}

/// Track start address as 4 bytes: MSF (reserved byte + M, S, F) or a
/// big-endian LBA. Addresses are 32-bit on the wire; larger ones wrap.
fn address(out: &mut Vec<u8>, lba: u64, msf: bool) {
    if msf {
        out.push(0);
        out.extend_from_slice(&lba_to_msf(lba));
    } else {
        out.extend_from_slice(&(lba as u32).to_be_bytes());
    }
}

fn finish(mut out: Vec<u8>) -> Vec<u8> {
    let len = (out.len() - 2) as u16;
    out[..2].copy_from_slice(&len.to_be_bytes());
    out
}

/// Format 0: the formatted TOC. Track 1 (data, starting at 0) unless the
/// starting track is the lead-out, then the lead-out (0xAA) at the end of
/// the medium. `None` for a starting track past 1 that is not 0xAA.
pub fn formatted(total_sectors: u64, msf: bool, start_track: u8) -> Option<Vec<u8>> {
    if start_track > 1 && start_track != 0xaa {
        return None;
    }
    let mut out = vec![0, 0, 1, 1];
    if start_track <= 1 {
        out.extend_from_slice(&[0, 0x14, 1, 0]);
        address(&mut out, 0, msf);
    }
    out.extend_from_slice(&[0, 0x16, 0xaa, 0]);
    address(&mut out, total_sectors, msf);
    Some(finish(out))
}

/// Format 1: multi-session information; one session, the rest zero.
pub fn session_info() -> Vec<u8> {
    let mut out = vec![0u8; 12];
    out[1] = 0x0a;
    out[2] = 1;
    out[3] = 1;
    out
}

/// Format 2: the raw (full) TOC: points A0 (first track), A1 (last
/// track), A2 (lead-out) and track 1, all in session 1.
pub fn raw(total_sectors: u64, msf: bool) -> Vec<u8> {
    let mut out = vec![0, 0, 1, 1];
    // A0: first track number 1, disc type 0.
    out.extend_from_slice(&[1, 0x14, 0, 0xa0, 0, 0, 0, 0, 1, 0, 0]);
    // A1: last track number 1.
    out.extend_from_slice(&[1, 0x14, 0, 0xa1, 0, 0, 0, 0, 1, 0, 0]);
    // A2: lead-out start.
    out.extend_from_slice(&[1, 0x14, 0, 0xa2, 0, 0, 0]);
    address(&mut out, total_sectors, msf);
    // Track 1 at the start of the disc.
    out.extend_from_slice(&[1, 0x14, 0, 1, 0, 0, 0]);
    address(&mut out, 0, msf);
    finish(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn msf_includes_pregap() {
        assert_eq!(lba_to_msf(0), [0, 2, 0]);
        assert_eq!(lba_to_msf(4500 - 150), [1, 0, 0]);
        assert_eq!(lba_to_msf(74), [0, 2, 74]);
    }

    #[test]
    fn formatted_lba_and_msf() {
        let t = formatted(1000, false, 0).unwrap();
        assert_eq!(t, vec![0, 18, 1, 1, 0, 0x14, 1, 0, 0, 0, 0, 0, 0, 0x16, 0xaa, 0, 0, 0, 0x03, 0xe8]);
        let t = formatted(1000, true, 1).unwrap();
        assert_eq!(&t[8..12], &[0, 0, 2, 0]);
        assert_eq!(&t[16..20], &[0, 0, 15, 25]);
        let t = formatted(1000, false, 0xaa).unwrap();
        assert_eq!(t.len(), 12);
        assert_eq!(t[6], 0xaa);
        assert!(formatted(1000, false, 2).is_none());
    }

    #[test]
    fn raw_toc_is_48_bytes() {
        let t = raw(1000, false);
        assert_eq!(t.len(), 48);
        assert_eq!(&t[0..2], &[0, 46]);
        assert_eq!(t[4 + 11 * 2 + 3], 0xa2);
        assert_eq!(&t[4 + 11 * 2 + 7..4 + 11 * 2 + 11], &1000u32.to_be_bytes());
    }
}
