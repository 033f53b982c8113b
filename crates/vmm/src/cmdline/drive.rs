//! `-drive` and its shorthands (`-hda`..`-hdd`, `-cdrom`, `-fda`/`-fdb`):
//! what the user asked for, before placement and naming (layout.rs).

use ironide_block::driver::{CacheFlags, CacheMode, LockMode};
use ironide_block::engine::AioMode;
use ironide_block::layer::{ChildSpec, DriverSpec, NodeSpec};
use ironide_block::throttle::ThrottleConfig;

use super::error::{CmdlineError, Origin, Problem};
use super::opts::Opts;
use super::throttle::drive_throttle;
use crate::config::{BackendPlan, DriveIf, ErrorAction, Media};

/// QEMU's `null-co://` protocol, handy for benchmarks.
const NULL_CO: &str = "null-co://";
/// QEMU's default null-co size.
const NULL_CO_SIZE: u64 = 1 << 30;

/// One `-drive`, as given.
#[derive(Clone, Debug)]
pub struct DriveOpt {
    pub origin: Origin,
    pub iface: DriveIf,
    pub index: Option<u32>,
    pub bus: Option<u32>,
    pub unit: Option<u32>,
    pub media: Media,
    pub file: Option<String>,
    pub read_only: bool,
    pub id: Option<String>,
    pub node_name: Option<String>,
    pub cache: CacheFlags,
    pub aio: AioMode,
    pub locking: LockMode,
    pub werror: ErrorAction,
    pub rerror: ErrorAction,
    pub throttle: ThrottleConfig,
    pub group: Option<String>,
}

/// QEMU's identifier rule for ids: a letter, then letters, digits, `-._`.
pub fn check_id(origin: &Origin, id: &str) -> Result<(), CmdlineError> {
    let mut c = id.chars();
    let ok = c.next().is_some_and(|c| c.is_ascii_alphabetic())
        && c.all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_'));
    if ok {
        Ok(())
    } else {
        Err(origin.msg(format!("parameter 'id' expects an identifier, not '{id}'")))
    }
}

pub fn parse_error_action(s: &str, allow_enospc: bool) -> Option<ErrorAction> {
    match s {
        "report" => Some(ErrorAction::Report),
        "ignore" => Some(ErrorAction::Ignore),
        "stop" => Some(ErrorAction::Stop),
        "enospc" if allow_enospc => Some(ErrorAction::Enospc),
        _ => None,
    }
}

/// The `cache=` mode closest to a set of flags (the flags themselves go to
/// the node and the backend; this is what query-block-style reports show).
pub fn cache_mode_of(f: CacheFlags) -> CacheMode {
    match (f.writeback, f.direct, f.no_flush) {
        (_, _, true) => CacheMode::Unsafe,
        (true, true, false) => CacheMode::None,
        (true, false, false) => CacheMode::Writeback,
        (false, true, false) => CacheMode::Directsync,
        (false, false, false) => CacheMode::Writethrough,
    }
}

impl DriveOpt {
    fn empty(origin: Origin) -> Self {
        DriveOpt {
            origin,
            iface: DriveIf::Ide,
            index: None,
            bus: None,
            unit: None,
            media: Media::Disk,
            file: None,
            read_only: false,
            id: None,
            node_name: None,
            cache: CacheMode::Writeback.flags(),
            aio: AioMode::Auto,
            locking: LockMode::Auto,
            // QEMU's defaults: stop only on ENOSPC for writes, report reads.
            werror: ErrorAction::Enospc,
            rerror: ErrorAction::Report,
            throttle: ThrottleConfig::default(),
            group: None,
        }
    }

    /// `-hda FILE` and friends: `index=N` on the default interface, the
    /// file name taken literally (commas included), as QEMU does.
    pub fn shorthand(option: &str, file: &str) -> Option<Self> {
        let (iface, index, media) = match option {
            "-hda" => (DriveIf::Ide, 0, Media::Disk),
            "-hdb" => (DriveIf::Ide, 1, Media::Disk),
            "-hdc" => (DriveIf::Ide, 2, Media::Disk),
            "-hdd" => (DriveIf::Ide, 3, Media::Disk),
            "-cdrom" => (DriveIf::Ide, 2, Media::Cdrom),
            "-fda" => (DriveIf::Floppy, 0, Media::Disk),
            "-fdb" => (DriveIf::Floppy, 1, Media::Disk),
            _ => return None,
        };
        let mut d = DriveOpt::empty(Origin::new(option, file));
        d.iface = iface;
        d.index = Some(index);
        d.media = media;
        d.read_only = media == Media::Cdrom;
        // `-cdrom ""` is an empty drive, as in QEMU.
        d.file = (!file.is_empty()).then(|| file.to_string());
        Some(d)
    }

