//! `-device`: the device models ironide has and their properties.

use super::drive::{check_id, parse_error_action};
use super::error::{CmdlineError, Origin, Problem};
use super::opts::Opts;
use crate::config::{BiosChsTrans, ErrorAction, FloppyDriveType};

/// `-device ide-hd` / `ide-cd`.
#[derive(Clone, Debug, Default)]
pub struct IdeDevOpt {
    pub cdrom: bool,
    pub drive: Option<String>,
    pub id: Option<String>,
    pub bus: Option<usize>,
    pub unit: Option<usize>,
    pub serial: Option<String>,
    pub model: Option<String>,
    pub wwn: Option<u64>,
    pub chs: Option<(u32, u32, u32)>,
    pub trans: BiosChsTrans,
    pub write_cache: Option<bool>,
    pub discard_granularity: Option<u32>,
    pub werror: Option<ErrorAction>,
    pub rerror: Option<ErrorAction>,
}

/// `-device floppy`.
#[derive(Clone, Debug)]
pub struct FloppyDevOpt {
    pub drive: Option<String>,
    pub id: Option<String>,
    pub unit: Option<usize>,
    pub drive_type: FloppyDriveType,
}

#[derive(Clone, Debug)]
pub enum DeviceKind {
    Ide(IdeDevOpt),
    Floppy(FloppyDevOpt),
    Debugcon { iobase: u16, chardev: String },
    DebugExit { iobase: u16, iosize: u16 },
}

#[derive(Clone, Debug)]
pub struct DeviceOpt {
    pub origin: Origin,
    pub kind: DeviceKind,
}

/// `ide.0` / `ide.1` (QEMU's bus names for the PIIX3 channels).
fn ide_bus(o: &Opts, s: &str) -> Result<usize, CmdlineError> {
    match s {
        "ide.0" => Ok(0),
        "ide.1" => Ok(1),
        _ => Err(o.err(Problem::Msg(format!("Bus '{s}' not found")))),
    }
}

fn take_id(o: &mut Opts) -> Result<Option<String>, CmdlineError> {
    match o.take("id") {
        Some(id) => {
            check_id(o.origin, &id)?;
            Ok(Some(id))
        }
        None => Ok(None),
    }
}

/// User geometry: all three or none, each in the range the ATA IDENTIFY
/// words and the BIOS can express.
fn geometry(o: &mut Opts) -> Result<Option<(u32, u32, u32)>, CmdlineError> {
    let c = o.take_num::<u32>("cyls")?;
    let h = o.take_num::<u32>("heads")?;
    let s = o.take_num::<u32>("secs")?;
    if c.is_none() && h.is_none() && s.is_none() {
        return Ok(None);
    }
    let (c, h, s) = (c.unwrap_or(0), h.unwrap_or(0), s.unwrap_or(0));
    for (name, v, max) in [("cyls", c, 65535), ("heads", h, 16), ("secs", s, 255)] {
        if !(1..=max).contains(&v) {
            return Err(o.err(Problem::Msg(format!("{name} must be between 1 and {max}"))));
        }
    }
    Ok(Some((c, h, s)))
}

fn ide(o: &mut Opts, cdrom: bool) -> Result<IdeDevOpt, CmdlineError> {
    let mut d = IdeDevOpt { cdrom, ..Default::default() };
    d.drive = o.take("drive").filter(|s| !s.is_empty());
    d.id = take_id(o)?;
    if let Some(b) = o.take("bus") {
        d.bus = Some(ide_bus(o, &b)?);
    }
    d.unit = o.take_num("unit")?;
    if let Some(u) = d.unit.filter(|u| *u > 1) {
        return Err(o.err(Problem::Msg(format!("unit {u} too big (max is 1)"))));
    }
    d.serial = o.take("serial");
    d.model = o.take("model");
    d.wwn = o.take_u64("wwn")?;
    d.werror = o.take_enum("werror", |s| parse_error_action(s, true))?;
    d.rerror = o.take_enum("rerror", |s| parse_error_action(s, false))?;
    if !cdrom {
        d.chs = geometry(o)?;
        d.trans = o.take_enum("bios-chs-trans", |s| s.parse().ok())?.unwrap_or_default();
        d.write_cache = o
            .take_enum("write-cache", |s| match s {
                "auto" => Some(None),
                s => super::opts::parse_bool(s).map(Some),
            })?
            .flatten();
        if let Some(g) = o.take_size("discard_granularity")? {
            d.discard_granularity =
                Some(u32::try_from(g).map_err(|_| o.err(Problem::Msg(format!("discard_granularity {g} is too big"))))?);
        }
    }
    Ok(d)
}

