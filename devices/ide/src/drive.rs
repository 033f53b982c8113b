//! A drive attached to a channel: its configuration and per-device state.

use ironide_block::layer::BackendId;

use crate::atapi::Cdrom;
use crate::identify::{ModeWords, MAX_MULT_SECTORS};
use crate::taskfile::{Signature, TaskFile};

/// What sits on an IDE slot.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DriveKind {
    /// An ATA disk with its physical (IDENTIFY) geometry.
    Disk { cyls: u32, heads: u32, secs: u32 },
    /// An ATAPI CD/DVD-ROM.
    Cdrom,
}

/// How a drive is configured (`-drive if=ide` / `-device ide-hd|ide-cd`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IdeDriveConfig {
    pub kind: DriveKind,
    /// The block backend; `None` for an empty CD-ROM drive (a disk without
    /// one aborts every media command).
    pub backend: Option<BackendId>,
    /// Defaults: "QM%05d" numbered in attach order, "QEMU HARDDISK" /
    /// "QEMU DVD-ROM", "2.5+".
    pub serial: Option<String>,
    pub model: Option<String>,
    pub firmware: Option<String>,
    pub wwn: Option<u64>,
    /// CD-ROM only: the size in bytes of the medium present at power-on
    /// (the backend's size when it has one). A medium present at power-on
    /// is not a media change.
    pub media_bytes: Option<u64>,
}

impl IdeDriveConfig {
    pub fn disk(backend: BackendId, cyls: u32, heads: u32, secs: u32) -> Self {
        IdeDriveConfig {
            kind: DriveKind::Disk { cyls, heads, secs },
            backend: Some(backend),
            serial: None,
            model: None,
            firmware: None,
            wwn: None,
            media_bytes: None,
        }
    }

    pub fn cdrom(backend: Option<BackendId>, media_bytes: Option<u64>) -> Self {
        IdeDriveConfig {
            kind: DriveKind::Cdrom,
            backend,
            serial: None,
            model: None,
            firmware: None,
            wwn: None,
            media_bytes,
        }
    }
}

#[derive(Debug)]
pub(crate) struct Drive {
    pub backend: Option<BackendId>,
    pub serial: String,
    pub model: String,
    pub firmware: String,
    pub wwn: Option<u64>,
    pub cyls: u32,
    pub heads: u32,
    pub secs: u32,
    /// CHS translation in use (INITIALIZE DEVICE PARAMETERS changes it).
    pub cur_heads: u32,
    pub cur_secs: u32,
    pub mult_sectors: u32,
    pub modes: ModeWords,
    pub smart_enabled: bool,
    pub smart_autosave: bool,
    pub cd: Option<Box<Cdrom>>,
}

impl Drive {
    pub fn new(cfg: &IdeDriveConfig, serial_no: u32) -> Self {
        let (cyls, heads, secs, cd, model) = match cfg.kind {
            DriveKind::Disk { cyls, heads, secs } => (cyls, heads, secs, None, "QEMU HARDDISK"),
            DriveKind::Cdrom => (0, 0, 0, Some(Box::new(Cdrom::new(cfg.media_bytes))), "QEMU DVD-ROM"),
        };
        Drive {
            backend: cfg.backend,
            serial: cfg.serial.clone().unwrap_or_else(|| format!("QM{serial_no:05}")),
            model: cfg.model.clone().unwrap_or_else(|| model.to_string()),
            firmware: cfg.firmware.clone().unwrap_or_else(|| "2.5+".to_string()),
            wwn: cfg.wwn,
            cyls,
            heads,
            secs,
            cur_heads: heads,
            cur_secs: secs,
            mult_sectors: MAX_MULT_SECTORS,
            modes: ModeWords::default(),
            smart_enabled: true,
            smart_autosave: true,
            cd,
        }
    }

    pub fn is_cd(&self) -> bool {
        self.cd.is_some()
    }

    pub fn signature(&self) -> Signature {
        if self.is_cd() {
            Signature::Atapi
        } else {
            Signature::Disk
        }
    }
}

/// One of the two device positions of a channel. The registers exist even
/// without a drive: task-file writes reach both positions.
#[derive(Debug)]
pub(crate) struct Slot {
    pub tf: TaskFile,
    pub status: u8,
    pub error: u8,
    pub drive: Option<Drive>,
}

impl Slot {
    pub fn empty() -> Self {
        let mut tf = TaskFile::power_on();
        tf.set_signature(Signature::None);
        Slot { tf, status: crate::taskfile::DRDY | crate::taskfile::DSC, error: 0, drive: None }
    }

    pub fn signature(&self) -> Signature {
        self.drive.as_ref().map_or(Signature::None, Drive::signature)
    }

    pub fn is_cd(&self) -> bool {
        self.drive.as_ref().is_some_and(Drive::is_cd)
    }
}
