//! From what was asked to where it goes: places every drive and device in
//! its IDE or floppy slot and names every backend the way QEMU does
//! (contract.md "Names"), then fills in the pc machine's defaults.
//!
//! Order follows QEMU: `-drive`s are placed first in command-line order
//! (a drive with neither index nor unit takes the first free slot, spilling
//! onto the next bus), then the implicit drives (the empty CD-ROM at index 2
//! and floppy A, each only if its slot is still free), then `-device`s in
//! order.

use std::collections::{HashMap, HashSet};

use ironide_block::driver::CacheFlags;
use ironide_block::layer::NodeSpec;
use ironide_block::throttle::ThrottleConfig;

use super::chardev::{Chardev, SerialSpec};
use super::device::{DeviceKind, DeviceOpt, FloppyDevOpt, IdeDevOpt};
use super::drive::{cache_mode_of, DriveOpt};
use super::error::{CmdlineError, Origin};
use crate::config::{
    BackendPlan, BoardLayout, CharBackend, DebugExitPlan, DebugconPlan, DriveIf, ErrorAction, FloppyDriveType,
    FloppyPlan, IdePlan, Media, PrManagerPlan,
};

/// Everything the option parser collected, before placement.
#[derive(Default)]
pub struct Collected {
    pub drives: Vec<DriveOpt>,
    pub blockdevs: Vec<(Origin, NodeSpec)>,
    pub devices: Vec<DeviceOpt>,
    pub chardevs: HashMap<String, Chardev>,
    pub serial: Option<(Origin, SerialSpec)>,
    pub nodefaults: bool,
    pub nographic: bool,
    /// `-vga none` given.
    pub vga_none: bool,
    pub fdc_fallback: Option<FloppyDriveType>,
    pub pr_managers: Vec<PrManagerPlan>,
    pub throttle_groups: Vec<(String, ThrottleConfig)>,
}

/// A named backend the devices may refer to.
struct Named {
    backend: usize,
    in_use: bool,
    has_medium: bool,
}

struct Resolver {
    layout: BoardLayout,
    /// -drive backends by name.
    drives: HashMap<String, Named>,
    /// -blockdev node names, with whether a device already uses it.
    nodes: HashMap<String, (usize, bool)>,
    /// node-names given on -drive (their nodes belong to that drive).
    drive_nodes: HashSet<String>,
    /// if=none units taken (for `none<N>` names).
    none_units: Vec<u32>,
}

fn empty_backend(read_only: bool) -> BackendPlan {
    BackendPlan {
        name: String::new(),
        medium: None,
        node: None,
        read_only,
        write_cache: true,
        cache: ironide_block::driver::CacheMode::Writeback,
        aio: Default::default(),
        werror: ErrorAction::Enospc,
        rerror: ErrorAction::Report,
        throttle: None,
    }
}

fn ide_plan(cdrom: bool, backend: Option<usize>) -> IdePlan {
    IdePlan {
        cdrom,
        backend,
        qdev_id: None,
        chs: None,
        trans: Default::default(),
        serial: None,
        model: None,
        wwn: None,
        write_cache: None,
        discard_granularity: None,
    }
}

impl Resolver {
    fn ide_free(&self, bus: usize, unit: usize) -> bool {
        self.layout.ide[bus][unit].is_none()
    }

