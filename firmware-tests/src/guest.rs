//! Assembling the boot-sector guests in `guests/` with GNU as and ld (cached by mtime).

use crate::{io_err, work_dir, Error, Result};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::SystemTime;

/// The directory holding the guest sources.
pub fn source_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("guests")
}

fn mtime(path: &Path) -> Option<SystemTime> {
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}

/// Runs a tool and turns a failure into an error carrying its stderr.
pub(crate) fn run_tool(cmd: &mut Command) -> Result<()> {
    let tool = cmd.get_program().to_string_lossy().into_owned();
    let out = cmd.output().map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            Error::MissingTool { tool: tool.clone() }
        } else {
            Error::Io { what: format!("running {tool}"), source: e }
        }
    })?;
    if out.status.success() {
        return Ok(());
    }
    Err(Error::Tool {
        tool,
        status: out.status.to_string(),
        stderr: String::from_utf8_lossy(&out.stderr).trim().to_string(),
    })
}

/// Assembles `guests/<name>.S` into a flat binary linked at 0x7C00 and returns its path.
/// Rebuilt only when the source or a shared include is newer than the binary.
pub fn build(name: &str) -> Result<PathBuf> {
    let src_dir = source_dir();
    let src = src_dir.join(format!("{name}.S"));
    let inputs = [src.clone(), src_dir.join("common.inc"), src_dir.join("prologue.inc")];
    assemble(name, &src, &[&src_dir], &inputs)
}

/// Assembles `src` (GNU as, `-I` each of `include_dirs`) into `work_dir()/guests/<name>.bin`,
/// a flat binary linked at 0x7C00, unless that is newer than every file of `inputs`.
pub(crate) fn assemble(name: &str, src: &Path, include_dirs: &[&Path], inputs: &[PathBuf]) -> Result<PathBuf> {
    let out_dir = work_dir().join("guests");
    std::fs::create_dir_all(&out_dir).map_err(io_err(format!("creating {}", out_dir.display())))?;
    let bin = out_dir.join(format!("{name}.bin"));
    let newest_input = inputs.iter().filter_map(|p| mtime(p)).max();
    if let (Some(built), Some(input)) = (mtime(&bin), newest_input) {
        if built >= input {
            return Ok(bin);
        }
    }
    // Build under a unique name and rename: parallel tests (threads and processes) may build
    // the same guest at once.
    static SEQ: AtomicUsize = AtomicUsize::new(0);
    let tmp = format!("{name}.{}.{}", std::process::id(), SEQ.fetch_add(1, Ordering::Relaxed));
    let obj = out_dir.join(format!("{tmp}.o"));
    let tmp_bin = out_dir.join(format!("{tmp}.bin"));
    let mut as_cmd = Command::new("as");
    as_cmd.arg("--32");
    for dir in include_dirs {
        as_cmd.arg("-I").arg(dir);
    }
    run_tool(as_cmd.arg("-o").arg(&obj).arg(src))?;
    run_tool(
        Command::new("ld")
            .args(["-m", "elf_i386", "-Ttext", "0x7c00", "--oformat", "binary", "-o"])
            .arg(&tmp_bin)
            .arg(&obj),
    )?;
    let _ = std::fs::remove_file(&obj);
    std::fs::rename(&tmp_bin, &bin).map_err(io_err(format!("renaming to {}", bin.display())))?;
    Ok(bin)
}

/// Reads a built guest, checking it is one boot sector.
pub fn boot_sector(name: &str) -> Result<Vec<u8>> {
    let path = build(name)?;
    let bytes = std::fs::read(&path).map_err(io_err(format!("reading {}", path.display())))?;
    if bytes.len() > 512 {
        return Err(Error::GuestTooLarge { name: name.to_string(), size: bytes.len() as u64, max: 512 });
    }
    Ok(bytes)
}
