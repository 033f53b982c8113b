//! I/O limits on the command line: `-drive throttling.*` (and its legacy
//! `bps=`/`iops_rd=`... spellings) and `-object throttle-group,x-*`.
//! Both are validated with the block layer's QEMU-exact checks.

use ironide_block::throttle::{BucketKind, ThrottleConfig};

use super::error::CmdlineError;
use super::opts::Opts;

/// The dashed name of a bucket (`bps-total`, ..., `iops-write`).
fn dashed(k: BucketKind) -> &'static str {
    match k {
        BucketKind::BpsTotal => "bps-total",
        BucketKind::BpsRead => "bps-read",
        BucketKind::BpsWrite => "bps-write",
        BucketKind::IopsTotal => "iops-total",
        BucketKind::IopsRead => "iops-read",
        BucketKind::IopsWrite => "iops-write",
    }
}

/// Take one number under either spelling (the newer wins when both).
fn take_either(opts: &mut Opts, new: &str, legacy: Option<&str>) -> Result<Option<u64>, CmdlineError> {
    let old = match legacy {
        Some(l) => opts.take_u64(l)?,
        None => None,
    };
    Ok(opts.take_u64(new)?.or(old))
}

/// Read limits with keys `<prefix><bucket>[-max[-length]]` and
/// `<prefix>iops-size`; with `legacy`, also `bps_rd`, `bps_rd_max`, ...
fn read_limits(opts: &mut Opts, prefix: &str, legacy: bool) -> Result<ThrottleConfig, CmdlineError> {
    let mut cfg = ThrottleConfig::default();
    for k in BucketKind::ALL {
        let base = format!("{prefix}{}", dashed(k));
        let old = |suffix: &str| legacy.then(|| format!("{}{suffix}", k.qmp_name()));
        let l = cfg.limit_mut(k);
        if let Some(v) = take_either(opts, &base, old("").as_deref())? {
            l.avg = v;
        }
        if let Some(v) = take_either(opts, &format!("{base}-max"), old("_max").as_deref())? {
            l.max = v;
        }
        if let Some(v) = take_either(opts, &format!("{base}-max-length"), old("_max_length").as_deref())? {
            l.max_length = v;
        }
    }
    let legacy_size = legacy.then_some("iops_size");
    if let Some(v) = take_either(opts, &format!("{prefix}iops-size"), legacy_size)? {
        cfg.iops_size = v;
    }
    Ok(cfg)
}

/// `-drive throttling.*`: the validated limits and the group name.
pub fn drive_throttle(opts: &mut Opts) -> Result<(ThrottleConfig, Option<String>), CmdlineError> {
    let cfg = read_limits(opts, "throttling.", true)?;
    let group = opts.take("throttling.group").or_else(|| opts.take("group"));
    cfg.validate().map_err(|e| opts.err(e.into()))?;
    Ok((cfg, group))
}

/// `-object throttle-group,id=,x-bps-total=...`: the validated limits.
pub fn group_limits(opts: &mut Opts) -> Result<ThrottleConfig, CmdlineError> {
    let cfg = read_limits(opts, "x-", false)?;
    cfg.validate().map_err(|e| opts.err(e.into()))?;
    Ok(cfg)
}

#[cfg(test)]
mod tests {
    use super::super::error::Origin;
    use super::*;
    use ironide_block::throttle::Limit;

    fn drive(arg: &str) -> Result<(ThrottleConfig, Option<String>), CmdlineError> {
        let o = Origin::new("-drive", arg);
        let mut opts = Opts::parse(&o, None);
        let r = drive_throttle(&mut opts)?;
        opts.finish()?;
        Ok(r)
    }