    /// (bus, unit) of a -drive, per QEMU's index/bus/unit rules.
    fn place_drive(&self, d: &DriveOpt) -> Result<(u32, u32), CmdlineError> {
        let o = &d.origin;
        let taken = |bus: u32, unit: u32| -> bool {
            match d.iface {
                DriveIf::Ide => bus > 1 || unit > 1 || !self.ide_free(bus as usize, unit as usize),
                DriveIf::Floppy => unit > 1 || self.layout.floppy[unit as usize].is_some(),
                DriveIf::None => self.none_units.contains(&unit),
            }
        };
        let (max_units, max_bus) = match d.iface {
            DriveIf::Ide => (2u32, 1u32),
            DriveIf::Floppy => (2, 0),
            DriveIf::None => (u32::MAX, 0),
        };
        let (bus, unit) = if let Some(i) = d.index {
            let last = match d.iface {
                DriveIf::Ide => Some(3),
                DriveIf::Floppy => Some(1),
                DriveIf::None => None,
            };
            if let Some(last) = last.filter(|l| i > *l) {
                return Err(o.msg(format!("index {i} out of range (0 to {last})")));
            }
            if d.iface == DriveIf::Ide {
                (i / 2, i % 2)
            } else {
                (0, i)
            }
        } else {
            let mut bus = d.bus.unwrap_or(0);
            if bus > max_bus {
                return Err(o.msg(format!("bus {bus} too big (max is {max_bus})")));
            }
            match d.unit {
                Some(u) => (bus, u),
                None => {
                    // First free unit, moving on to the next bus when one is full.
                    let mut unit = 0;
                    while bus <= max_bus && taken(bus, unit) {
                        unit += 1;
                        if unit >= max_units {
                            unit = 0;
                            bus += 1;
                        }
                    }
                    if bus > max_bus {
                        return Err(o.msg("no free slot left for this drive"));
                    }
                    (bus, unit)
                }
            }
        };
        if bus > max_bus {
            return Err(o.msg(format!("bus {bus} too big (max is {max_bus})")));
        }
        if max_units != u32::MAX && unit >= max_units {
            return Err(o.msg(format!("unit {unit} too big (max is {})", max_units - 1)));
        }
        if taken(bus, unit) {
            let index = if d.iface == DriveIf::Ide { bus * 2 + unit } else { unit };
            return Err(o.msg(format!("drive with bus={bus}, unit={unit} (index={index}) exists")));
        }
        Ok((bus, unit))
    }

    fn add_drive(&mut self, d: &DriveOpt) -> Result<(), CmdlineError> {
        let (bus, unit) = self.place_drive(d)?;
        let auto = match (d.iface, d.media) {
            (DriveIf::Ide, Media::Cdrom) => format!("ide{bus}-cd{unit}"),
            (DriveIf::Ide, Media::Disk) => format!("ide{bus}-hd{unit}"),
            (DriveIf::Floppy, _) => format!("floppy{unit}"),
            (DriveIf::None, _) => format!("none{unit}"),
        };
        let name = d.id.clone().unwrap_or(auto);
        if self.drives.contains_key(&name) {
            return Err(d.origin.msg(format!("Duplicate ID '{name}' for drive")));
        }
        let has_medium = d.file.is_some();
        if d.iface == DriveIf::Ide && d.media == Media::Disk && !has_medium {
            return Err(d.origin.msg("Device needs media, but drive is empty"));
        }
        let backend = self.layout.backends.len();
        self.layout.backends.push(d.backend(name.clone()));
        let in_use = d.iface != DriveIf::None;
        self.drives.insert(name, Named { backend, in_use, has_medium });
        match d.iface {
            DriveIf::Ide => {
                self.layout.ide[bus as usize][unit as usize] = Some(ide_plan(d.media == Media::Cdrom, Some(backend)))
            }
            DriveIf::Floppy => {
                self.layout.floppy[unit as usize] =
                    Some(FloppyPlan { backend: Some(backend), qdev_id: None, drive_type: FloppyDriveType::Auto })
            }
            DriveIf::None => self.none_units.push(unit),
        }
        Ok(())
    }

    fn add_blockdev(&mut self, o: &Origin, spec: &NodeSpec) -> Result<(), CmdlineError> {
        let name = spec.node_name.clone().unwrap_or_default();
        if self.nodes.contains_key(&name) || self.drive_nodes.contains(&name) {
            return Err(o.msg(format!("Duplicate nodes with node-name='{name}'")));
        }
        if self.drives.contains_key(&name) {
            return Err(o.msg(format!("node-name={name} is conflicting with a device id")));
        }
        self.nodes.insert(name, (self.layout.blockdevs.len(), false));
        self.layout.blockdevs.push(spec.clone());
        Ok(())
    }

