//! The guest test kit (firmware-tests/kit): a real-mode program booted by SeaBIOS that drives
//! the controllers like an OS driver and reports `CHECK` lines. One boot per device family;
//! the ATAPI and floppy ones change media over QMP while the guest runs.

use firmware_tests::emulator::DEFAULT_TIMEOUT;
use firmware_tests::kit::{self, Check};
use firmware_tests::{image, run_dir, Emulator, Outcome, Run, Session};
use serde_json::{json, Value};
use std::path::Path;
use std::time::Duration;

/// How long the host waits for a marker (the guest needs SeaBIOS's boot first).
const MARKER: Duration = Duration::from_secs(30);

/// Every check the guest ran passed, the list is the expected one, and the guest said so.
fn assert_all_pass(out: &Outcome, want: &[&str]) {
    let checks: Vec<Check> = kit::checks(&out.serial);
    let names: Vec<&str> = checks.iter().map(|c| c.name.as_str()).collect();
    let failed: Vec<&Check> = checks.iter().filter(|c| !c.pass).collect();
    assert!(failed.is_empty(), "failed checks: {failed:?}\n{out}");
    assert_eq!(names, want, "checks run\n{out}");
    let n = want.len() as u32;
    assert_eq!(kit::done(&out.serial), Some((n, n)), "KIT-DONE\n{out}");
    assert_eq!(out.guest_exit(), Some(0), "guest exit\n{out}");
}

fn assert_image(path: &Path, lba: u64, sectors: u64, seed: u32, sector_size: u64) {
    let bytes = sector_size * sectors;
    let data = image::read_sectors(path, lba * sector_size / image::SECTOR, bytes / image::SECTOR).expect("read back");
    let want = kit::pattern(seed, lba * sector_size, bytes as usize);
    let first_bad = data.iter().zip(&want).position(|(a, b)| a != b);
    assert_eq!(first_bad, None, "{} LBA {lba}+{sectors}: the guest's data is not in the image", path.display());
}

/// The DEVICE_TRAY_MOVED events so far, as (device, tray-open).
fn tray_moves(s: &mut Session) -> Vec<(String, bool)> {
    let events: Vec<Value> = s.events().expect("events").to_vec();
    events
        .iter()
        .filter(|e| e["event"] == "DEVICE_TRAY_MOVED")
        .map(|e| (e["data"]["device"].as_str().unwrap_or("").to_string(), e["data"]["tray-open"] == true))
        .collect()
}

#[test]
fn kit_ata() {
    const TEST: &str = "kit_ata";
    let Some(emu) = Emulator::or_skip(TEST) else { return };
    let dir = run_dir(TEST).expect("run dir");
    let hd = dir.join("hd.img");
    kit::ata_disk(&hd).expect("kit disk");
    let run = Run::new().drive(&hd, "if=ide,index=0,format=raw");
    let out = emu.run(&dir, &run.args, DEFAULT_TIMEOUT).expect("run");
    assert_all_pass(
        &out,
        &[
            "pci-ide",
            "ata-identify",
            "ata-pio-read",
            "ata-pio-write",
            "ata-dma-read",
            "ata-dma-write",
            "ata-lba48-dma",
            "ata-out-of-range",
            "ata-nien",
        ],
    );
    let (lba, n, seed) = kit::PIO_WRITE;
    assert_image(&hd, lba, n, seed, 512);
    let (lba, n, seed) = kit::DMA_WRITE;
    assert_image(&hd, lba, n, seed, 512);
    // The sectors around the writes kept the original pattern.
    assert_image(&hd, kit::PIO_WRITE.0 - 1, 1, kit::DISK_SEED, 512);
    assert_image(&hd, kit::DMA_WRITE.0 + kit::DMA_WRITE.1, 1, kit::DISK_SEED, 512);
}