    #[test]
    fn every_drive_key() {
        let (c, g) = drive(
            "throttling.bps-total=1000,throttling.bps-total-max=2000,throttling.bps-total-max-length=3,\
             throttling.iops-read=10,throttling.iops-read-max=20,throttling.iops-read-max-length=2,\
             throttling.iops-write=11,throttling.iops-write-max=22,throttling.iops-write-max-length=4,\
             throttling.iops-size=4096,throttling.group=g1",
        )
        .unwrap();
        assert_eq!(*c.limit(BucketKind::BpsTotal), Limit { avg: 1000, max: 2000, max_length: 3 });
        assert_eq!(*c.limit(BucketKind::IopsRead), Limit { avg: 10, max: 20, max_length: 2 });
        assert_eq!(*c.limit(BucketKind::IopsWrite), Limit { avg: 11, max: 22, max_length: 4 });
        assert_eq!(c.iops_size, 4096);
        assert_eq!(g.as_deref(), Some("g1"));
        let (c, _) = drive("throttling.bps-read=1,throttling.bps-write=2,throttling.iops-total=3").unwrap();
        assert_eq!(c.limit(BucketKind::BpsRead).avg, 1);
        assert_eq!(c.limit(BucketKind::BpsWrite).avg, 2);
        assert_eq!(c.limit(BucketKind::IopsTotal).avg, 3);
        let (c, g) = drive("bps=5,bps_max=6,bps_max_length=2,iops_wr=7,iops_size=512,group=x").unwrap();
        assert_eq!(*c.limit(BucketKind::BpsTotal), Limit { avg: 5, max: 6, max_length: 2 });
        assert_eq!(c.limit(BucketKind::IopsWrite).avg, 7);
        assert_eq!((c.iops_size, g.as_deref()), (512, Some("x")));
    }

    #[test]
    fn validation_texts() {
        let e = drive("throttling.bps-total=1,throttling.bps-read=1").unwrap_err();
        assert_eq!(
            e.to_string(),
            "-drive throttling.bps-total=1,throttling.bps-read=1: \
             bps/iops/max total values and read/write values cannot be used at the same time"
        );
        let e = drive("throttling.iops-size=512").unwrap_err();
        assert!(e.to_string().ends_with(": iops size requires an iops value to be set"));
        let e = drive("throttling.bps-total=2000000000000000").unwrap_err();
        assert!(e.to_string().ends_with(": bps/iops/max values must be within [0, 1000000000000000]"));
        let e = drive("throttling.bps-total=1,throttling.bps-total-max-length=0").unwrap_err();
        assert!(e.to_string().ends_with(": the burst length cannot be 0"));
        let e = drive("throttling.bps-total=1,throttling.bps-total-max-length=2").unwrap_err();
        assert!(e.to_string().ends_with(": burst length set without burst rate"));
        let e =
            drive("throttling.bps-total=1,throttling.bps-total-max=1000000,throttling.bps-total-max-length=1000000001")
                .unwrap_err();
        assert!(e.to_string().ends_with(": burst length too high for this burst rate"));
        let e = drive("throttling.iops-total-max=5").unwrap_err();
        assert!(e.to_string().ends_with(": bps_max/iops_max require corresponding bps/iops values"));
        let e = drive("throttling.iops-total=10,throttling.iops-total-max=5").unwrap_err();
        assert!(e.to_string().ends_with(": bps_max/iops_max cannot be lower than bps/iops"));
        let e = drive("throttling.iops-total=ten").unwrap_err();
        assert!(e.to_string().ends_with(": parameter 'throttling.iops-total' expects a number, not 'ten'"));
    }

    #[test]
    fn group_object_keys() {
        let o = Origin::new("-object", "throttle-group,id=g,x-iops-total=100,x-iops-total-max=200,x-iops-size=4096");
        let mut opts = Opts::parse(&o, Some("qom-type"));
        opts.ignore(&["qom-type", "id"]);
        let c = group_limits(&mut opts).unwrap();
        opts.finish().unwrap();
        assert_eq!(*c.limit(BucketKind::IopsTotal), Limit { avg: 100, max: 200, max_length: 1 });
        assert_eq!(c.iops_size, 4096);
    }
}