    /// The pc machine's implicit drives: the empty CD-ROM at index 2 and
    /// the empty floppy A.
    pub fn implicit(iface: DriveIf, index: u32, media: Media) -> Self {
        let mut d = DriveOpt::empty(Origin::new("(default)", ""));
        d.iface = iface;
        d.index = Some(index);
        d.media = media;
        d.read_only = media == Media::Cdrom;
        d
    }

    pub fn parse(origin: Origin) -> Result<Self, CmdlineError> {
        let mut d = DriveOpt::empty(origin.clone());
        let mut o = Opts::parse(&origin, None);
        d.file = o.take("file").filter(|f| !f.is_empty());
        d.iface = o
            .take_enum("if", |s| match s {
                "ide" => Some(DriveIf::Ide),
                "floppy" => Some(DriveIf::Floppy),
                "none" => Some(DriveIf::None),
                _ => None,
            })?
            .unwrap_or(DriveIf::Ide);
        d.index = o.take_num("index")?;
        d.bus = o.take_num("bus")?;
        d.unit = o.take_num("unit")?;
        d.media = o
            .take_enum("media", |s| match s {
                "disk" => Some(Media::Disk),
                "cdrom" => Some(Media::Cdrom),
                _ => None,
            })?
            .unwrap_or(Media::Disk);
        o.take_enum("format", |s| (s == "raw").then_some(()))?;
        let ro = o.take_bool("readonly")?.or(o.take_bool("read-only")?);
        // CD-ROMs are read-only whatever was asked.
        d.read_only = ro.unwrap_or(false) || d.media == Media::Cdrom;
        if let Some(id) = o.take("id") {
            check_id(&origin, &id)?;
            d.id = Some(id);
        }
        d.node_name = o.take("node-name");
        if let Some(mode) = o.take_enum("cache", |s| s.parse::<CacheMode>().ok())? {
            d.cache = mode.flags();
        }
        if let Some(v) = o.take_bool("cache.writeback")? {
            d.cache.writeback = v;
        }
        if let Some(v) = o.take_bool("cache.direct")? {
            d.cache.direct = v;
        }
        if let Some(v) = o.take_bool("cache.no-flush")? {
            d.cache.no_flush = v;
        }
        let aio_text = o.take("aio");
        if let Some(a) = &aio_text {
            d.aio = a.parse().map_err(|_| o.err(Problem::BadValue { key: "aio".into(), value: a.clone() }))?;
            if a == "native" && !d.cache.direct {
                return Err(origin.msg("aio=native requires cache.direct=on (cache=none or cache=directsync)"));
            }
        }
        if let Some(l) = o.take("file.locking").or_else(|| o.take("locking")) {
            d.locking = l.parse().map_err(|_| o.err(Problem::BadValue { key: "file.locking".into(), value: l }))?;
        }
        d.werror = o.take_enum("werror", |s| parse_error_action(s, true))?.unwrap_or(ErrorAction::Enospc);
        d.rerror = o.take_enum("rerror", |s| parse_error_action(s, false))?.unwrap_or(ErrorAction::Report);
        (d.throttle, d.group) = drive_throttle(&mut o)?;
        // Accepted, no effect here: discard requests reach the file anyway.
        o.ignore(&["discard", "detect-zeroes"]);
        o.finish()?;
        if d.index.is_some() && (d.bus.is_some() || d.unit.is_some()) {
            return Err(origin.msg("index cannot be used with bus and unit"));
        }
        if d.media == Media::Cdrom && d.iface == DriveIf::Floppy {
            return Err(origin.msg("media=cdrom is not supported with if=floppy"));
        }
        Ok(d)
    }

    /// The medium this drive opens: `raw` over `file` (or over `null-co`),
    /// None for an empty drive.
    pub fn medium(&self) -> Option<NodeSpec> {
        let file = self.file.as_ref()?;
        let c = self.cache;
        let mut raw = if file.starts_with(NULL_CO) {
            let null = NodeSpec {
                node_name: None,
                read_only: self.read_only,
                direct: c.direct,
                no_flush: c.no_flush,
                driver: DriverSpec::Null { size: NULL_CO_SIZE, read_zeroes: false },
            };
            NodeSpec {
                node_name: None,
                read_only: self.read_only,
                direct: c.direct,
                no_flush: c.no_flush,
                driver: DriverSpec::Raw { file: ChildSpec::Inline(Box::new(null)), offset: 0, size: None },
            }
        } else {
            NodeSpec::raw_over_file(file, self.read_only, c.direct, c.no_flush, self.aio)
        };
        if let DriverSpec::Raw { file: ChildSpec::Inline(child), .. } = &mut raw.driver {
            if let DriverSpec::File { locking, .. } = &mut child.driver {
                *locking = self.locking;
            }
        }
        raw.node_name = self.node_name.clone();
        Some(raw)
    }

