//! The QEMU-compatible command line (contract.md "Command line"):
//! `parse(args)` turns `qemu-system-x86_64`-style arguments into a
//! `MachineConfig` with every drive and device placed and named.
//!
//! Options are single-dash (a double dash works too, as in QEMU); an
//! option's argument is always the next word, even one starting with `-`;
//! a lone word that is not an option is `-hda WORD`, as in QEMU.

mod blockdev;
mod chardev;
mod device;
mod drive;
mod error;
mod layout;
mod opts;
mod system;
mod throttle;

pub use blockdev::{blockdev_json, keyval_to_json, node_spec};
pub use error::{CmdlineError, Problem};
pub use opts::{parse_bool, parse_size, split};

use std::path::PathBuf;

use chardev::Chardev;
use device::DeviceOpt;
use drive::DriveOpt;
use error::Origin;
use layout::Collected;

use crate::config::{MachineConfig, QmpConfig};

/// Options without an argument.
const FLAGS: &[&str] =
    &["-nodefaults", "-no-user-config", "-nographic", "-no-reboot", "-no-shutdown", "-enable-kvm", "-no-hpet", "-S"];

/// Options taking one argument.
const WITH_ARG: &[&str] = &[
    "-machine",
    "-M",
    "-accel",
    "-m",
    "-smp",
    "-cpu",
    "-bios",
    "-display",
    "-vga",
    "-name",
    "-serial",
    "-chardev",
    "-mon",
    "-device",
    "-drive",
    "-hda",
    "-hdb",
    "-hdc",
    "-hdd",
    "-cdrom",
    "-fda",
    "-fdb",
    "-blockdev",
    "-global",
    "-object",
    "-boot",
    "-qmp",
    "-qtest",
    "-qtest-log",
    "-kernel",
    "-initrd",
    "-append",
];

/// Options that describe storage or a guest: without any, the binary runs
/// its built-in demo.
const NOT_DEMO: &[&str] =
    &["-drive", "-hda", "-hdb", "-hdc", "-hdd", "-cdrom", "-fda", "-fdb", "-blockdev", "-device", "-kernel", "-qtest"];

/// QEMU's default RAM size.
pub const DEFAULT_RAM: u64 = 128 << 20;