fn floppy(o: &mut Opts) -> Result<FloppyDevOpt, CmdlineError> {
    let drive = o.take("drive").filter(|s| !s.is_empty());
    let id = take_id(o)?;
    if let Some(b) = o.take("bus") {
        if b != "floppy-bus.0" {
            return Err(o.err(Problem::Msg(format!("Bus '{b}' not found"))));
        }
    }
    let unit = o.take_num("unit")?;
    if let Some(u) = unit.filter(|u: &usize| *u > 1) {
        return Err(o.err(Problem::Msg(format!("unit {u} too big (max is 1)"))));
    }
    let drive_type = o.take_enum("drive-type", FloppyDriveType::parse)?.unwrap_or(FloppyDriveType::Auto);
    Ok(FloppyDevOpt { drive, id, unit, drive_type })
}

fn port(o: &mut Opts, key: &str, default: u16) -> Result<u16, CmdlineError> {
    Ok(o.take_num::<u16>(key)?.unwrap_or(default))
}

impl DeviceOpt {
    pub fn parse(origin: Origin) -> Result<Self, CmdlineError> {
        let mut o = Opts::parse(&origin, Some("driver"));
        let driver = o.take("driver").ok_or_else(|| o.err(Problem::Missing("driver")))?;
        let kind = match driver.as_str() {
            "ide-hd" => DeviceKind::Ide(ide(&mut o, false)?),
            "ide-cd" => DeviceKind::Ide(ide(&mut o, true)?),
            "floppy" => DeviceKind::Floppy(floppy(&mut o)?),
            "isa-debugcon" => {
                take_id(&mut o)?;
                let iobase = port(&mut o, "iobase", 0xe9)?;
                let chardev = o.take("chardev").ok_or_else(|| o.err(Problem::Missing("chardev")))?;
                DeviceKind::Debugcon { iobase, chardev }
            }
            "isa-debug-exit" => {
                take_id(&mut o)?;
                DeviceKind::DebugExit { iobase: port(&mut o, "iobase", 0x501)?, iosize: port(&mut o, "iosize", 2)? }
            }
            other => return Err(o.err(Problem::Msg(format!("'{other}' is not a valid device model name")))),
        };
        o.finish()?;
        Ok(DeviceOpt { origin, kind })
    }

