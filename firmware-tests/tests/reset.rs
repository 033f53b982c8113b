//! The three reset paths of the pc machine: port 0x92 bit 0 (fast reset), the i8042's pulse
//! command 0xFE on port 0x64, and the reset control register 0xCF9 (0x06). The `reset` guest
//! counts boots in CMOS NVRAM, leaves markers in RAM and resets once: each path must run the
//! BIOS again (the guest boots a second time) with RAM kept. Under `-no-reboot` the same reset
//! must end the emulator with status 0 instead.

use firmware_tests::emulator::{Kind, DEFAULT_TIMEOUT};
use firmware_tests::{guest, image, run_dir, Emulator, Outcome};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The guest's method byte (offset 509 of the boot sector).
const METHOD_OFFSET: usize = 509;

#[derive(Clone, Copy)]
enum Method {
    Port92 = 1,
    I8042 = 2,
    Cf9 = 3,
}

/// A disk whose boot sector resets through `method`.
fn disk(dir: &Path, method: Method) -> PathBuf {
    let mut boot = guest::boot_sector("reset").expect("reset guest");
    boot[METHOD_OFFSET] = method as u8;
    let img = dir.join("hd.img");
    image::disk(&img, image::DISK_60_16_63_SECTORS, &boot).expect("disk image");
    img
}

fn drive_args(img: &Path) -> Vec<String> {
    vec!["-drive".into(), format!("file={},if=ide,index=0,format=raw", img.display()), "-boot".into(), "order=c".into()]
}

/// `Emulator::run` without `-no-reboot` (the harness always passes it): a reset reboots.
fn run_rebooting(emu: &Emulator, dir: &Path, extra: &[String], timeout: Duration) -> Outcome {
    let args: Vec<String> = emu.command_line(dir, extra).into_iter().filter(|a| a != "-no-reboot").collect();
    let serial_path = dir.join("serial.log");
    let stderr_path = dir.join("stderr.log");
    let stderr = std::fs::File::create(&stderr_path).expect("stderr log");
    let mut cmd = Command::new(&emu.path);
    cmd.args(&args).current_dir(dir).stdin(Stdio::null()).stdout(Stdio::null()).stderr(stderr);
    if emu.kind == Kind::Qemu {
        // PREFIX/usr/bin/qemu-system-x86_64 -> PREFIX/lib (scripts/unpack-qemu.sh)
        if let Some(lib) = emu.path.parent().and_then(Path::parent).and_then(Path::parent).map(|p| p.join("lib")) {
            cmd.env("LD_LIBRARY_PATH", lib);
        }
    }
    let mut child = cmd.spawn().expect("start the emulator");
    let start = Instant::now();
    let (status, timed_out) = loop {
        match child.try_wait().expect("wait for the emulator") {
            Some(s) => break (Some(s), false),
            None if start.elapsed() >= timeout => {
                let _ = child.kill();
                let _ = child.wait();
                break (None, true);
            }
            None => std::thread::sleep(Duration::from_millis(20)),
        }
    };
    Outcome {
        command: std::iter::once(emu.path.display().to_string()).chain(args).collect(),
        exit_code: status.and_then(|s| s.code()),
        timed_out,
        elapsed: start.elapsed(),
        serial: std::fs::read_to_string(&serial_path).unwrap_or_default(),
        stderr: std::fs::read_to_string(&stderr_path).unwrap_or_default(),
    }
}

fn reset_reboots(test: &str, method: Method) {
    let Some(emu) = Emulator::or_skip(test) else { return };
    let dir = run_dir(test).expect("run dir");
    let img = disk(&dir, method);
    let out = run_rebooting(&emu, &dir, &drive_args(&img), DEFAULT_TIMEOUT);
    assert!(out.has_line("BOOT 01") && out.has_line("BOOT 02"), "expected two boots\n{out}");
    assert!(out.has_line("RAM KEPT"), "RAM must survive the reset\n{out}");
    assert_eq!(out.guest_exit(), Some(0), "guest exit\n{out}");
}

fn no_reboot_exits(test: &str, method: Method) {
    let Some(emu) = Emulator::or_skip(test) else { return };
    let dir = run_dir(test).expect("run dir");
    let img = disk(&dir, method);
    let out = emu.run(&dir, &drive_args(&img), DEFAULT_TIMEOUT).expect("run");
    assert!(out.has_line("BOOT 01"), "expected the first boot\n{out}");
    assert!(!out.has_line("BOOT 02"), "-no-reboot must not boot again\n{out}");
    assert_eq!(out.exit_code, Some(0), "-no-reboot: a reset exits with status 0\n{out}");
}

#[test]
fn port92_reset_runs_the_bios_again() {
    reset_reboots("port92_reset_runs_the_bios_again", Method::Port92);
}

#[test]
fn i8042_reset_runs_the_bios_again() {
    reset_reboots("i8042_reset_runs_the_bios_again", Method::I8042);
}

#[test]
fn cf9_reset_runs_the_bios_again() {
    reset_reboots("cf9_reset_runs_the_bios_again", Method::Cf9);
}

#[test]
fn port92_reset_with_no_reboot_exits_0() {
    no_reboot_exits("port92_reset_with_no_reboot_exits_0", Method::Port92);
}

#[test]
fn i8042_reset_with_no_reboot_exits_0() {
    no_reboot_exits("i8042_reset_with_no_reboot_exits_0", Method::I8042);
}

#[test]
fn cf9_reset_with_no_reboot_exits_0() {
    no_reboot_exits("cf9_reset_with_no_reboot_exits_0", Method::Cf9);
}
