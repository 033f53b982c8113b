//! The `ironide` binary as a user runs it: the built-in demo, and command
//! lines it must refuse.

use std::process::Command;

fn ironide() -> Command {
    Command::new(env!("CARGO_BIN_EXE_ironide"))
}

#[test]
fn demo_passes_and_exits_zero() {
    if !std::path::Path::new("/dev/kvm").exists() {
        eprintln!("SKIP demo_passes_and_exits_zero: /dev/kvm is missing");
        return;
    }
    if !std::path::Path::new("/usr/share/seabios/bios.bin").exists() {
        eprintln!("SKIP demo_passes_and_exits_zero: SeaBIOS is not installed (apt-get install seabios)");
        return;
    }
    let out = ironide().output().expect("run ironide");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "demo failed:\n{stdout}\n{stderr}");
    assert!(stdout.contains("RESULT: PASS"), "{stdout}");
    for check in ["floppy A: AH=08h BL=04 CX=4F12 DX=0101", "disk 80h: AH=42h", "cd E0h: AH=42h"] {
        assert!(stdout.contains(check), "missing '{check}' in:\n{stdout}");
    }
}

#[test]
fn bad_command_lines_exit_1_with_one_clear_line() {
    for (args, needle) in [
        (vec!["-foo"], "-foo"),
        (vec!["-drive", "file=x,if=scsi"], "scsi"),
        (vec!["-m"], "-m"),
        (vec!["-drive", "file=/nonexistent/x.img,if=ide,throttling.bps-total=-1"], "throttling"),
    ] {
        let out = ironide().args(&args).output().expect("run ironide");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {stderr}");
        assert!(stderr.starts_with("ironide: ") && stderr.contains(needle), "{args:?}: {stderr}");
        assert_eq!(stderr.trim_end().lines().count(), 1, "{args:?}: one line expected: {stderr}");
    }
}

#[test]
fn missing_image_is_a_clear_error() {
    if !std::path::Path::new("/dev/kvm").exists() {
        eprintln!("SKIP missing_image_is_a_clear_error: /dev/kvm is missing");
        return;
    }
    let out = ironide()
        .args(["-nodefaults", "-display", "none", "-drive", "file=/nonexistent/x.img,if=ide,format=raw"])
        .output()
        .expect("run ironide");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("Could not open '/nonexistent/x.img': No such file or directory"), "{stderr}");
}
