//! Machine-wide options: `-machine`, `-accel`, `-m`, `-smp`, `-display`,
//! `-name`, `-global`, `-object`, `-boot`.

use std::path::PathBuf;

use super::error::{CmdlineError, Origin, Problem};
use super::layout::Collected;
use super::opts::{parse_size, Opts};
use super::throttle::group_limits;
use crate::config::{Accel, BootConfig, BootDevice, FloppyDriveType, PrManagerPlan};

/// `accel=kvm:tcg` lists: the first one we have wins, as QEMU's fallback.
fn accel_list(o: &Opts, list: &str) -> Result<Accel, CmdlineError> {
    for a in list.split(':') {
        match a {
            "kvm" => return Ok(Accel::Kvm),
            "qtest" => return Ok(Accel::Qtest),
            _ => {}
        }
    }
    Err(o.err(Problem::Msg(format!("accelerator '{list}' is not supported (kvm or qtest)"))))
}

/// `-machine pc[,accel=...]`: the accelerator, if one was named.
pub fn machine(origin: &Origin) -> Result<Option<Accel>, CmdlineError> {
    let mut o = Opts::parse(origin, Some("type"));
    if let Some(t) = o.take("type") {
        // QEMU's versioned names of the same board are accepted too.
        if t != "pc" && !t.starts_with("pc-i440fx-") {
            return Err(o.err(Problem::Msg(format!("unsupported machine type '{t}' (only pc)"))));
        }
    }
    let accel = match o.take("accel") {
        Some(a) => Some(accel_list(&o, &a)?),
        None => None,
    };
    // Accepted; the board has none of these or always behaves one way.
    o.ignore(&["usb", "vmport", "smm", "hpet", "kernel-irqchip", "dump-guest-core", "mem-merge", "graphics", "acpi"]);
    o.finish()?;
    Ok(accel)
}

pub fn accel(origin: &Origin) -> Result<Accel, CmdlineError> {
    let mut o = Opts::parse(origin, Some("accel"));
    let name = o.take("accel").ok_or_else(|| o.err(Problem::Missing("accel")))?;
    let a = accel_list(&o, &name)?;
    o.ignore(&["kernel-irqchip", "thread"]);
    o.finish()?;
    Ok(a)
}

/// `-m SIZE` / `-m size=SIZE`: plain numbers are MiB; rounded up to 8 KiB
/// as QEMU does.
pub fn memory(origin: &Origin) -> Result<u64, CmdlineError> {
    let mut o = Opts::parse(origin, Some("size"));
    let text = o.take("size").ok_or_else(|| o.err(Problem::Missing("size")))?;
    o.ignore(&["slots", "maxmem"]);
    o.finish()?;
    let bytes = parse_size(&text, 1 << 20)
        .filter(|b| *b > 0 && *b <= 1 << 48)
        .ok_or_else(|| origin.msg(format!("invalid RAM size '{text}'")))?;
    Ok(bytes.div_ceil(8192) * 8192)
}

/// `-smp N` / `-smp cpus=N,...`.
pub fn smp(origin: &Origin) -> Result<u32, CmdlineError> {
    let mut o = Opts::parse(origin, Some("cpus"));
    let cpus = o.take_num::<u32>("cpus")?;
    let mut topo = 1u32;
    for k in ["sockets", "dies", "cores", "threads"] {
        if let Some(n) = o.take_num::<u32>(k)? {
            topo = topo.saturating_mul(n);
        }
    }
    o.take_num::<u32>("maxcpus")?;
    o.finish()?;
    let n = cpus.unwrap_or(topo);
    if !(1..=255).contains(&n) {
        return Err(origin.msg(format!("invalid number of CPUs {n} (1 to 255)")));
    }
    Ok(n)
}

pub fn display(origin: &Origin) -> Result<(), CmdlineError> {
    let mut o = Opts::parse(origin, Some("type"));
    match o.take("type").as_deref() {
        Some("none") => o.finish(),
        other => Err(o.err(Problem::Msg(format!("display '{}' is not supported (only none)", other.unwrap_or(""))))),
    }
}

pub fn name(origin: &Origin) -> Result<Option<String>, CmdlineError> {
    let mut o = Opts::parse(origin, Some("guest"));
    let guest = o.take("guest");
    o.ignore(&["process", "debug-threads"]);
    o.finish()?;
    Ok(guest)
}

