//! Shared helpers of the machine tests: configurations without the command
//! line parser, boot sectors assembled with GNU as, KVM detection.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

use ironide_block::engine::AioMode;
use ironide_block::layer::NodeSpec;
use ironide_vmm::config::{
    BackendPlan, BiosChsTrans, BootDevice, CharBackend, DebugExitPlan, DebugconPlan, FloppyDriveType, FloppyPlan,
    IdePlan, MachineConfig,
};

/// Why a KVM test cannot run here, if it cannot.
pub fn kvm_missing() -> Option<String> {
    if !Path::new("/dev/kvm").exists() {
        return Some("no /dev/kvm".into());
    }
    if !Path::new(ironide_vmm::memory::DEFAULT_BIOS).exists() {
        return Some(format!("no SeaBIOS at {} (apt-get install seabios)", ironide_vmm::memory::DEFAULT_BIOS));
    }
    None
}

/// Assemble `source` with GNU as (`as_flag`, e.g. `--32`) and link it as a
/// flat binary at `text` (`ld -m EMULATION -Ttext TEXT`), with the files
/// `dir/NAME.{S,o,bin}`; None when binutils are missing or fail.
pub fn assemble(dir: &Path, name: &str, source: &str, as_flag: &str, emulation: &str, text: &str) -> Option<Vec<u8>> {
    let (s, o, b) = (dir.join(format!("{name}.S")), dir.join(format!("{name}.o")), dir.join(format!("{name}.bin")));
    std::fs::write(&s, source).ok()?;
    let ok = Command::new("as").args([as_flag, "-o"]).arg(&o).arg(&s).status().ok()?.success()
        && Command::new("ld")
            .args(["-m", emulation, "-Ttext", text, "--oformat", "binary", "-o"])
            .arg(&b)
            .arg(&o)
            .status()
            .ok()?
            .success();
    if !ok {
        return None;
    }
    std::fs::read(&b).ok()
}

/// Assemble a 16-bit boot sector (org 0x7C00) with GNU as/ld; None when
/// binutils are missing.
pub fn boot_sector(dir: &Path, source: &str) -> Option<Vec<u8>> {
    let mut code = assemble(dir, "boot", source, "--32", "elf_i386", "0x7c00")?;
    assert!(code.len() <= 510, "boot sector too long: {} bytes", code.len());
    code.resize(510, 0);
    code.extend_from_slice(&[0x55, 0xAA]);
    Some(code)
}

/// A boot sector that counts boots in CMOS NVRAM byte 0x40, prints
/// "BOOT<n>" on COM1, and then either resets through 0xCF9 (while
/// n < `boots`) or exits through isa-debug-exit with `exit_val`.
pub fn counting_program(boots: u8, exit_val: u8) -> String {
    format!(
        r#"
.code16
.globl _start
_start:
    cli
    xor %ax, %ax
    mov %ax, %ds
    mov %ax, %ss
    mov $0x7c00, %sp
    mov $0x40, %al
    out %al, $0x70
    in $0x71, %al
    inc %al
    mov %al, %bl
    mov $0x40, %al
    out %al, $0x70
    mov %bl, %al
    out %al, $0x71
    mov $msg, %si
1:  lodsb
    test %al, %al
    jz 2f
    call putc
    jmp 1b
2:  mov %bl, %al
    add $'0', %al
    call putc
    mov $'\n', %al
    call putc
    cmp ${boots}, %bl
    jb reboot
    mov ${exit_val}, %al
    out %al, $0xf4
3:  hlt
    jmp 3b
reboot:
    mov $0xcf9, %dx
    mov $0x06, %al
    out %al, %dx
    jmp 3b
putc:
    mov %al, %ah
    mov $0x3fd, %dx
4:  in %dx, %al
    test $0x20, %al
    jz 4b
    mov %ah, %al
    mov $0x3f8, %dx
    out %al, %dx
    ret
msg: .asciz "BOOT"
"#
    )
}

pub fn image(dir: &Path, name: &str, sector0: &[u8], size: usize) -> PathBuf {
    let mut d = sector0.to_vec();
    d.resize(size, 0);
    let p = dir.join(name);
    std::fs::write(&p, d).unwrap();
    p
}

pub fn backend(name: &str, path: &Path) -> BackendPlan {
    BackendPlan {
        name: name.into(),
        medium: Some(NodeSpec::raw_over_file(path, false, false, false, AioMode::Auto)),
        node: None,
        read_only: false,
        write_cache: true,
        cache: Default::default(),
        aio: AioMode::Auto,
        werror: Default::default(),
        rerror: Default::default(),
        throttle: None,
    }
}

pub fn ide_disk(backend: usize) -> IdePlan {
    IdePlan {
        cdrom: false,
        backend: Some(backend),
        qdev_id: None,
        chs: None,
        trans: BiosChsTrans::default(),
        serial: None,
        model: None,
        wwn: None,
        write_cache: None,
        discard_granularity: None,
    }
}

/// `-nodefaults -serial file:SERIAL -device isa-debug-exit -boot order=...`
pub fn base_config(serial: &Path, boot: &[BootDevice]) -> MachineConfig {
    let mut cfg = MachineConfig { ram_bytes: 128 << 20, smp: 1, nodefaults: true, ..Default::default() };
    cfg.boot.order = boot.to_vec();
    cfg.boot.menu = Some(false);
    cfg.layout.serial = Some(CharBackend::File(serial.to_owned()));
    cfg.layout.debug_exit = Some(DebugExitPlan { iobase: 0xF4, iosize: 4 });
    // SeaBIOS's own log, shown when a test fails.
    cfg.layout.debugcon = Some(DebugconPlan { iobase: 0x402, out: CharBackend::File(serial.with_extension("bios")) });
    cfg
}

pub fn floppy(backend: usize) -> FloppyPlan {
    FloppyPlan { backend: Some(backend), qdev_id: None, drive_type: FloppyDriveType::Auto }
}