    /// The backend plan under `name`.
    pub fn backend(&self, name: String) -> BackendPlan {
        BackendPlan {
            name,
            medium: self.medium(),
            node: None,
            read_only: self.read_only,
            write_cache: self.cache.writeback,
            cache: cache_mode_of(self.cache),
            aio: self.aio,
            werror: self.werror,
            rerror: self.rerror,
            // As QEMU: limits apply only when one is set; a group without
            // limits of its own is ignored on -drive.
            throttle: self.throttle.is_enabled().then(|| (self.throttle.clone(), self.group.clone())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(arg: &str) -> Result<DriveOpt, CmdlineError> {
        DriveOpt::parse(Origin::new("-drive", arg))
    }

    #[test]
    fn every_key() {
        let d = parse(
            "file=a,,b.img,if=floppy,index=1,media=disk,format=raw,readonly=on,id=d0,node-name=n0,\
             cache=none,aio=threads,werror=stop,rerror=ignore,file.locking=off,discard=unmap",
        )
        .unwrap();
        assert_eq!(d.file.as_deref(), Some("a,b.img"));
        assert_eq!((d.iface, d.index, d.media, d.read_only), (DriveIf::Floppy, Some(1), Media::Disk, true));
        assert_eq!((d.id.as_deref(), d.node_name.as_deref()), (Some("d0"), Some("n0")));
        assert_eq!(cache_mode_of(d.cache), CacheMode::None);
        assert_eq!((d.aio, d.locking), (AioMode::Threads, LockMode::Off));
        assert_eq!((d.werror, d.rerror), (ErrorAction::Stop, ErrorAction::Ignore));
        let m = d.medium().unwrap();
        assert_eq!((m.node_name.as_deref(), m.read_only, m.direct), (Some("n0"), true, true));
        let b = d.backend("d0".into());
        assert_eq!((b.cache, b.write_cache, b.throttle.is_none()), (CacheMode::None, true, true));

        let d = parse("if=none,bus=1,unit=0,cache.writeback=off,cache.direct=on,aio=native").unwrap();
        assert_eq!((d.bus, d.unit, cache_mode_of(d.cache)), (Some(1), Some(0), CacheMode::Directsync));
        assert!(d.medium().is_none());
        let d = parse("media=cdrom,werror=enospc,cache=unsafe").unwrap();
        assert!(d.read_only);
        assert_eq!((d.werror, cache_mode_of(d.cache)), (ErrorAction::Enospc, CacheMode::Unsafe));
        let d = parse("file=null-co://,throttling.iops-total=5,throttling.group=g").unwrap();
        let m = d.medium().unwrap();
        assert!(matches!(m.driver, DriverSpec::Raw { .. }));
        let b = d.backend("x".into());
        assert_eq!(b.throttle.unwrap().1.as_deref(), Some("g"));
    }

    #[test]
    fn errors() {
        let t = |arg: &str| parse(arg).unwrap_err().to_string();
        assert_eq!(t("file=x,if=scsi"), "-drive file=x,if=scsi: invalid if= value 'scsi'");
        assert_eq!(t("media=tape"), "-drive media=tape: invalid media= value 'tape'");
        assert_eq!(t("format=qcow2"), "-drive format=qcow2: invalid format= value 'qcow2'");
        assert_eq!(t("cache=fast"), "-drive cache=fast: invalid cache= value 'fast'");
        assert_eq!(t("aio=posix"), "-drive aio=posix: invalid aio= value 'posix'");
        assert_eq!(t("rerror=enospc"), "-drive rerror=enospc: invalid rerror= value 'enospc'");
        assert_eq!(t("index=x"), "-drive index=x: parameter 'index' expects a number, not 'x'");
        assert_eq!(t("id=1a"), "-drive id=1a: parameter 'id' expects an identifier, not '1a'");
        assert_eq!(t("index=0,bus=0"), "-drive index=0,bus=0: index cannot be used with bus and unit");
        assert!(t("aio=native").contains("aio=native requires cache.direct=on"));
        assert_eq!(t("snapshot=on"), "-drive snapshot=on: invalid parameter 'snapshot'");
        assert!(t("if=floppy,media=cdrom").contains("not supported"));
    }

    #[test]
    fn shorthands() {
        let d = DriveOpt::shorthand("-cdrom", "a,b.iso").unwrap();
        assert_eq!((d.index, d.media, d.read_only, d.file.as_deref()), (Some(2), Media::Cdrom, true, Some("a,b.iso")));
        let d = DriveOpt::shorthand("-fdb", "f.img").unwrap();
        assert_eq!((d.iface, d.index), (DriveIf::Floppy, Some(1)));
        assert!(DriveOpt::shorthand("-hde", "x").is_none());
    }
}