/// The CD handshake: the guest locks the tray; the host's `eject` is refused (and becomes an
/// eject request), `blockdev-open-tray` succeeds without moving anything (another request);
/// the guest sees both in GET EVENT STATUS NOTIFICATION, unlocks and ejects (the host sees
/// DEVICE_TRAY_MOVED open), the host changes the medium, the guest sees UNIT ATTENTION and
/// reads the new medium.
#[test]
fn kit_atapi_tray_and_medium_change() {
    const TEST: &str = "kit_atapi";
    let Some(emu) = Emulator::or_skip(TEST) else { return };
    let dir = run_dir(TEST).expect("run dir");
    let hd = dir.join("hd.img");
    let (cd_a, cd_b) = (dir.join("a.iso"), dir.join("b.iso"));
    kit::kit_disk(&hd, 4096, kit::Mode::Atapi, [kit::CD_SECTORS_A as u32, kit::CD_SECTORS_B as u32, 0])
        .expect("kit disk");
    kit::cd_image(&cd_a, kit::CD_SECTORS_A, kit::CD_SEED_A).expect("CD A");
    kit::cd_image(&cd_b, kit::CD_SECTORS_B, kit::CD_SEED_B).expect("CD B");
    let run = Run::new()
        .drive(&hd, "if=ide,index=0,format=raw")
        .drive(&cd_a, "if=ide,index=2,media=cdrom,format=raw,id=cd0")
        .boot("c");
    let mut s = emu.spawn(&dir, &run.args).expect("spawn");

    assert!(s.wait_serial(kit::WAIT_EJECT_REQUEST, MARKER), "no {}:\n{}", kit::WAIT_EJECT_REQUEST, s.serial());
    let refused = s.command("eject", json!({"device": "cd0"})).expect("eject");
    let text = "Device 'cd0' is locked and force was not specified, wait for tray to open and try again";
    assert_eq!(refused["error"]["desc"], text, "eject on the locked tray: {refused}");
    assert!(s.wait_serial(kit::SAW_EJECT_REQUEST, MARKER), "guest missed the first request:\n{}", s.serial());
    assert_eq!(s.execute("blockdev-open-tray", json!({"device": "cd0"})).expect("open-tray"), json!({}));
    assert!(tray_moves(&mut s).is_empty(), "a locked tray does not move");

    assert!(s.wait_serial(kit::WAIT_MEDIUM, MARKER), "no {}:\n{}", kit::WAIT_MEDIUM, s.serial());
    assert_eq!(tray_moves(&mut s), [("cd0".to_string(), true)], "the guest's eject opened the tray");
    // A -drive CD without a device id is named by QEMU's QOM path (KVM, COM1, no floppy: the
    // disk is device[20], the CD device[21]).
    let ids: Vec<Value> = s.events().expect("events").iter().map(|e| e["data"]["id"].clone()).collect();
    assert_eq!(ids.last(), Some(&json!("/machine/unattached/device[21]")), "{ids:?}");
    let change = json!({"device": "cd0", "filename": cd_b.display().to_string(), "format": "raw"});
    s.execute("blockdev-change-medium", change).expect("change medium");
    assert_eq!(tray_moves(&mut s).last(), Some(&("cd0".to_string(), false)), "change-medium closes the tray");

    println!("events: {:?}", s.events().expect("events"));
    let out = s.finish(DEFAULT_TIMEOUT * 2).expect("finish");
    assert_all_pass(
        &out,
        &[
            "pci-ide",
            "atapi-identify-packet",
            "atapi-test-unit-ready",
            "atapi-read-capacity",
            "atapi-read-pio",
            "atapi-read-dma",
            "atapi-lock-eject-request",
            "atapi-unlock-eject",
            "atapi-medium-change-unit-attention",
            "atapi-gesn-new-medium",
            "atapi-read-new-medium",
        ],
    );
}

