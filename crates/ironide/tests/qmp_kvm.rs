//! stop, cont and system_reset on a real vCPU (KVM): a tiny firmware
//! prints 'R' once at reset, then dots forever on the debug console. A
//! paused vCPU prints nothing; a reset (even while paused) prints 'R' again.
//! Skipped without /dev/kvm.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::qmp::{self, Qmp};
use common::{accept, exit_within, image_in, ironide, tempdir, TIMEOUT};
use serde_json::{json, Value};

/// 64 KiB firmware: at F000:0000 `out 'R'`, then a loop of `out '.'` and a
/// delay; the reset vector jumps there.
fn firmware(path: &Path) {
    let mut img = vec![0xF4u8; 64 << 10];
    let code: [u8; 22] = [
        0xB0, b'R', // mov al,'R'
        0xBA, 0x02, 0x04, // mov dx,0x402
        0xEE, // out dx,al
        0xB0, b'.', // 6: mov al,'.'
        0xEE, // out dx,al
        0xBB, 0x20, 0x00, // mov bx,0x20
        0xB9, 0xFF, 0xFF, // 12: mov cx,0xffff
        0xE2, 0xFE, // 15: loop $
        0x4B, // dec bx
        0x75, 0xF8, // jnz 12
        0xEB, 0xF0, // jmp 6
    ];
    img[..code.len()].copy_from_slice(&code);
    // Reset vector (F000:FFF0): jmp far F000:0000.
    img[0xFFF0..0xFFF5].copy_from_slice(&[0xEA, 0x00, 0x00, 0x00, 0xF0]);
    std::fs::write(path, img).expect("write firmware");
}

fn output(p: &Path) -> String {
    String::from_utf8_lossy(&std::fs::read(p).unwrap_or_default()).into_owned()
}

