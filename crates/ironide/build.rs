//! Assembles the built-in demo guest (demo/demo.S) with GNU as and ld into OUT_DIR/demo.bin.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The boot sector plus the sectors it loads (demo.S's PROG_SECTORS = 16).
const MAX_DEMO_BYTES: u64 = 17 * 512;

fn fail(msg: &str) -> ! {
    eprintln!("ironide build: {msg}");
    std::process::exit(1)
}

fn run(cmd: &mut Command) {
    let tool = cmd.get_program().to_string_lossy().into_owned();
    match cmd.output() {
        Ok(out) if out.status.success() => {}
        Ok(out) => fail(&format!(
            "`{tool}` failed assembling the demo guest ({}):\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        )),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            fail(&format!("`{tool}` not found: the demo guest needs GNU binutils (as, ld): apt-get install binutils"))
        }
        Err(e) => fail(&format!("running `{tool}`: {e}")),
    }
}

fn main() {
    let manifest = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").unwrap_or_default());
    let Some(out) = std::env::var_os("OUT_DIR").map(PathBuf::from) else { fail("OUT_DIR is not set") };
    let src = manifest.join("demo").join("demo.S");
    println!("cargo:rerun-if-changed={}", src.display());
    let obj = out.join("demo.o");
    let bin = out.join("demo.bin");
    run(Command::new("as").arg("--32").arg("-o").arg(&obj).arg(&src));
    run(Command::new("ld")
        .args(["-m", "elf_i386", "-Ttext", "0x7c00", "--oformat", "binary", "-o"])
        .arg(&bin)
        .arg(&obj));
    check(&bin);
}

fn check(bin: &Path) {
    let bytes = std::fs::read(bin).unwrap_or_else(|e| fail(&format!("reading {}: {e}", bin.display())));
    if bytes.len() as u64 > MAX_DEMO_BYTES {
        fail(&format!("demo guest is {} bytes, more than the {MAX_DEMO_BYTES} its boot sector loads", bytes.len()));
    }
    if bytes.get(510..512) != Some(&[0x55, 0xaa][..]) {
        fail("demo guest: no boot signature at offset 510");
    }
}