    /// The backend a device's `drive=` names (a -drive id or a -blockdev
    /// node), or a new empty anonymous one when `drive=` is absent.
    fn device_backend(&mut self, o: &Origin, drive: Option<&str>, needs_media: bool) -> Result<usize, CmdlineError> {
        let Some(name) = drive else {
            if needs_media {
                return Err(o.msg("drive property not set (ide-hd needs a drive)"));
            }
            self.layout.backends.push(empty_backend(false));
            return Ok(self.layout.backends.len() - 1);
        };
        if let Some(n) = self.drives.get_mut(name) {
            if n.in_use {
                return Err(o.msg(format!("Property 'drive' can't take value '{name}', it's in use")));
            }
            if needs_media && !n.has_medium {
                return Err(o.msg("Device needs media, but drive is empty"));
            }
            n.in_use = true;
            return Ok(n.backend);
        }
        if let Some((i, used)) = self.nodes.get_mut(name) {
            if *used {
                return Err(o.msg(format!("Property 'drive' can't take value '{name}', it's in use")));
            }
            *used = true;
            let spec = &self.layout.blockdevs[*i];
            let flags = CacheFlags { writeback: true, direct: spec.direct, no_flush: spec.no_flush };
            let mut b = empty_backend(spec.read_only);
            b.node = Some(name.to_string());
            b.cache = cache_mode_of(flags);
            self.layout.backends.push(b);
            return Ok(self.layout.backends.len() - 1);
        }
        if self.drive_nodes.contains(name) {
            return Err(o.msg(format!("Property 'drive' can't take value '{name}', it's in use")));
        }
        Err(o.msg(format!("Property 'drive' can't find value '{name}'")))
    }

    fn add_ide(&mut self, o: &Origin, d: &IdeDevOpt, qdev: String) -> Result<(), CmdlineError> {
        let slot = match (d.bus, d.unit) {
            (b, Some(u)) => {
                let b = b.unwrap_or(0);
                if !self.ide_free(b, u) {
                    return Err(o.msg(format!("IDE unit {u} on bus ide.{b} is in use")));
                }
                (b, u)
            }
            (Some(b), None) => match (0..2).find(|u| self.ide_free(b, *u)) {
                Some(u) => (b, u),
                None => return Err(o.msg(format!("IDE bus ide.{b} is full"))),
            },
            (None, None) => match (0..4).map(|i| (i / 2, i % 2)).find(|(b, u)| self.ide_free(*b, *u)) {
                Some(s) => s,
                None => return Err(o.msg("no free IDE slot")),
            },
        };
        let backend = self.device_backend(o, d.drive.as_deref(), !d.cdrom)?;
        let b = &mut self.layout.backends[backend];
        if let Some(w) = d.werror {
            b.werror = w;
        }
        if let Some(r) = d.rerror {
            b.rerror = r;
        }
        if d.cdrom && d.drive.is_none() {
            b.read_only = true;
        }
        let mut plan = ide_plan(d.cdrom, Some(backend));
        plan.qdev_id = Some(qdev);
        plan.chs = d.chs;
        plan.trans = d.trans;
        plan.serial = d.serial.clone();
        plan.model = d.model.clone();
        plan.wwn = d.wwn;
        plan.write_cache = d.write_cache;
        plan.discard_granularity = d.discard_granularity;
        self.layout.ide[slot.0][slot.1] = Some(plan);
        Ok(())
    }

    fn add_floppy(&mut self, o: &Origin, d: &FloppyDevOpt, qdev: String) -> Result<(), CmdlineError> {
        let unit = match d.unit {
            Some(u) if self.layout.floppy[u].is_some() => {
                return Err(o.msg(format!("Floppy unit {u} is in use")));
            }
            Some(u) => u,
            None => match (0..2).find(|u| self.layout.floppy[*u].is_none()) {
                Some(u) => u,
                None => return Err(o.msg("no free floppy unit")),
            },
        };
        let backend = self.device_backend(o, d.drive.as_deref(), false)?;
        self.layout.floppy[unit] =
            Some(FloppyPlan { backend: Some(backend), qdev_id: Some(qdev), drive_type: d.drive_type });
        Ok(())
    }

    fn char_backend(chardevs: &HashMap<String, Chardev>, o: &Origin, id: &str) -> Result<CharBackend, CmdlineError> {
        match chardevs.get(id) {
            Some(Chardev::Char(c)) => Ok(c.clone()),
            Some(Chardev::Socket(_)) => {
                Err(o.msg(format!("chardev '{id}' is a socket; only file, stdio and null work here")))
            }
            None => Err(o.msg(format!("chardev '{id}' not found"))),
        }
    }
}

