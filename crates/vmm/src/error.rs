//! What can stop the machine from being built or from running.

use std::path::PathBuf;

/// Errors of machine construction and of the run loop.
#[derive(Debug, thiserror::Error)]
pub enum VmmError {
    #[error("cannot open /dev/kvm: {0}")]
    KvmOpen(#[source] kvm_ioctls::Error),
    #[error("KVM: {what}: {err}")]
    Kvm {
        what: &'static str,
        #[source]
        err: kvm_ioctls::Error,
    },
    #[error("could not load firmware '{path}': {err}")]
    Firmware {
        path: PathBuf,
        #[source]
        err: std::io::Error,
    },
    #[error("firmware '{path}' has an unusable size ({size} bytes): it must be a multiple of 64 KiB, at most 16 MiB")]
    FirmwareSize { path: PathBuf, size: usize },
    #[error("cannot allocate {0} bytes of guest RAM")]
    Ram(u64),
    #[error("guest memory: {0}")]
    Memory(String),
    #[error("drive '{name}': {err}")]
    Drive { name: String, err: String },
    #[error("{0}")]
    Config(String),
    #[error("{what}: {err}")]
    Io {
        what: &'static str,
        #[source]
        err: std::io::Error,
    },
    #[error("vCPU stopped: {0}")]
    Emulation(String),
}

impl VmmError {
    pub(crate) fn kvm(what: &'static str) -> impl FnOnce(kvm_ioctls::Error) -> VmmError {
        move |err| VmmError::Kvm { what, err }
    }

    pub(crate) fn io(what: &'static str) -> impl FnOnce(std::io::Error) -> VmmError {
        move |err| VmmError::Io { what, err }
    }
}