/// Parse a command line (without argv[0]).
pub fn parse(args: &[String]) -> Result<MachineConfig, CmdlineError> {
    let mut cfg = MachineConfig {
        ram_bytes: DEFAULT_RAM,
        smp: 1,
        boot: system::default_boot(),
        demo: true,
        ..Default::default()
    };
    let mut c = Collected::default();
    let mut mons: Vec<Origin> = Vec::new();
    let mut initrd_origin = None;
    let mut append_origin = None;
    let mut object_ids: Vec<String> = Vec::new();

    let mut it = args.iter();
    while let Some(word) = it.next() {
        // A lone word is `-hda WORD` (QEMU's oldest syntax).
        let (opt, arg) = if !word.starts_with('-') || word == "-" {
            ("-hda".to_string(), Some(word.clone()))
        } else {
            let opt = match word.strip_prefix("--") {
                Some(rest) if !rest.is_empty() => format!("-{rest}"),
                _ => word.clone(),
            };
            if FLAGS.contains(&opt.as_str()) {
                (opt, None)
            } else if WITH_ARG.contains(&opt.as_str()) {
                match it.next() {
                    Some(a) => (opt, Some(a.clone())),
                    None => return Err(CmdlineError::MissingArgument(opt)),
                }
            } else {
                return Err(CmdlineError::UnknownOption(word.clone()));
            }
        };
        if NOT_DEMO.contains(&opt.as_str()) {
            cfg.demo = false;
        }
        let Some(arg) = arg else {
            match opt.as_str() {
                "-nodefaults" => c.nodefaults = true,
                "-nographic" => c.nographic = true,
                "-no-reboot" => cfg.no_reboot = true,
                "-no-shutdown" => cfg.no_shutdown = true,
                "-S" => cfg.start_paused = true,
                "-enable-kvm" => cfg.accel = crate::config::Accel::Kvm,
                // -no-user-config, -no-hpet: nothing to do.
                _ => {}
            }
            continue;
        };
        let o = Origin::new(&opt, &arg);
        match opt.as_str() {
            "-machine" | "-M" => {
                if let Some(a) = system::machine(&o)? {
                    cfg.accel = a;
                }
            }
            "-accel" => cfg.accel = system::accel(&o)?,
            "-m" => cfg.ram_bytes = system::memory(&o)?,
            "-smp" => cfg.smp = system::smp(&o)?,
            // Any CPU model is accepted: the vCPU is whatever KVM offers.
            "-cpu" => {}
            "-bios" => cfg.bios = Some(PathBuf::from(&arg)),
            "-display" => system::display(&o)?,
            "-vga" => {
                if arg != "none" {
                    return Err(o.msg(format!("VGA '{arg}' is not supported (only none)")));
                }
                c.vga_none = true;
            }
            "-name" => cfg.name = system::name(&o)?,
            "-serial" => {
                if c.serial.is_some() {
                    return Err(o.msg("only one -serial (COM1) is supported"));
                }
                c.serial = Some((o.clone(), chardev::serial(&o)?));
            }
            "-chardev" => {
                let (id, dev) = chardev::chardev(&o)?;
                if c.chardevs.insert(id.clone(), dev).is_some() {
                    return Err(o.msg(format!("attempt to add duplicate chardev id '{id}'")));
                }
            }
            "-mon" => mons.push(o),
            "-device" => c.devices.push(DeviceOpt::parse(o)?),
            "-drive" => c.drives.push(DriveOpt::parse(o)?),
            "-hda" | "-hdb" | "-hdc" | "-hdd" | "-cdrom" | "-fda" | "-fdb" => {
                c.drives.extend(DriveOpt::shorthand(&opt, &arg));
            }
            "-blockdev" => {
                let spec = blockdev::blockdev_json(&arg)
                    .and_then(|v| blockdev::node_spec(&v, true))
                    .map_err(|e| o.err(Problem::Msg(e)))?;
                c.blockdevs.push((o, spec));
            }
            "-global" => {
                if let Some(f) = system::global(&o)? {
                    c.fdc_fallback = Some(f);
                }
            }
            "-object" => system::object(&o, &mut object_ids, &mut c)?,
            "-boot" => cfg.boot = system::boot(&o)?,
            "-qmp" => cfg.qmp.push(chardev::qmp(&o)?),
            "-qtest" => cfg.qtest = Some(chardev::qtest(&o)?),
            "-qtest-log" => cfg.qtest_log = (arg != "none").then(|| PathBuf::from(&arg)),
            "-kernel" => cfg.kernel = Some(PathBuf::from(&arg)),
            "-initrd" => {
                cfg.initrd = Some(PathBuf::from(&arg));
                initrd_origin = Some(o);
            }
            "-append" => {
                cfg.append = Some(arg.clone());
                append_origin = Some(o);
            }
            _ => return Err(CmdlineError::UnknownOption(word.clone())),
        }
    }
    if cfg.kernel.is_none() {
        if let Some(o) = initrd_origin.or(append_origin) {
            return Err(o.msg("only allowed with -kernel"));
        }
    }
    for o in &mons {
        let id = chardev::mon(o)?;
        match c.chardevs.get(&id) {
            Some(Chardev::Socket(q)) => cfg.qmp.push(QmpConfig::clone(q)),
            Some(_) => return Err(o.msg(format!("chardev '{id}' is not a socket"))),
            None => return Err(o.msg(format!("chardev '{id}' not found"))),
        }
    }
    cfg.nodefaults = c.nodefaults;
    cfg.layout = layout::resolve(&c)?;
    Ok(cfg)
}