/// `-global DRIVER.PROP=VALUE` (or `driver=,property=,value=`): returns the
/// floppy fallback when that is what was set.
pub fn global(origin: &Origin) -> Result<Option<FloppyDriveType>, CmdlineError> {
    let a = &origin.arg;
    let (driver, prop, value) = if a.starts_with("driver=") {
        let mut o = Opts::parse(origin, None);
        let d = o.take("driver").unwrap_or_default();
        let p = o.take("property").ok_or_else(|| o.err(Problem::Missing("property")))?;
        let v = o.take("value").ok_or_else(|| o.err(Problem::Missing("value")))?;
        o.finish()?;
        (d, p, v)
    } else {
        let parsed = a.split_once('=').and_then(|(k, v)| k.split_once('.').map(|(d, p)| (d, p, v)));
        let Some((d, p, v)) = parsed else {
            return Err(origin.msg("expected DRIVER.PROPERTY=VALUE"));
        };
        (d.to_string(), p.to_string(), v.to_string())
    };
    match (driver.as_str(), prop.as_str()) {
        ("isa-fdc", "fallback") => match FloppyDriveType::parse(&value) {
            Some(t @ (FloppyDriveType::D144 | FloppyDriveType::D288 | FloppyDriveType::D120)) => Ok(Some(t)),
            _ => Err(origin.err(Problem::BadValue { key: "fallback".into(), value })),
        },
        // The in-kernel PIT always runs without tick reinjection.
        ("kvm-pit", "lost_tick_policy") => Ok(None),
        _ => Err(origin.msg(format!("unsupported global property '{driver}.{prop}'"))),
    }
}

/// `-object pr-manager-helper,...` / `-object throttle-group,...`.
pub fn object(origin: &Origin, ids: &mut Vec<String>, c: &mut Collected) -> Result<(), CmdlineError> {
    let mut o = Opts::parse(origin, Some("qom-type"));
    let ty = o.take("qom-type").ok_or_else(|| o.err(Problem::Missing("qom-type")))?;
    let id = o.take("id").ok_or_else(|| o.err(Problem::Missing("id")))?;
    super::drive::check_id(origin, &id)?;
    if ids.contains(&id) {
        return Err(origin.msg(format!("attempt to add duplicate property '{id}' to object")));
    }
    match ty.as_str() {
        "pr-manager-helper" => {
            let path = o.take("path").ok_or_else(|| o.err(Problem::Missing("path")))?;
            c.pr_managers.push(PrManagerPlan { id: id.clone(), path: PathBuf::from(path) });
        }
        "throttle-group" => {
            let limits = group_limits(&mut o)?;
            c.throttle_groups.push((id.clone(), limits));
        }
        other => return Err(o.err(Problem::Msg(format!("invalid object type: {other}")))),
    }
    o.finish()?;
    ids.push(id);
    Ok(())
}

/// QEMU's pc default boot order, "cad".
pub fn default_boot() -> BootConfig {
    BootConfig {
        order: vec![BootDevice::Disk, BootDevice::Floppy, BootDevice::Cdrom],
        menu: None,
        splash_time_ms: None,
    }
}

