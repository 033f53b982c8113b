//! Throttle configuration: the six limits a user sets through QMP
//! `block_set_io_throttle` or `-drive throttling.*`, and their validation
//! with QEMU's exact error texts and check order.

/// Largest value any rate may take (QEMU's `THROTTLE_VALUE_MAX`, 1e15).
pub const THROTTLE_VALUE_MAX: u64 = 1_000_000_000_000_000;

/// One limit: an average rate, an optional burst rate and the burst length.
///
/// Rates are units per second (bytes for bps buckets, operations for iops
/// buckets); `0` means "not set".
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limit {
    /// Sustained rate (`bps`, `iops_rd`, ...). 0 = unlimited.
    pub avg: u64,
    /// Burst rate (`*_max`). 0 = no explicit burst (the bucket then holds
    /// 100 ms worth of `avg`).
    pub max: u64,
    /// Burst length in seconds (`*_max_length`), 1 unless set.
    pub max_length: u64,
}

impl Default for Limit {
    fn default() -> Self {
        // QEMU's default burst length is one second, not zero.
        Limit { avg: 0, max: 0, max_length: 1 }
    }
}

/// The six buckets, in QEMU's bucket order (the order validation walks).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BucketKind {
    BpsTotal,
    BpsRead,
    BpsWrite,
    IopsTotal,
    IopsRead,
    IopsWrite,
}

impl BucketKind {
    /// All buckets, in index order.
    pub const ALL: [BucketKind; 6] = [
        BucketKind::BpsTotal,
        BucketKind::BpsRead,
        BucketKind::BpsWrite,
        BucketKind::IopsTotal,
        BucketKind::IopsRead,
        BucketKind::IopsWrite,
    ];

    /// True for the byte-counting buckets.
    pub fn is_bps(self) -> bool {
        matches!(self, BucketKind::BpsTotal | BucketKind::BpsRead | BucketKind::BpsWrite)
    }

    /// The QMP / `-drive throttling.` base name of this limit
    /// (`bps`, `bps_rd`, ..., `iops_wr`); `_max` and `_max_length` are
    /// suffixes of it.
    pub fn qmp_name(self) -> &'static str {
        match self {
            BucketKind::BpsTotal => "bps",
            BucketKind::BpsRead => "bps_rd",
            BucketKind::BpsWrite => "bps_wr",
            BucketKind::IopsTotal => "iops",
            BucketKind::IopsRead => "iops_rd",
            BucketKind::IopsWrite => "iops_wr",
        }
    }
}

/// A complete throttle configuration. Default: everything unlimited.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct ThrottleConfig {
    /// Indexed by `BucketKind as usize`.
    pub limits: [Limit; 6],
    /// Bytes counted as one operation for the iops buckets (0 = every
    /// request is one operation).
    pub iops_size: u64,
}

/// Why a configuration was refused. `Display` is QEMU's text, verbatim.
///
/// Per-bucket variants carry the offending bucket for diagnostics only; it
/// is not part of the message (QEMU does not print it either).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ThrottleConfigError {
    #[error("bps/iops/max total values and read/write values cannot be used at the same time")]
    TotalAndReadWrite,
    #[error("iops size requires an iops value to be set")]
    IopsSizeWithoutIops,
    #[error("bps/iops/max values must be within [0, 1000000000000000]")]
    OutOfRange { bucket: BucketKind },
    #[error("the burst length cannot be 0")]
    ZeroBurstLength { bucket: BucketKind },
    #[error("burst length set without burst rate")]
    BurstLengthWithoutRate { bucket: BucketKind },
    #[error("burst length too high for this burst rate")]
    BurstLengthTooHigh { bucket: BucketKind },
    #[error("bps_max/iops_max require corresponding bps/iops values")]
    MaxWithoutAvg { bucket: BucketKind },
    #[error("bps_max/iops_max cannot be lower than bps/iops")]
    MaxBelowAvg { bucket: BucketKind },
}

impl ThrottleConfig {
    pub fn limit(&self, k: BucketKind) -> &Limit {
        &self.limits[k as usize]
    }

    pub fn limit_mut(&mut self, k: BucketKind) -> &mut Limit {
        &mut self.limits[k as usize]
    }

