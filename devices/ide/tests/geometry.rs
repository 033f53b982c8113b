//! Geometry guessing, translation and CMOS bytes against the worked
//! cases of QEMU's hd-geo-test and SeaBIOS's translation.

use ironide_dev_ide::geometry::*;

const SMALL: u64 = 61440;
const LARGE: u64 = 8388608;

/// An MBR with one partition ending at `end_head`, sector 63.
fn mbr(end_head: u8) -> [u8; 512] {
    let mut m = [0u8; 512];
    let e = 0x1be;
    m[e + 4] = 0x83;
    m[e + 5] = end_head;
    m[e + 6] = 63;
    m[e + 7] = 0xff;
    m[e + 8..e + 12].copy_from_slice(&63u32.to_le_bytes());
    m[e + 12..e + 16].copy_from_slice(&1000u32.to_le_bytes());
    m[510] = 0x55;
    m[511] = 0xaa;
    m
}

fn guess(total: u64, mbr: Option<&[u8; 512]>, user: Option<Chs>, t: BiosChsTrans) -> (Chs, Translation) {
    guess_geometry(total, mbr, user, t).unwrap()
}

#[test]
fn blank_disks_guess_from_size() {
    assert_eq!(guess(SMALL, None, None, BiosChsTrans::Auto), (Chs::new(60, 16, 63), Translation::None));
    assert_eq!(guess(LARGE, None, None, BiosChsTrans::Auto), (Chs::new(8322, 16, 63), Translation::Lba));
    let blank = [0u8; 512];
    assert_eq!(guess(SMALL, Some(&blank), None, BiosChsTrans::Auto), (Chs::new(60, 16, 63), Translation::None));
}

#[test]
fn mbr_with_many_heads_means_translated() {
    let m = mbr(127);
    assert_eq!(guess(SMALL, Some(&m), None, BiosChsTrans::Auto), (Chs::new(60, 16, 63), Translation::Large));
    assert_eq!(guess(LARGE, Some(&m), None, BiosChsTrans::Auto), (Chs::new(8322, 16, 63), Translation::Lba));
}

#[test]
fn mbr_with_16_heads_is_used_untranslated() {
    let m = mbr(15);
    assert_eq!(guess(SMALL, Some(&m), None, BiosChsTrans::Auto), (Chs::new(60, 16, 63), Translation::None));
    assert_eq!(guess(LARGE, Some(&m), None, BiosChsTrans::Auto), (Chs::new(8322, 16, 63), Translation::None));
}

#[test]
fn mbr_guess_out_of_cylinder_range_falls_back() {
    // 4 heads x 63 on the large disk gives 33288 cylinders: unusable.
    let m = mbr(3);
    assert_eq!(guess(LARGE, Some(&m), None, BiosChsTrans::Auto), (Chs::new(8322, 16, 63), Translation::Lba));
    // On the small disk it fits: 243 cylinders of 4 heads, untranslated.
    assert_eq!(guess(SMALL, Some(&m), None, BiosChsTrans::Auto), (Chs::new(243, 4, 63), Translation::None));
}

#[test]
fn user_geometry_and_explicit_translation() {
    let u = Some(Chs::new(480, 4, 32));
    assert_eq!(guess(LARGE, None, u, BiosChsTrans::Auto), (Chs::new(480, 4, 32), Translation::None));
    assert_eq!(guess(LARGE, None, u, BiosChsTrans::Lba), (Chs::new(480, 4, 32), Translation::Lba));
    // User geometry wins over the MBR.
    assert_eq!(guess(SMALL, Some(&mbr(127)), u, BiosChsTrans::Auto).0, Chs::new(480, 4, 32));
    // auto on a user geometry beyond the BIOS limits picks LBA.
    assert_eq!(guess(SMALL, None, Some(Chs::new(2000, 16, 63)), BiosChsTrans::Auto).1, Translation::Lba);
    assert_eq!(guess(SMALL, None, Some(Chs::new(100, 16, 64)), BiosChsTrans::Auto).1, Translation::Lba);
    // Explicit translations keep the guessed physical geometry.
    assert_eq!(guess(LARGE, None, None, BiosChsTrans::Rechs), (Chs::new(8322, 16, 63), Translation::Rechs));
    assert_eq!(guess(SMALL, Some(&mbr(127)), None, BiosChsTrans::None), (Chs::new(60, 16, 63), Translation::None));
    assert_eq!(guess(SMALL, None, None, BiosChsTrans::Large).1, Translation::Large);
}

#[test]
fn user_geometry_limits() {
    let t = BiosChsTrans::Auto;
    assert_eq!(guess_geometry(SMALL, None, Some(Chs::new(0, 16, 63)), t), Err(GeometryError::Cyls));
    assert_eq!(guess_geometry(SMALL, None, Some(Chs::new(65536, 16, 63)), t), Err(GeometryError::Cyls));
    assert_eq!(guess_geometry(SMALL, None, Some(Chs::new(1, 17, 63)), t), Err(GeometryError::Heads));
    assert_eq!(guess_geometry(SMALL, None, Some(Chs::new(1, 0, 63)), t), Err(GeometryError::Heads));
    assert_eq!(guess_geometry(SMALL, None, Some(Chs::new(1, 16, 256)), t), Err(GeometryError::Secs));
    assert_eq!(guess_geometry(SMALL, None, Some(Chs::new(1, 16, 0)), t), Err(GeometryError::Secs));
    assert!(guess_geometry(SMALL, None, Some(Chs::new(65535, 16, 255)), t).is_ok());
    assert_eq!(GeometryError::Heads.to_string(), "heads must be between 1 and 16");
    assert_eq!(GeometryError::Cyls.to_string(), "cyls must be between 1 and 65535");
    assert_eq!(GeometryError::Secs.to_string(), "secs must be between 1 and 255");
}

