//! Real guests booted under KVM: SeaBIOS plus the project's own boot-sector programs
//! (`guests/*.S`), on floppy, hard-disk and El Torito CD images, run with the emulator the
//! environment names (`IRONIDE_EMULATOR`, default: the workspace's release `ironide`).
//!
//! The same command line runs on ironide and on QEMU, so the tests double as the side-by-side
//! reference: point `IRONIDE_EMULATOR` at QEMU's `qemu-system-x86_64` to check the guests
//! themselves.

pub mod check;
pub mod emulator;
pub mod grub;
pub mod guest;
pub mod image;
pub mod kit;
pub mod linux;
pub mod session;
pub mod testspeed;

pub use emulator::{Emulator, Outcome, Run};
pub use session::Session;

use std::path::PathBuf;

/// Everything that can stop a firmware test before its assertions.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{what}: {source}")]
    Io {
        what: String,
        #[source]
        source: std::io::Error,
    },
    #[error("`{tool}` failed ({status}): {stderr}")]
    Tool { tool: String, status: String, stderr: String },
    #[error("`{tool}` not found: install it (scripts/install-deps.sh installs binutils and xorriso)")]
    MissingTool { tool: String },
    #[error("guest {name} is {size} bytes, more than {max}")]
    GuestTooLarge { name: String, size: u64, max: u64 },
}

pub type Result<T> = std::result::Result<T, Error>;

pub(crate) fn io_err(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> Error {
    let what = what.into();
    move |source| Error::Io { what, source }
}

/// The workspace root (this crate lives one level below it).
pub fn workspace_root() -> PathBuf {
    let here = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    here.parent().map(PathBuf::from).unwrap_or(here)
}

/// Cargo's target directory (honours CARGO_TARGET_DIR).
pub fn target_dir() -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => workspace_root().join("target"),
    }
}

/// Where built guests, images and run directories go.
pub fn work_dir() -> PathBuf {
    target_dir().join("firmware-tests")
}

/// A fresh, empty directory for one test's images and logs (kept after the test for inspection).
pub fn run_dir(test: &str) -> Result<PathBuf> {
    let dir = work_dir().join("run").join(test);
    if dir.exists() {
        std::fs::remove_dir_all(&dir).map_err(io_err(format!("clearing {}", dir.display())))?;
    }
    std::fs::create_dir_all(&dir).map_err(io_err(format!("creating {}", dir.display())))?;
    Ok(dir)
}