    /// True if any limit is set. A configuration with every `avg` at 0
    /// removes a drive from throttling (and from its group).
    pub fn is_enabled(&self) -> bool {
        self.limits.iter().any(|l| l.avg != 0)
    }

    /// Check the configuration the way QEMU does, first failure wins.
    pub fn validate(&self) -> Result<(), ThrottleConfigError> {
        use BucketKind::*;
        let l = |k| self.limit(k);

        // 1. Total and per-direction limits are mutually exclusive, both for
        //    the average and for the burst rate.
        let mixed = |total: BucketKind, rd: BucketKind, wr: BucketKind, f: fn(&Limit) -> u64| {
            f(l(total)) != 0 && (f(l(rd)) != 0 || f(l(wr)) != 0)
        };
        let avg: fn(&Limit) -> u64 = |x| x.avg;
        let max: fn(&Limit) -> u64 = |x| x.max;
        if mixed(BpsTotal, BpsRead, BpsWrite, avg)
            || mixed(IopsTotal, IopsRead, IopsWrite, avg)
            || mixed(BpsTotal, BpsRead, BpsWrite, max)
            || mixed(IopsTotal, IopsRead, IopsWrite, max)
        {
            return Err(ThrottleConfigError::TotalAndReadWrite);
        }

        // 2. iops_size only means something with an iops limit.
        if self.iops_size != 0 && l(IopsTotal).avg == 0 && l(IopsRead).avg == 0 && l(IopsWrite).avg == 0 {
            return Err(ThrottleConfigError::IopsSizeWithoutIops);
        }

        // 3. Per bucket, in bucket order.
        for bucket in BucketKind::ALL {
            let b = l(bucket);
            // Negative QMP integers arrive here cast to u64, i.e. huge.
            if b.avg > THROTTLE_VALUE_MAX || b.max > THROTTLE_VALUE_MAX {
                return Err(ThrottleConfigError::OutOfRange { bucket });
            }
            if b.max_length == 0 {
                return Err(ThrottleConfigError::ZeroBurstLength { bucket });
            }
            if b.max_length > 1 && b.max == 0 {
                return Err(ThrottleConfigError::BurstLengthWithoutRate { bucket });
            }
            // Division, not multiplication: max * max_length may overflow.
            if b.max != 0 && b.max_length > THROTTLE_VALUE_MAX / b.max {
                return Err(ThrottleConfigError::BurstLengthTooHigh { bucket });
            }
            if b.max != 0 && b.avg == 0 {
                return Err(ThrottleConfigError::MaxWithoutAvg { bucket });
            }
            if b.max != 0 && b.max < b.avg {
                return Err(ThrottleConfigError::MaxBelowAvg { bucket });
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use BucketKind::*;
    use ThrottleConfigError as E;

    fn cfg(f: impl FnOnce(&mut ThrottleConfig)) -> ThrottleConfig {
        let mut c = ThrottleConfig::default();
        f(&mut c);
        c
    }

    #[test]
    fn defaults() {
        let c = ThrottleConfig::default();
        assert!(!c.is_enabled());
        assert_eq!(c.iops_size, 0);
        for k in BucketKind::ALL {
            assert_eq!(*c.limit(k), Limit { avg: 0, max: 0, max_length: 1 });
        }
        assert_eq!(c.validate(), Ok(()));
        for (i, k) in BucketKind::ALL.iter().enumerate() {
            assert_eq!(*k as usize, i);
        }
        assert_eq!(BucketKind::ALL.map(|k| k.qmp_name()), ["bps", "bps_rd", "bps_wr", "iops", "iops_rd", "iops_wr"]);
    }

    #[test]
    fn is_enabled_only_looks_at_avg() {
        assert!(cfg(|c| c.limit_mut(IopsWrite).avg = 1).is_enabled());
        // A max without avg is invalid, but it does not enable anything.
        assert!(!cfg(|c| c.limit_mut(BpsTotal).max = 5).is_enabled());
        assert!(!cfg(|c| c.iops_size = 512).is_enabled());
    }

    #[test]
    fn messages_are_qemu_texts() {
        let b = BpsTotal;
        let cases = [
            (E::TotalAndReadWrite, "bps/iops/max total values and read/write values cannot be used at the same time"),
            (E::IopsSizeWithoutIops, "iops size requires an iops value to be set"),
            (E::OutOfRange { bucket: b }, "bps/iops/max values must be within [0, 1000000000000000]"),
            (E::ZeroBurstLength { bucket: b }, "the burst length cannot be 0"),
            (E::BurstLengthWithoutRate { bucket: b }, "burst length set without burst rate"),
            (E::BurstLengthTooHigh { bucket: b }, "burst length too high for this burst rate"),
            (E::MaxWithoutAvg { bucket: b }, "bps_max/iops_max require corresponding bps/iops values"),
            (E::MaxBelowAvg { bucket: b }, "bps_max/iops_max cannot be lower than bps/iops"),
        ];
        for (e, text) in cases {
            assert_eq!(e.to_string(), text);
        }
    }

    #[test]
    fn total_and_read_write_together() {
        for (t, rw) in [(BpsTotal, BpsRead), (BpsTotal, BpsWrite), (IopsTotal, IopsRead), (IopsTotal, IopsWrite)] {
            let c = cfg(|c| {
                c.limit_mut(t).avg = 10;
                c.limit_mut(rw).avg = 10;
            });
            assert_eq!(c.validate(), Err(E::TotalAndReadWrite), "{t:?}+{rw:?}");
            // Same check on max alone (avg unset: later checks would also
            // fail, but this one comes first).
            let c = cfg(|c| {
                c.limit_mut(t).max = 10;
                c.limit_mut(rw).max = 10;
            });
            assert_eq!(c.validate(), Err(E::TotalAndReadWrite), "max {t:?}+{rw:?}");
        }
        // bps total with iops read/write is fine.
        let c = cfg(|c| {
            c.limit_mut(BpsTotal).avg = 10;
            c.limit_mut(IopsRead).avg = 10;
            c.limit_mut(IopsWrite).avg = 10;
        });
        assert_eq!(c.validate(), Ok(()));
    }

    #[test]
    fn iops_size() {
        let c = cfg(|c| {
            c.iops_size = 4096;
            c.limit_mut(BpsTotal).avg = 10;
        });
        assert_eq!(c.validate(), Err(E::IopsSizeWithoutIops));
        for k in [IopsTotal, IopsRead, IopsWrite] {
            let c = cfg(|c| {
                c.iops_size = 4096;
                c.limit_mut(k).avg = 10;
            });
            assert_eq!(c.validate(), Ok(()));
        }
    }

    #[test]
    fn range() {
        let ok = cfg(|c| {
            *c.limit_mut(IopsRead) = Limit { avg: THROTTLE_VALUE_MAX, max: THROTTLE_VALUE_MAX, max_length: 1 };
        });
        assert_eq!(ok.validate(), Ok(()));
        let too_big = cfg(|c| c.limit_mut(IopsRead).avg = THROTTLE_VALUE_MAX + 1);
        assert_eq!(too_big.validate(), Err(E::OutOfRange { bucket: IopsRead }));
        let too_big_max = cfg(|c| {
            *c.limit_mut(BpsWrite) = Limit { avg: 1, max: THROTTLE_VALUE_MAX + 1, max_length: 1 };
        });
        assert_eq!(too_big_max.validate(), Err(E::OutOfRange { bucket: BpsWrite }));
        // A negative QMP integer cast to u64.
        let negative = cfg(|c| c.limit_mut(BpsTotal).avg = (-1i64) as u64);
        assert_eq!(negative.validate(), Err(E::OutOfRange { bucket: BpsTotal }));
    }

    #[test]
    fn burst_length_checks() {
        let zero = cfg(|c| c.limit_mut(BpsRead).max_length = 0);
        assert_eq!(zero.validate(), Err(E::ZeroBurstLength { bucket: BpsRead }));

        let no_rate = cfg(|c| *c.limit_mut(IopsTotal) = Limit { avg: 10, max: 0, max_length: 2 });
        assert_eq!(no_rate.validate(), Err(E::BurstLengthWithoutRate { bucket: IopsTotal }));

        // max * length may reach 1e15 exactly, not beyond.
        let edge = cfg(|c| *c.limit_mut(BpsTotal) = Limit { avg: 1, max: 1_000_000, max_length: 1_000_000_000 });
        assert_eq!(edge.validate(), Ok(()));
        let high = cfg(|c| *c.limit_mut(BpsTotal) = Limit { avg: 1, max: 1_000_000, max_length: 1_000_000_001 });
        assert_eq!(high.validate(), Err(E::BurstLengthTooHigh { bucket: BpsTotal }));
        // Integer division: 1e15 / 3 = 333333333333333, so that length is
        // accepted although 3 * it < 1e15 anyway; one more is refused.
        let div = cfg(|c| *c.limit_mut(BpsTotal) = Limit { avg: 1, max: 3, max_length: 333_333_333_333_333 });
        assert_eq!(div.validate(), Ok(()));
        let div = cfg(|c| *c.limit_mut(BpsTotal) = Limit { avg: 1, max: 3, max_length: 333_333_333_333_334 });
        assert_eq!(div.validate(), Err(E::BurstLengthTooHigh { bucket: BpsTotal }));
    }

    #[test]
    fn max_checks() {
        let no_avg = cfg(|c| c.limit_mut(IopsWrite).max = 10);
        assert_eq!(no_avg.validate(), Err(E::MaxWithoutAvg { bucket: IopsWrite }));
        let lower = cfg(|c| *c.limit_mut(BpsWrite) = Limit { avg: 10, max: 9, max_length: 1 });
        assert_eq!(lower.validate(), Err(E::MaxBelowAvg { bucket: BpsWrite }));
        let equal = cfg(|c| *c.limit_mut(BpsWrite) = Limit { avg: 10, max: 10, max_length: 5 });
        assert_eq!(equal.validate(), Ok(()));
    }

    #[test]
    fn check_order() {
        // Step 1 beats step 2 and step 3.
        let c = cfg(|c| {
            c.limit_mut(BpsTotal).avg = THROTTLE_VALUE_MAX + 1;
            c.limit_mut(BpsRead).avg = 1;
            c.iops_size = 1;
        });
        assert_eq!(c.validate(), Err(E::TotalAndReadWrite));
        // Step 2 beats step 3.
        let c = cfg(|c| {
            c.limit_mut(BpsTotal).avg = THROTTLE_VALUE_MAX + 1;
            c.iops_size = 1;
        });
        assert_eq!(c.validate(), Err(E::IopsSizeWithoutIops));
        // Step 3 walks buckets in order: an earlier bucket's later check
        // beats a later bucket's earlier check.
        let c = cfg(|c| {
            *c.limit_mut(BpsRead) = Limit { avg: 10, max: 5, max_length: 1 }; // max < avg
            c.limit_mut(IopsRead).avg = THROTTLE_VALUE_MAX + 1; // range
        });
        assert_eq!(c.validate(), Err(E::MaxBelowAvg { bucket: BpsRead }));
        // Within a bucket: range, zero length, length w/o rate, too high,
        // max w/o avg, max < avg.
        let l = |avg, max, max_length| cfg(|c| *c.limit_mut(IopsTotal) = Limit { avg, max, max_length }).validate();
        let big = THROTTLE_VALUE_MAX + 1;
        assert_eq!(l(big, 0, 0), Err(E::OutOfRange { bucket: IopsTotal }));
        assert_eq!(l(0, 0, 0), Err(E::ZeroBurstLength { bucket: IopsTotal }));
        assert_eq!(l(0, 0, 2), Err(E::BurstLengthWithoutRate { bucket: IopsTotal }));
        assert_eq!(l(0, 1_000, THROTTLE_VALUE_MAX), Err(E::BurstLengthTooHigh { bucket: IopsTotal }));
        assert_eq!(l(0, 1_000, 2), Err(E::MaxWithoutAvg { bucket: IopsTotal }));
        assert_eq!(l(2_000, 1_000, 2), Err(E::MaxBelowAvg { bucket: IopsTotal }));
        assert_eq!(l(1_000, 1_000, 2), Ok(()));
    }
}
