//! Fuzzing hook: arbitrary command sequences interleaved with tray and
//! medium operations, checking the drive's invariants.

use super::{Cdrom, PacketOutcome, SectorFormat};

/// Opcodes worth hitting often (random bytes rarely land on them).
const OPCODES: [u8; 19] =
    [0x00, 0x03, 0x12, 0x1b, 0x1e, 0x25, 0x28, 0x2b, 0x43, 0x46, 0x4a, 0x51, 0x5a, 0xa8, 0xad, 0xbb, 0xbd, 0xbe, 0xff];

/// Interpret `data` as a sequence of operations on a [`Cdrom`]: packet
/// commands (CDBs from the input, opcode often picked from the table),
/// QMP tray/medium operations, resets and read errors. Panics only if an
/// invariant breaks (a bug), never because of the input.
pub fn fuzz_cdb(data: &[u8]) {
    let mut it = data.iter().copied();
    let initial = match it.next() {
        Some(b) if b & 1 == 1 => Some(u64::from(b) * 2048 * 37 + u64::from(b >> 4) * 512),
        _ => None,
    };
    let mut cd = Cdrom::new(initial);
    while let Some(op) = it.next() {
        match op % 12 {
            0..=5 => {
                let mut cdb = [0u8; 12];
                for b in cdb.iter_mut() {
                    *b = it.next().unwrap_or(0);
                }
                if op & 0x80 != 0 {
                    cdb[0] = OPCODES[usize::from(cdb[0]) % OPCODES.len()];
                }
                let bcl_ok = op & 0x40 == 0;
                let outcome = cd.execute_with_bcl(&cdb, bcl_ok);
                check(&cd, &cdb, outcome.as_ref());
            }
            6 => {
                let r = cd.open_tray(op & 0x10 != 0);
                let _ = r;
            }
            7 => {
                cd.close_tray();
                assert!(!cd.tray_open());
            }
            8 => {
                let hi = u64::from(it.next().unwrap_or(0));
                let lo = u64::from(it.next().unwrap_or(0));
                // Sizes from empty to huge, in odd byte counts too.
                let bytes = (hi << (lo % 48)) | lo;
                cd.insert_medium(bytes);
            }
            9 => cd.remove_medium(),
            10 => cd.reset(),
            _ => {
                cd.set_read_error(i32::from(it.next().unwrap_or(0)) - 128);
                assert_eq!(cd.raw_sector(u64::from(op) << 30, &[0xaa; 100]).len(), 2352);
                let _ = cd.take_tray_moves();
                let _ = cd.take_irq_request();
            }
        }
        assert!(cd.take_tray_moves().len() <= super::MAX_TRAY_MOVES);
    }
}

fn check(cd: &Cdrom, cdb: &[u8; 12], outcome: Option<&PacketOutcome>) {
    match outcome {
        Some(PacketOutcome::Read { lba, sectors, format }) => {
            assert!(*sectors > 0);
            assert!(lba + u64::from(*sectors) <= cd.total_sectors());
            assert!(cd.media_bytes().is_some() && !cd.tray_open());
            if *format == SectorFormat::Raw2352 {
                assert_eq!(cdb[0], 0xbe);
            }
        }
        Some(PacketOutcome::DataIn(d)) => assert!(d.len() <= 65535),
        Some(PacketOutcome::Error) => assert_ne!(cd.sense_key(), 0),
        Some(PacketOutcome::Done) | None => {}
    }
}