/// Floppy: reset/recalibrate, DMA read and write through the 8237, then DSKCHG after the
/// host's blockdev-change-medium and a read of the new medium. The write lands in the first
/// image.
#[test]
fn kit_floppy_dma_and_disk_change() {
    const TEST: &str = "kit_floppy";
    let Some(emu) = Emulator::or_skip(TEST) else { return };
    let dir = run_dir(TEST).expect("run dir");
    let hd = dir.join("hd.img");
    let (fd_a, fd_b) = (dir.join("a.img"), dir.join("b.img"));
    kit::kit_disk(&hd, 4096, kit::Mode::Floppy, [0; 3]).expect("kit disk");
    kit::floppy_image(&fd_a, kit::FD_SEED_A).expect("floppy A");
    kit::floppy_image(&fd_b, kit::FD_SEED_B).expect("floppy B");
    let run = Run::new()
        .drive(&hd, "if=ide,index=0,format=raw")
        .drive(&fd_a, "if=floppy,index=0,format=raw,id=fd0")
        .boot("c");
    let mut s = emu.spawn(&dir, &run.args).expect("spawn");
    assert!(s.wait_serial(kit::WAIT_FLOPPY_CHANGE, MARKER), "no {}:\n{}", kit::WAIT_FLOPPY_CHANGE, s.serial());
    let change = json!({"device": "fd0", "filename": fd_b.display().to_string(), "format": "raw"});
    s.execute("blockdev-change-medium", change).expect("change medium");
    let out = s.finish(DEFAULT_TIMEOUT * 2).expect("finish");
    assert_all_pass(
        &out,
        &["fdc-reset-recalibrate", "fdc-read-dma", "fdc-write-dma", "fdc-disk-change", "fdc-read-new-medium"],
    );
    let (lba, n, seed) = kit::FD_WRITE;
    assert_image(&fd_a, lba, n, seed, 512);
    assert_image(&fd_a, lba + n, 1, kit::FD_SEED_A, 512);
    assert_image(&fd_b, lba, n, kit::FD_SEED_B, 512);
}

/// The benchmark loops run to their end markers and report the bytes asked for.
#[test]
fn kit_bench_loops_report_their_bytes() {
    const TEST: &str = "kit_bench";
    let Some(emu) = Emulator::or_skip(TEST) else { return };
    for (name, make) in [("dma", kit::dma_read_bench as fn(&Path, u32) -> _), ("pio", kit::pio_read_bench)] {
        let dir = run_dir(&format!("{TEST}_{name}")).expect("run dir");
        let b = make(&dir, 2).expect("bench disk");
        let out = emu.run(&dir, &b.run.args, DEFAULT_TIMEOUT).expect("run");
        assert!(out.serial.contains(b.begin), "{out}");
        assert_eq!(kit::bench_bytes(&out.serial, b.end), Some(b.bytes), "{out}");
        assert_eq!(out.guest_exit(), Some(0), "{out}");
    }
    // Through a throttled drive (2 MiB at 4 MiB/s with its burst: the guest just waits longer).
    let dir = run_dir(&format!("{TEST}_throttled")).expect("run dir");
    let b = kit::dma_read_bench(&dir, 2).expect("bench disk");
    let run = b.run_with(",throttling.bps-read=4194304");
    let out = emu.run(&dir, &run.args, DEFAULT_TIMEOUT).expect("run");
    assert_eq!(kit::bench_bytes(&out.serial, b.end), Some(b.bytes), "{out}");
    assert_eq!(out.guest_exit(), Some(0), "{out}");
}

/// Not a test: times the bench loops on this emulator (`cargo test --release -p firmware-tests
/// --test kit -- --ignored --nocapture`; KIT_BENCH_MIB sets the size, default 32).
#[test]
#[ignore]
fn kit_bench_timing() {
    const TEST: &str = "kit_bench_timing";
    let Some(emu) = Emulator::or_skip(TEST) else { return };
    let mib: u32 = std::env::var("KIT_BENCH_MIB").ok().and_then(|v| v.parse().ok()).unwrap_or(32);
    for (name, make) in [("dma", kit::dma_read_bench as fn(&Path, u32) -> _), ("pio", kit::pio_read_bench)] {
        let dir = run_dir(&format!("{TEST}_{name}")).expect("run dir");
        let b = make(&dir, mib).expect("bench disk");
        let mut s = emu.spawn(&dir, &b.run.args).expect("spawn");
        assert!(s.wait_serial(b.begin, MARKER), "{}", s.serial());
        let t0 = s.elapsed();
        assert!(s.wait_serial(b.end, Duration::from_secs(600)), "{}", s.serial());
        let secs = (s.elapsed() - t0).as_secs_f64();
        let out = s.finish(Duration::from_secs(700)).expect("finish");
        assert_eq!(kit::bench_bytes(&out.serial, b.end), Some(b.bytes), "{out}");
        println!("{name}: {mib} MiB in {secs:.3} s = {:.1} MiB/s ({})", f64::from(mib) / secs, emu.path.display());
    }
}