    /// The qdev id, for duplicate checks.
    pub fn id(&self) -> Option<&str> {
        match &self.kind {
            DeviceKind::Ide(d) => d.id.as_deref(),
            DeviceKind::Floppy(d) => d.id.as_deref(),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(arg: &str) -> Result<DeviceOpt, CmdlineError> {
        DeviceOpt::parse(Origin::new("-device", arg))
    }

    #[test]
    fn ide_hd_properties() {
        let d = parse(
            "ide-hd,drive=d0,id=disk0,bus=ide.1,unit=1,serial=S1,model=M,,X,wwn=0x5000c50015ea71ac,\
             cyls=1024,heads=16,secs=63,bios-chs-trans=lba,write-cache=off,discard_granularity=4k,werror=stop",
        )
        .unwrap();
        let DeviceKind::Ide(h) = d.kind else { panic!() };
        assert!(!h.cdrom);
        assert_eq!((h.drive.as_deref(), h.id.as_deref(), h.bus, h.unit), (Some("d0"), Some("disk0"), Some(1), Some(1)));
        assert_eq!((h.serial.as_deref(), h.model.as_deref()), (Some("S1"), Some("M,X")));
        assert_eq!(h.wwn, Some(0x5000c50015ea71ac));
        assert_eq!((h.chs, h.trans), (Some((1024, 16, 63)), BiosChsTrans::Lba));
        assert_eq!(
            (h.write_cache, h.discard_granularity, h.werror),
            (Some(false), Some(4096), Some(ErrorAction::Stop))
        );
        let DeviceKind::Ide(h) = parse("ide-hd,drive=x,write-cache=auto").unwrap().kind else { panic!() };
        assert_eq!(h.write_cache, None);
    }

    #[test]
    fn others() {
        let DeviceKind::Ide(c) = parse("ide-cd,bus=ide.0").unwrap().kind else { panic!() };
        assert!(c.cdrom && c.drive.is_none() && c.unit.is_none());
        let DeviceKind::Floppy(f) = parse("floppy,id=floppy0,unit=1,drive-type=144").unwrap().kind else { panic!() };
        assert_eq!((f.id.as_deref(), f.unit, f.drive_type), (Some("floppy0"), Some(1), FloppyDriveType::D144));
        let d = parse("isa-debugcon,iobase=0x402,chardev=dbg").unwrap();
        assert!(matches!(d.kind, DeviceKind::Debugcon { iobase: 0x402, ref chardev } if chardev == "dbg"));
        let d = parse("isa-debug-exit,iobase=0xf4,iosize=0x04").unwrap();
        assert!(matches!(d.kind, DeviceKind::DebugExit { iobase: 0xf4, iosize: 4 }));
        let d = parse("isa-debug-exit").unwrap();
        assert!(matches!(d.kind, DeviceKind::DebugExit { iobase: 0x501, iosize: 2 }));
    }

    #[test]
    fn errors() {
        let t = |a: &str| parse(a).unwrap_err().to_string();
        assert_eq!(t("virtio-blk-pci"), "-device virtio-blk-pci: 'virtio-blk-pci' is not a valid device model name");
        assert_eq!(t("ide-hd,bus=ide.2"), "-device ide-hd,bus=ide.2: Bus 'ide.2' not found");
        assert_eq!(t("ide-hd,unit=2"), "-device ide-hd,unit=2: unit 2 too big (max is 1)");
        assert_eq!(t("ide-hd,cyls=10"), "-device ide-hd,cyls=10: heads must be between 1 and 16");
        assert_eq!(
            t("ide-hd,cyls=70000,heads=1,secs=1"),
            "-device ide-hd,cyls=70000,heads=1,secs=1: cyls must be between 1 and 65535"
        );
        assert_eq!(t("ide-cd,cyls=10"), "-device ide-cd,cyls=10: invalid parameter 'cyls'");
        assert_eq!(
            t("ide-hd,bios-chs-trans=odd"),
            "-device ide-hd,bios-chs-trans=odd: invalid bios-chs-trans= value 'odd'"
        );
        assert_eq!(t("floppy,drive-type=360"), "-device floppy,drive-type=360: invalid drive-type= value '360'");
        assert_eq!(
            t("isa-debugcon,iobase=0x10000,chardev=x"),
            "-device isa-debugcon,iobase=0x10000,chardev=x: parameter 'iobase' value 65536 is out of range"
        );
        assert_eq!(t("isa-debugcon"), "-device isa-debugcon: parameter 'chardev' is missing");
        assert_eq!(
            t("ide-hd,write-cache=maybe"),
            "-device ide-hd,write-cache=maybe: invalid write-cache= value 'maybe'"
        );
        assert_eq!(t("ide-hd,id=0x"), "-device ide-hd,id=0x: parameter 'id' expects an identifier, not '0x'");
    }
}