/// `-boot [order=]LETTERS,once=,menu=on|off,splash-time=MS,strict=,reboot-timeout=`.
pub fn boot(origin: &Origin) -> Result<BootConfig, CmdlineError> {
    let mut o = Opts::parse(origin, Some("order"));
    let mut cfg = default_boot();
    // `once=` is the order for the first boot; with no reboot tracking here
    // it stands in for order=.
    if let Some(order) = o.take("once").or_else(|| o.take("order")) {
        let mut devs = Vec::new();
        let mut seen = Vec::new();
        for ch in order.chars() {
            if seen.contains(&ch) {
                return Err(o.err(Problem::Msg(format!("Boot device '{ch}' was given twice"))));
            }
            seen.push(ch);
            devs.push(match ch {
                'a' | 'b' => BootDevice::Floppy,
                'c' => BootDevice::Disk,
                'd' => BootDevice::Cdrom,
                'n' => BootDevice::Network,
                _ => return Err(o.err(Problem::Msg(format!("Invalid boot device '{ch}'")))),
            });
        }
        cfg.order = devs;
    }
    cfg.menu = o.take_bool("menu")?;
    cfg.splash_time_ms = o.take_num("splash-time")?;
    o.take_bool("strict")?;
    o.take("reboot-timeout");
    o.finish()?;
    Ok(cfg)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn o(opt: &str, a: &str) -> Origin {
        Origin::new(opt, a)
    }

    #[test]
    fn machine_and_accel() {
        assert_eq!(machine(&o("-machine", "pc")).unwrap(), None);
        assert_eq!(machine(&o("-machine", "pc,accel=qtest")).unwrap(), Some(Accel::Qtest));
        assert_eq!(machine(&o("-machine", "accel=kvm:tcg")).unwrap(), Some(Accel::Kvm));
        assert_eq!(machine(&o("-M", "pc-i440fx-7.2,usb=off")).unwrap(), None);
        assert!(machine(&o("-M", "q35")).unwrap_err().to_string().contains("unsupported machine type 'q35'"));
        assert!(machine(&o("-M", "pc,accel=tcg")).is_err());
        assert!(machine(&o("-M", "pc,foo=1")).is_err());
        assert_eq!(accel(&o("-accel", "qtest")).unwrap(), Accel::Qtest);
        assert_eq!(accel(&o("-accel", "kvm")).unwrap(), Accel::Kvm);
        assert!(accel(&o("-accel", "hvf")).is_err());
    }

    #[test]
    fn memory_and_cpus() {
        assert_eq!(memory(&o("-m", "128")).unwrap(), 128 << 20);
        assert_eq!(memory(&o("-m", "64M")).unwrap(), 64 << 20);
        assert_eq!(memory(&o("-m", "1G")).unwrap(), 1 << 30);
        assert_eq!(memory(&o("-m", "size=256M")).unwrap(), 256 << 20);
        assert_eq!(memory(&o("-m", "1001k")).unwrap(), 126 * 8192);
        assert_eq!(memory(&o("-m", "0")).unwrap_err().to_string(), "-m 0: invalid RAM size '0'");
        assert!(memory(&o("-m", "lots")).is_err());
        assert_eq!(smp(&o("-smp", "1")).unwrap(), 1);
        assert_eq!(smp(&o("-smp", "cpus=2")).unwrap(), 2);
        assert_eq!(smp(&o("-smp", "sockets=1,cores=2,threads=2")).unwrap(), 4);
        assert!(smp(&o("-smp", "0")).is_err());
        assert!(smp(&o("-smp", "x")).is_err());
    }

    #[test]
    fn misc() {
        assert!(display(&o("-display", "none")).is_ok());
        assert!(display(&o("-display", "gtk")).is_err());
        assert_eq!(name(&o("-name", "vm1")).unwrap().as_deref(), Some("vm1"));
        assert_eq!(name(&o("-name", "guest=vm2,debug-threads=on")).unwrap().as_deref(), Some("vm2"));
        assert_eq!(global(&o("-global", "isa-fdc.fallback=144")).unwrap(), Some(FloppyDriveType::D144));
        assert_eq!(
            global(&o("-global", "driver=isa-fdc,property=fallback,value=120")).unwrap(),
            Some(FloppyDriveType::D120)
        );
        assert_eq!(global(&o("-global", "kvm-pit.lost_tick_policy=discard")).unwrap(), None);
        assert!(global(&o("-global", "isa-fdc.fallback=auto")).is_err());
        assert!(global(&o("-global", "ide-hd.ver=1")).is_err());
        assert!(global(&o("-global", "nonsense")).is_err());
    }

    #[test]
    fn boot_options() {
        let b = boot(&o("-boot", "order=dc,menu=on,splash-time=2500")).unwrap();
        assert_eq!(b.order, [BootDevice::Cdrom, BootDevice::Disk]);
        assert_eq!((b.menu, b.splash_time_ms), (Some(true), Some(2500)));
        assert_eq!(boot(&o("-boot", "a")).unwrap().order, [BootDevice::Floppy]);
        assert_eq!(boot(&o("-boot", "menu=off")).unwrap().order, default_boot().order);
        assert!(boot(&o("-boot", "order=cc")).unwrap_err().to_string().contains("given twice"));
        assert!(boot(&o("-boot", "order=z")).unwrap_err().to_string().contains("Invalid boot device 'z'"));
    }
}