fn wait_for(what: &str, mut f: impl FnMut() -> bool) {
    let start = Instant::now();
    while !f() {
        assert!(start.elapsed() < TIMEOUT, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn resets(p: &Path) -> usize {
    output(p).matches('R').count()
}

/// The output does not grow for a while (the vCPU is parked).
fn assert_quiet(p: &Path) {
    std::thread::sleep(Duration::from_millis(100));
    let before = output(p).len();
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(output(p).len(), before, "the guest ran while paused");
}

fn assert_runs(p: &Path) {
    let before = output(p).len();
    wait_for("the guest to run", || output(p).len() > before);
}

#[test]
fn stop_cont_and_system_reset_drive_the_vcpu() {
    if !Path::new("/dev/kvm").exists() {
        eprintln!("SKIP stop_cont_and_system_reset_drive_the_vcpu: /dev/kvm is missing");
        return;
    }
    let dir = tempdir();
    let bios = dir.path().join("bios.bin");
    firmware(&bios);
    let out = dir.path().join("debugcon.log");
    let disk = image_in(dir.path(), "disk.img", 1 << 20);
    let (l, qmp_arg) = qmp::listen(dir.path());
    let mut child = ironide()
        .args(["-machine", "pc,accel=kvm", "-nodefaults", "-display", "none", "-bios"])
        .arg(&bios)
        .arg("-chardev")
        .arg(format!("file,id=dbg,path={}", out.display()))
        .args(["-device", "isa-debugcon,iobase=0x402,chardev=dbg", "-drive"])
        .arg(format!("file={},if=ide,index=0,format=raw", disk.display()))
        .arg("-qmp")
        .arg(qmp_arg)
        .spawn()
        .expect("spawn ironide");
    let s = accept(&l, &mut child, "QMP");
    let mut q = Qmp::new(s);
    q.negotiate();
    wait_for("the firmware's first output", || output(&out).starts_with("R."));

    assert_eq!(q.ok("stop", Value::Null), json!({}));
    assert_eq!(q.take_event_names(), ["STOP"]);
    assert_eq!(q.ok("query-status", Value::Null), json!({"status": "paused", "running": false}));
    assert_quiet(&out);

    q.ok("cont", Value::Null);
    assert_eq!(q.take_event_names(), ["RESUME"]);
    assert_runs(&out);

    q.ok("system_reset", Value::Null);
    assert_eq!(q.take_event_names(), ["RESET"]);
    wait_for("the reset to restart the firmware", || resets(&out) == 2);

    // A reset while paused happens now; the guest stays paused until cont.
    q.ok("stop", Value::Null);
    q.ok("system_reset", Value::Null);
    assert_eq!(q.take_event_names(), ["STOP", "RESET"]);
    assert_quiet(&out);
    assert_eq!(resets(&out), 2);
    assert_eq!(q.ok("query-status", Value::Null)["status"], "paused");
    q.ok("cont", Value::Null);
    wait_for("the paused reset to take effect", || resets(&out) == 3);

    q.ok("quit", Value::Null);
    assert_eq!(q.take_event_names(), ["RESUME", "SHUTDOWN"]);
    let st = exit_within(&mut child, TIMEOUT).expect("ironide did not exit after quit");
    assert_eq!(st.code(), Some(0));
}

/// Starts the dot-printing firmware with `qmp_opts` on a server socket in `dir`.
fn spawn_with_server(
    dir: &Path,
    qmp_opts: &str,
    extra: &[&str],
) -> (std::process::Child, std::path::PathBuf, std::path::PathBuf) {
    let bios = dir.join("bios.bin");
    firmware(&bios);
    let out = dir.join("debugcon.log");
    let sock = dir.join("qmp-server.sock");
    let child = ironide()
        .args(["-machine", "pc,accel=kvm", "-nodefaults", "-display", "none", "-bios"])
        .arg(&bios)
        .arg("-chardev")
        .arg(format!("file,id=dbg,path={}", out.display()))
        .args(["-device", "isa-debugcon,iobase=0x402,chardev=dbg", "-qmp"])
        .arg(format!("unix:{}{qmp_opts}", sock.display()))
        .args(extra)
        .spawn()
        .expect("spawn ironide");
    (child, out, sock)
}

/// `server=on` without `wait=off` (QEMU's default wait=on): the guest does not start until a
/// client connects.
#[test]
fn qmp_server_wait_on_holds_the_guest_until_a_client_connects() {
    if !Path::new("/dev/kvm").exists() {
        eprintln!("SKIP qmp_server_wait_on_holds_the_guest_until_a_client_connects: /dev/kvm is missing");
        return;
    }
    let dir = tempdir();
    let (mut child, out, sock) = spawn_with_server(dir.path(), ",server=on", &[]);
    wait_for("the QMP server socket", || sock.exists());
    std::thread::sleep(Duration::from_millis(400));
    assert_eq!(output(&out), "", "the guest ran before a QMP client connected");
    let mut q = Qmp::new(qmp::connect_server(&sock));
    q.negotiate();
    wait_for("the firmware's first output", || output(&out).starts_with("R."));
    q.ok("quit", Value::Null);
    assert_eq!(exit_within(&mut child, TIMEOUT).map(|s| s.code()), Some(Some(0)));
}

/// `-S`: the vCPU waits in prelaunch until `cont`.
#[test]
fn dash_s_waits_in_prelaunch_until_cont() {
    if !Path::new("/dev/kvm").exists() {
        eprintln!("SKIP dash_s_waits_in_prelaunch_until_cont: /dev/kvm is missing");
        return;
    }
    let dir = tempdir();
    let (mut child, out, sock) = spawn_with_server(dir.path(), ",server=on,wait=off", &["-S"]);
    let mut q = Qmp::new(qmp::connect_server(&sock));
    q.negotiate();
    assert_eq!(q.ok("query-status", Value::Null), json!({"status": "prelaunch", "running": false}));
    assert_quiet(&out);
    q.ok("cont", Value::Null);
    assert_eq!(q.take_event_names(), ["RESUME"]);
    wait_for("the firmware's first output", || output(&out).starts_with("R."));
    assert_eq!(q.ok("query-status", Value::Null), json!({"status": "running", "running": true}));
    q.ok("quit", Value::Null);
    assert_eq!(exit_within(&mut child, TIMEOUT).map(|s| s.code()), Some(Some(0)));
}
