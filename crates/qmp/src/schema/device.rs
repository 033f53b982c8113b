//! Arguments of the device-level block commands (qapi/block.json): tray and
//! medium commands, I/O throttling and latency histograms.

use ironide_block::throttle::config::{BucketKind, ThrottleConfig};

use super::args::{ArgResult, Args};
use crate::error::QmpError;

/// The `device` (backend name, deprecated) / `id` (qdev id) pair.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DeviceSel {
    pub device: Option<String>,
    pub id: Option<String>,
}

/// What a `DeviceSel` names once checked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target<'a> {
    /// A BlockBackend name (`device`).
    Backend(&'a str),
    /// A device (qdev) id or path (`id`).
    Qdev(&'a str),
}

impl DeviceSel {
    pub(crate) fn read(a: &mut Args) -> ArgResult<Self> {
        Ok(DeviceSel { device: a.opt_str("device")?, id: a.opt_str("id")? })
    }

    /// Exactly one of the two must be given (QEMU's first check in every
    /// command taking both).
    pub fn target(&self) -> Result<Target<'_>, QmpError> {
        match (&self.device, &self.id) {
            (Some(d), None) => Ok(Target::Backend(d)),
            (None, Some(i)) => Ok(Target::Qdev(i)),
            _ => Err(QmpError::generic("Need exactly one of 'device' and 'id'")),
        }
    }

    /// The name as the user passed it (for messages such as eject's).
    pub fn name(&self) -> &str {
        self.device.as_deref().or(self.id.as_deref()).unwrap_or("")
    }
}

/// BlockdevChangeReadOnlyMode.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ReadOnlyMode {
    #[default]
    Retain,
    ReadOnly,
    ReadWrite,
}

pub(crate) const READ_ONLY_MODES: &[(&str, ReadOnlyMode)] =
    &[("retain", ReadOnlyMode::Retain), ("read-only", ReadOnlyMode::ReadOnly), ("read-write", ReadOnlyMode::ReadWrite)];

/// blockdev-change-medium.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChangeMedium {
    pub sel: DeviceSel,
    pub filename: String,
    pub format: Option<String>,
    pub force: bool,
    pub read_only_mode: ReadOnlyMode,
}

impl ChangeMedium {
    pub(crate) fn read(a: &mut Args) -> ArgResult<Self> {
        let sel = DeviceSel::read(a)?;
        let filename = a.req_str("filename")?;
        let format = a.opt_str("format")?;
        let force = a.opt_bool("force")?.unwrap_or(false);
        let read_only_mode = a.opt_enum("read-only-mode", READ_ONLY_MODES)?.unwrap_or_default();
        Ok(ChangeMedium { sel, filename, format, force, read_only_mode })
    }
}

/// BlockIOThrottle, values as the client sent them (signed, like QEMU's
/// int fields). `to_config` applies QEMU's validity checks.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BlockIoThrottle {
    pub sel: DeviceSel,
    /// bps, bps_rd, bps_wr, iops, iops_rd, iops_wr (BucketKind order).
    pub avg: [i64; 6],
    pub max: [Option<i64>; 6],
    pub max_length: [Option<i64>; 6],
    pub iops_size: Option<i64>,
    pub group: Option<String>,
}

impl BlockIoThrottle {
    pub(crate) fn read(a: &mut Args) -> ArgResult<Self> {
        let mut t = BlockIoThrottle { sel: DeviceSel::read(a)?, ..Default::default() };
        for k in BucketKind::ALL {
            t.avg[k as usize] = a.req_i64(k.qmp_name())?;
        }
        for k in BucketKind::ALL {
            t.max[k as usize] = a.opt_i64(&format!("{}_max", k.qmp_name()))?;
        }
        for k in BucketKind::ALL {
            t.max_length[k as usize] = a.opt_i64(&format!("{}_max_length", k.qmp_name()))?;
        }
        t.iops_size = a.opt_i64("iops_size")?;
        t.group = a.opt_str("group")?;
        Ok(t)
    }

    /// The block layer's configuration, checked as QEMU checks it (same
    /// order, same texts). Negative values wrap to huge ones, which fail the
    /// range check exactly where QEMU's would.
    pub fn to_config(&self) -> Result<ThrottleConfig, QmpError> {
        let mut cfg = ThrottleConfig::default();
        for k in BucketKind::ALL {
            let i = k as usize;
            let l = cfg.limit_mut(k);
            l.avg = self.avg[i] as u64;
            l.max = self.max[i].unwrap_or(0) as u64;
            if let Some(len) = self.max_length[i] {
                l.max_length = len as u64;
            }
        }
        cfg.iops_size = self.iops_size.unwrap_or(0) as u64;
        cfg.validate().map_err(|e| QmpError::generic(e.to_string()))?;
        Ok(cfg)
    }
}

/// block-latency-histogram-set.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HistogramSet {
    pub id: String,
    pub boundaries: Option<Vec<u64>>,
    pub boundaries_read: Option<Vec<u64>>,
    pub boundaries_write: Option<Vec<u64>>,
    pub boundaries_flush: Option<Vec<u64>>,
}

impl HistogramSet {
    pub(crate) fn read(a: &mut Args) -> ArgResult<Self> {
        Ok(HistogramSet {
            id: a.req_str("id")?,
            boundaries: a.opt_u64_list("boundaries")?,
            boundaries_read: a.opt_u64_list("boundaries-read")?,
            boundaries_write: a.opt_u64_list("boundaries-write")?,
            boundaries_flush: a.opt_u64_list("boundaries-flush")?,
        })
    }

    /// Boundaries per direction: the specific list, else the common one.
    /// None everywhere (only `id`) means "remove all histograms".
    pub fn effective(&self) -> [Option<&[u64]>; 3] {
        let common = self.boundaries.as_deref();
        [
            self.boundaries_read.as_deref().or(common),
            self.boundaries_write.as_deref().or(common),
            self.boundaries_flush.as_deref().or(common),
        ]
    }

    /// QEMU's rule: > 0 and strictly ascending.
    pub fn valid_boundaries(b: &[u64]) -> bool {
        b.first().copied().unwrap_or(1) > 0 && b.windows(2).all(|w| w[0] < w[1])
    }
}