/// Place and name everything.
pub fn resolve(c: &Collected) -> Result<BoardLayout, CmdlineError> {
    let mut r = Resolver {
        layout: BoardLayout::default(),
        drives: HashMap::new(),
        nodes: HashMap::new(),
        drive_nodes: HashSet::new(),
        none_units: Vec::new(),
    };
    for d in &c.drives {
        r.add_drive(d)?;
    }
    // QEMU's pc defaults: any ide-hd/ide-cd device turns off the default
    // CD-ROM, any floppy device the default floppy drive.
    let has = |f: fn(&DeviceKind) -> bool| c.devices.iter().any(|d| f(&d.kind));
    if !c.nodefaults && !has(|k| matches!(k, DeviceKind::Ide(_))) && r.ide_free(1, 0) {
        r.add_drive(&DriveOpt::implicit(DriveIf::Ide, 2, Media::Cdrom))?;
    }
    if !c.nodefaults && !has(|k| matches!(k, DeviceKind::Floppy(_))) && r.layout.floppy[0].is_none() {
        r.add_drive(&DriveOpt::implicit(DriveIf::Floppy, 0, Media::Disk))?;
    }
    for d in &c.drives {
        if let Some(n) = &d.node_name {
            if !r.drive_nodes.insert(n.clone()) {
                return Err(d.origin.msg(format!("Duplicate nodes with node-name='{n}'")));
            }
        }
    }
    for (o, spec) in &c.blockdevs {
        r.add_blockdev(o, spec)?;
    }
    let mut qdev_ids: Vec<&str> = Vec::new();
    // QEMU names a -device without id by its QOM path; anonymous devices are numbered in
    // command-line order, whatever their kind.
    let mut anonymous = 0usize;
    for dev in &c.devices {
        let o = &dev.origin;
        let qdev = match dev.id() {
            Some(id) => {
                if qdev_ids.contains(&id) {
                    return Err(o.msg(format!("Duplicate ID '{id}' for device")));
                }
                qdev_ids.push(id);
                id.to_string()
            }
            None => {
                anonymous += 1;
                format!("/machine/peripheral-anon/device[{}]", anonymous - 1)
            }
        };
        match &dev.kind {
            DeviceKind::Ide(d) => r.add_ide(o, d, qdev)?,
            DeviceKind::Floppy(d) => r.add_floppy(o, d, qdev)?,
            DeviceKind::Debugcon { iobase, chardev } => {
                if r.layout.debugcon.is_some() {
                    return Err(o.msg("only one isa-debugcon is supported"));
                }
                let out = Resolver::char_backend(&c.chardevs, o, chardev)?;
                r.layout.debugcon = Some(DebugconPlan { iobase: *iobase, out });
            }
            DeviceKind::DebugExit { iobase, iosize } => {
                if r.layout.debug_exit.is_some() {
                    return Err(o.msg("only one isa-debug-exit is supported"));
                }
                r.layout.debug_exit = Some(DebugExitPlan { iobase: *iobase, iosize: *iosize });
            }
        }
    }
    r.layout.serial = match &c.serial {
        Some((_, SerialSpec::None)) => None,
        Some((_, SerialSpec::Backend(b))) => Some(b.clone()),
        Some((o, SerialSpec::Chardev(id))) => Some(Resolver::char_backend(&c.chardevs, o, id)?),
        // QEMU's default COM1 goes to the terminal with -nographic and to a
        // graphical console otherwise, which ironide does not have: null.
        None if c.nodefaults => None,
        None if c.nographic => Some(CharBackend::Stdio),
        None => Some(CharBackend::Null),
    };
    if let Some(f) = c.fdc_fallback {
        r.layout.fdc_fallback = f;
    }
    r.layout.qemu_default_pp_nic = !c.nodefaults;
    r.layout.qemu_default_vga = !c.nodefaults && !c.vga_none;
    r.layout.pr_managers = c.pr_managers.clone();
    r.layout.throttle_groups = c.throttle_groups.clone();
    Ok(r.layout)
}