#[test]
fn translation_property_parses() {
    for (s, v) in [
        ("auto", BiosChsTrans::Auto),
        ("none", BiosChsTrans::None),
        ("lba", BiosChsTrans::Lba),
        ("large", BiosChsTrans::Large),
        ("rechs", BiosChsTrans::Rechs),
    ] {
        assert_eq!(s.parse::<BiosChsTrans>(), Ok(v));
        assert_eq!(v.to_string(), s);
    }
    assert!("LBA".parse::<BiosChsTrans>().is_err());
    assert!("".parse::<BiosChsTrans>().is_err());
}

#[test]
fn seabios_logical_geometry() {
    let big = Chs::new(8322, 16, 63);
    let total = 8322 * 16 * 63;
    assert_eq!(bios_logical(big, total, Translation::Large), Chs::new(1024, 128, 63));
    assert_eq!(bios_logical(big, total, Translation::Rechs), Chs::new(554, 240, 63));
    assert_eq!(bios_logical(big, total, Translation::Lba), Chs::new(522, 255, 63));
    assert_eq!(bios_logical(big, total, Translation::None), Chs::new(1024, 16, 63));
    let two_gib = Chs::new(4161, 16, 63);
    let total = 4161 * 16 * 63;
    assert_eq!(bios_logical(two_gib, total, Translation::None), Chs::new(1024, 16, 63));
    assert_eq!(bios_logical(two_gib, total, Translation::Lba), Chs::new(520, 128, 63));
    // Past 63*255*1024 sectors LBA is capped.
    assert_eq!(bios_logical(Chs::new(16383, 16, 63), 1 << 40, Translation::Lba), Chs::new(1024, 255, 63));
    // Small disks are left alone.
    let small = Chs::new(60, 16, 63);
    assert_eq!(bios_logical(small, 60480, Translation::Large), small);
    assert_eq!(bios_logical(small, 60480, Translation::Lba), Chs::new(60, 16, 63));
}

#[test]
fn logical_geometry_never_panics_on_odd_input() {
    for t in [Translation::None, Translation::Lba, Translation::Large, Translation::Rechs] {
        for chs in [Chs::new(0, 0, 0), Chs::new(u32::MAX, u32::MAX, u32::MAX), Chs::new(70000, 0, 1)] {
            let l = bios_logical(chs, u64::MAX, t);
            assert!(l.cyls <= 1024);
            let _ = bios_logical(chs, 0, t);
        }
    }
}

#[test]
fn cmos_no_disks() {
    assert_eq!(cmos_bytes([None; 4]), vec![(0x12, 0), (0x39, 0)]);
}

#[test]
fn cmos_primary_master_and_slave() {
    let m = (Chs::new(8322, 16, 63), Translation::Lba);
    let s = (Chs::new(60, 4, 32), Translation::None);
    let b = cmos_bytes([Some(m), Some(s), None, None]);
    let expected = vec![
        (0x12, 0xff),
        (0x19, 47),
        (0x1a, 47),
        (0x1b, 0x82),
        (0x1c, 0x20),
        (0x1d, 16),
        (0x1e, 0xff),
        (0x1f, 0xff),
        (0x20, 0xc8),
        (0x21, 0x82),
        (0x22, 0x20),
        (0x23, 63),
        (0x24, 60),
        (0x25, 0),
        (0x26, 4),
        (0x27, 0xff),
        (0x28, 0xff),
        (0x29, 0xc0),
        (0x2a, 60),
        (0x2b, 0),
        (0x2c, 32),
        (0x39, 0x01),
    ];
    assert_eq!(b, expected);
}

#[test]
fn cmos_secondary_channel_only_in_0x39() {
    let d = |t| Some((Chs::new(1000, 16, 63), t));
    let b = cmos_bytes([None, None, d(Translation::Large), d(Translation::Rechs)]);
    assert_eq!(b, vec![(0x12, 0), (0x39, (2 << 4) | (3 << 6))]);
    let b = cmos_bytes([d(Translation::Rechs), None, None, d(Translation::Lba)]);
    assert!(b.contains(&(0x12, 0xf0)));
    assert!(b.contains(&(0x39, 0x43)));
    assert!(!b.iter().any(|&(o, _)| o == 0x1a || o == 0x24 || o == 0x3a));
    let drive = IdeCmosDrive { chs: Chs::new(1, 1, 1), translation: Translation::Lba };
    assert_eq!(cmos_bytes([Some(drive.into()), None, None, None]).last(), Some(&(0x39, 1)));
}
