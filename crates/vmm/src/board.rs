//! Building the pc machine from a `BoardLayout`: block backends, IDE and
//! floppy drives, CMOS, fw_cfg and the character devices.

use std::collections::{HashMap, VecDeque};
use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

use ironide_block::layer::{BackendId, BlockLayer};
use ironide_block::stats::BlockStats;
use ironide_block::{AlignedBuf, Clock, Request};
use ironide_dev_fdc::{DriveConfig, Fdc, FdcConfig, IsaFdc};
use ironide_dev_ide::geometry::{cmos_bytes, guess_geometry, Chs, Translation};
use ironide_dev_ide::{Ide, IdeDriveConfig};
use ironide_dev_isa_dma::IsaDma;
use ironide_dev_platform::cmos::{pc_bios_bytes, Cmos};
use ironide_dev_platform::debug::{DebugExit, Debugcon, Port92, ResetControl, I8042};
use ironide_dev_platform::fw_cfg::FwCfg;
use ironide_dev_platform::serial::Serial16550;
use ironide_dev_platform::smbios::{self, SmbiosConfig};
use ironide_dev_platform::{Elcr, I440fx, PciConfigAddress, Piix3Isa};
use ironide_qmp::{MonitorSpec, Monitors, ServerInfo};
use vm_memory::GuestMemoryMmap;

use crate::bus::PortMap;
use crate::chipset::Chipset;
use crate::config::{BackendPlan, BootDevice, CharBackend, MachineConfig};
use crate::error::VmmError;
use crate::irq::IrqOut;
use crate::machine::{DriveEntry, DriveSlot, Env, Machine, Owner};
use crate::memory::{Firmware, RamLayout};

/// Everything the board needs besides the config.
pub struct BoardParts {
    pub mem: GuestMemoryMmap,
    pub ram: RamLayout,
    pub irq: IrqOut,
    pub clock: Arc<dyn Clock>,
    pub firmware: Option<Firmware>,
    /// qtest: no in-kernel PIC, so ELCR lives in user space.
    pub user_elcr: bool,
}

/// The QMP monitors of every `-qmp` (None without any). A socket that
/// cannot be set up stops everything before the guest starts.
pub fn monitors(cfg: &MachineConfig) -> Result<Option<Monitors>, VmmError> {
    if cfg.qmp.is_empty() {
        return Ok(None);
    }
    let mut mons = Monitors::new(ServerInfo::default()).map_err(VmmError::io("QMP monitor"))?;
    for q in &cfg.qmp {
        let spec = MonitorSpec { path: q.path.clone(), server: q.server, wait: q.server && q.wait };
        mons.add(&spec).map_err(|e| {
            let opts = if q.server { ",server=on" } else { "" };
            VmmError::Config(format!("-qmp unix:{}{opts}: {e}", q.path.display()))
        })?;
    }
    Ok(Some(mons))
}

/// The QOM paths QEMU 7.2's pc machine gives the drive devices it creates itself from
/// `-drive if=ide|floppy` (no device id): `/machine/unattached/device[N]`, numbered in creation
/// order after the CPUs and the board's own devices (one more under KVM, one per serial port,
/// default parallel port and VGA card); floppy drives come first, the IDE drives follow in
/// bus/unit order after five more board devices (six with the default NIC). Measured on QEMU 7.2
/// for 1-2 CPUs, TCG and KVM, with and without -nodefaults, -vga none, -serial, 0-2 floppies,
/// 1-3 IDE drives.
fn machine_init_paths(cfg: &MachineConfig) -> ([[Option<String>; 2]; 2], [Option<String>; 2]) {
    let layout = &cfg.layout;
    let path = |n: usize| Some(format!("/machine/unattached/device[{n}]"));
    let base = 13 + cfg.smp.max(1) as usize - 1
        + usize::from(cfg.accel == crate::config::Accel::Kvm)
        + usize::from(layout.serial.is_some())
        + usize::from(layout.qemu_default_pp_nic)
        + usize::from(layout.qemu_default_vga);
    let mut floppy: [Option<String>; 2] = Default::default();
    let mut n = base;
    for (unit, p) in layout.floppy.iter().enumerate() {
        if p.as_ref().is_some_and(|p| p.qdev_id.is_none()) {
            floppy[unit] = path(n);
            n += 1;
        }
    }
    let mut ide: [[Option<String>; 2]; 2] = Default::default();
    n += 5 + usize::from(layout.qemu_default_pp_nic);
    for (bus, units) in layout.ide.iter().enumerate() {
        for (unit, p) in units.iter().enumerate() {
            if p.as_ref().is_some_and(|p| p.qdev_id.is_none()) {
                ide[bus][unit] = path(n);
                n += 1;
            }
        }
    }
    (ide, floppy)
}

/// Assemble the machine described by `cfg.layout`.
pub fn build(cfg: &MachineConfig, parts: BoardParts) -> Result<Machine, VmmError> {
    let layout = &cfg.layout;
    let mut layer = BlockLayer::new(parts.clock.clone()).map_err(VmmError::io("block layer"))?;
    for spec in &layout.blockdevs {
        layer.add_node(spec, true).map_err(|e| VmmError::Config(format!("-blockdev: {e}")))?;
    }
    let mut backends = Vec::with_capacity(layout.backends.len());
    for plan in &layout.backends {
        backends.push(open_backend(&mut layer, plan)?);
    }
    let backend = |i: Option<usize>| i.and_then(|i| backends.get(i).copied());

    // IDE drives in QEMU's creation order (default serials QM00001..).
    let mut ide = Ide::new();
    let mut owners = HashMap::new();
    let mut drives = Vec::new();
    let (ide_paths, floppy_paths) = machine_init_paths(cfg);
    let entry = |slot: DriveSlot, plan_idx: Option<usize>, qdev: &Option<String>, cdrom: bool, be: BackendId| {
        let bp = plan_idx.and_then(|i| layout.backends.get(i));
        let path = match slot {
            DriveSlot::Ide { bus, unit } => &ide_paths[bus][unit],
            DriveSlot::Floppy { unit } => &floppy_paths[unit],
        };
        let qdev = qdev.clone().or_else(|| path.clone()).unwrap_or_default();
        DriveEntry {
            backend_name: bp.map(|b| b.name.clone()).unwrap_or_default(),
            qdev,
            slot,
            backend: be,
            cdrom,
            werror: bp.map(|b| b.werror).unwrap_or_default(),
            rerror: bp.map(|b| b.rerror).unwrap_or_default(),
        }
    };
    let mut cmos_drives: [Option<(Chs, Translation)>; 4] = [None; 4];
    for bus in 0..2 {
        for unit in 0..2 {
            let Some(p) = &layout.ide[bus][unit] else { continue };
            let id = backend(p.backend);
            let name = || p.qdev_id.clone().unwrap_or_else(|| format!("ide{bus}-{unit}"));
            let mut dc = if p.cdrom {
                let bytes = id.filter(|&b| layer.has_medium(b)).map(|b| layer.size(b));
                IdeDriveConfig::cdrom(id, bytes)
            } else {
                let b = id.filter(|&b| layer.has_medium(b)).ok_or_else(|| VmmError::Drive {
                    name: name(),
                    err: "an IDE disk needs a drive with a medium".into(),
                })?;
                let total = layer.size(b) / 512;
                let mbr = read_mbr(&mut layer, b);
                let user = p.chs.map(|(c, h, s)| Chs { cyls: c, heads: h, secs: s });
                let (chs, t) = guess_geometry(total, mbr.as_ref(), user, p.trans)
                    .map_err(|e| VmmError::Drive { name: name(), err: e.to_string() })?;
                cmos_drives[bus * 2 + unit] = Some((chs, t));
                IdeDriveConfig::disk(b, chs.cyls, chs.heads, chs.secs)
            };
            dc.serial = p.serial.clone();
            dc.model = p.model.clone();
            dc.wwn = p.wwn;
            if let (Some(b), Some(wc)) = (id, p.write_cache) {
                layer.set_write_cache(b, wc);
            }
            ide.attach(bus, unit, dc).map_err(|e| VmmError::Drive { name: name(), err: e.to_string() })?;
            if let Some(b) = id {
                owners.insert(b, Owner::Ide);
                drives.push((p.backend, entry(DriveSlot::Ide { bus, unit }, p.backend, &p.qdev_id, p.cdrom, b)));
            }
        }
    }

    // Throttling starts after the geometry reads.
    for (plan, &id) in layout.backends.iter().zip(&backends) {
        if let Some((tc, group)) = &plan.throttle {
            let cfg = match group.as_deref().and_then(|g| layout.throttle_groups.iter().find(|(n, _)| n == g)) {
                Some((_, gc)) if !tc.is_enabled() => gc.clone(),
                _ => tc.clone(),
            };
            layer
                .set_throttle(id, cfg, group.as_deref())
                .map_err(|e| VmmError::Drive { name: plan.name.clone(), err: e.to_string() })?;
        }
    }

    let mut fcfg = FdcConfig { fallback: layout.fdc_fallback, ..Default::default() };
    for (i, slot) in layout.floppy.iter().enumerate() {
        if let Some(p) = slot {
            let b = backend(p.backend);
            fcfg.drives[i] = DriveConfig { backend: b, drive_type: p.drive_type };
            if let Some(b) = b {
                owners.insert(b, Owner::Fdc);
                drives.push((p.backend, entry(DriveSlot::Floppy { unit: i }, p.backend, &p.qdev_id, false, b)));
            }
        }
    }
    let fdc = IsaFdc::new(Fdc::new(fcfg, &layer), IsaDma::new());

    let mut cmos = Cmos::new(Box::new(host_wall_clock));
    let order = boot_order(&cfg.boot.order);
    let bytes = pc_bios_bytes(
        parts.ram.below_4g,
        parts.ram.above_4g,
        cfg.smp.max(1),
        &order,
        fdc.fdc.cmos_floppy_byte(),
        fdc.fdc.equipment_bits(),
        &cmos_bytes(cmos_drives),
    );
    for (off, v) in bytes {
        cmos.set(off, v);
    }
    let mut fw_cfg = FwCfg::new(
        parts.ram.below_4g,
        parts.ram.above_4g,
        cfg.smp.max(1),
        cfg.boot.menu.unwrap_or(false),
        cfg.boot.splash_time_ms.map(|ms| ms.min(u32::from(u16::MAX)) as u16),
    );
    // QEMU's SMBIOS tables: SeaBIOS copies them instead of building its own (slow under nested KVM).
    let ram = &parts.ram;
    let tables = smbios::build(&SmbiosConfig::pc(ram.below_4g, ram.above_4g, cfg.smp.max(1), cpu_signature()))
        .map_err(|e| VmmError::Config(e.to_string()))?;
    for (name, bytes) in [(smbios::ANCHOR_FILE, tables.anchor), (smbios::TABLES_FILE, tables.tables)] {
        fw_cfg.add_file(name, bytes).map_err(|e| VmmError::Config(e.to_string()))?;
    }
    let serial = match &layout.serial {
        Some(c) => Some(Serial16550::new(char_out(c)?)),
        None => None,
    };
    let debugcon = match &layout.debugcon {
        Some(d) => Some(Debugcon::new(d.iobase, char_out(&d.out)?)),
        None => None,
    };
    let debug_exit = layout.debug_exit.map(|d| DebugExit::new(d.iobase, d.iosize));
    let ports = PortMap {
        serial: serial.is_some(),
        debugcon: layout.debugcon.as_ref().map(|d| d.iobase),
        debug_exit: layout.debug_exit.map(|d| (d.iobase, d.iosize)),
        elcr: parts.user_elcr,
    };
    let chipset = Chipset {
        pci_address: PciConfigAddress::new(),
        i440fx: I440fx::new(),
        piix3: Piix3Isa::new(),
        elcr: Elcr::new(),
        cmos,
        fw_cfg,
        serial,
        debugcon,
        debug_exit,
        port92: Port92::new(),
        reset_control: ResetControl::new(),
        i8042: I8042::new(),
    };
    if let Some(fw) = &parts.firmware {
        fw.shadow(&parts.mem)?;
    }
    // werror/rerror=stop: the layer remembers what it may have to resubmit.
    // query-block lists drives in the order their backends were made (-drive order, QEMU's
    // default drives last), not in slot order.
    drives.sort_by_key(|(plan, _)| plan.unwrap_or(usize::MAX));
    let drives: Vec<_> = drives.into_iter().map(|(_, d)| d).collect();
    let layer = crate::io_retry::TrackedLayer::new(layer, &drives);
    Ok(Machine {
        env: Env { layer, mem: parts.mem, irq: parts.irq, clock: parts.clock },
        ide,
        fdc,
        chipset,
        ports,
        owners,
        drives,
        ide_events: VecDeque::new(),
        requests: VecDeque::new(),
        firmware: parts.firmware,
        virtual_clock: None,
        timer_kick: None,
        armed_deadline: None,
        run: Default::default(),
    })
}

fn open_backend(layer: &mut BlockLayer, plan: &BackendPlan) -> Result<BackendId, VmmError> {
    let err = |e: ironide_block::layer::LayerError| VmmError::Drive { name: plan.name.clone(), err: e.to_string() };
    let id = layer.create_backend(&plan.name, plan.write_cache);
    if let Some(node) = &plan.node {
        layer.insert_medium(id, node).map_err(err)?;
    } else if let Some(spec) = &plan.medium {
        layer.open_medium(id, spec).map_err(err)?;
    }
    Ok(id)
}

/// The first sector for geometry guessing. QEMU does not count this
/// internal read in the drive's statistics, so they are reset afterwards.
fn read_mbr(layer: &mut BlockLayer, id: BackendId) -> Option<[u8; 512]> {
    const TAG: u64 = u64::MAX;
    layer.submit(id, Request::read_owned(0, AlignedBuf::new(512), TAG));
    let mut out = None;
    for _ in 0..200 {
        layer.process_completions(|_, c| {
            if c.tag == TAG {
                out = Some(c);
            }
        });
        if out.is_some() || layer.in_flight(id) == 0 {
            break;
        }
        layer.wait(Duration::from_millis(50));
    }
    if let Some(s) = layer.stats_mut(id) {
        *s = BlockStats::default();
    }
    let c = out?;
    c.result.ok()?;
    let buf = c.buf?;
    buf.as_slice().get(..512)?.try_into().ok()
}

/// CMOS boot codes: a/b floppy 1, c disk 2, d CD 3, n network 4. QEMU's
/// pc default is "cad".
fn boot_order(order: &[BootDevice]) -> Vec<u8> {
    let order = if order.is_empty() { &[BootDevice::Disk, BootDevice::Cdrom, BootDevice::Floppy][..] } else { order };
    order
        .iter()
        .map(|d| match d {
            BootDevice::Floppy => 1,
            BootDevice::Disk => 2,
            BootDevice::Cdrom => 3,
            BootDevice::Network => 4,
        })
        .collect()
}

/// The RTC starts at the host's UTC time, as QEMU's default `-rtc base=utc`.
fn host_wall_clock() -> (u64, u32) {
    let d = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    (d.as_secs(), d.subsec_nanos())
}

fn char_out(c: &CharBackend) -> Result<Box<dyn Write + Send>, VmmError> {
    Ok(match c {
        CharBackend::Stdio => Box::new(std::io::stdout()),
        CharBackend::File(p) => Box::new(
            std::fs::File::create(p).map_err(|e| VmmError::Config(format!("cannot open '{}': {e}", p.display())))?,
        ),
        CharBackend::Null => Box::new(std::io::sink()),
    })
}

/// CPUID leaf 1 EAX (signature) and EDX (features) for SMBIOS type 4: the
/// vCPUs get the host's signature (KVM's supported CPUID passes it through).
fn cpu_signature() -> u64 {
    #[cfg(target_arch = "x86_64")]
    {
        let r = std::arch::x86_64::__cpuid(1);
        (u64::from(r.edx) << 32) | u64::from(r.eax)
    }
    #[cfg(not(target_arch = "x86_64"))]
    0
}

#[cfg(test)]
mod qom_tests {
    use super::machine_init_paths;

    fn paths(cmdline: &str) -> (Vec<Option<String>>, Vec<Option<String>>) {
        let args: Vec<String> = cmdline.split_whitespace().map(String::from).collect();
        let cfg = crate::cmdline::parse(&args).expect("command line");
        let (ide, fd) = machine_init_paths(&cfg);
        (ide.into_iter().flatten().collect(), fd.to_vec())
    }

    fn n(i: usize) -> Option<String> {
        Some(format!("/machine/unattached/device[{i}]"))
    }

    /// Each case as QEMU 7.2 named it (query-block qdev).
    #[test]
    fn measured_on_qemu_7_2() {
        // KVM, -nodefaults, one disk.
        assert_eq!(paths("-nodefaults -machine pc,accel=kvm -hda d.img").0, [n(19), None, None, None]);
        // A second CPU, a serial port: one more each.
        assert_eq!(paths("-nodefaults -machine pc,accel=kvm -smp 2 -serial null -hda d.img").0[0], n(21));
        // Floppies first (by unit), IDE after them, in bus/unit order, whatever the -drive order.
        let (ide, fd) = paths(
            "-nodefaults -machine pc,accel=qtest -drive file=d1,if=ide,index=1 -drive file=f1,if=floppy,index=1 \
             -drive file=d0,if=ide,index=0 -drive file=c,if=ide,index=3,media=cdrom",
        );
        assert_eq!(ide, [n(19), n(20), None, n(21)]);
        assert_eq!(fd, [None, n(13)]);
        // QEMU's defaults (serial, parallel, VGA, default floppy, NIC, default CD).
        let (ide, fd) = paths("-machine pc,accel=kvm -hda d.img");
        assert_eq!((ide, fd), (vec![n(24), None, n(25), None], vec![n(17), None]));
        let (ide, fd) = paths("-machine pc,accel=kvm -vga none -hda d.img");
        assert_eq!((ide, fd), (vec![n(23), None, n(24), None], vec![n(16), None]));
        // -device drives are named elsewhere (id or peripheral-anon path).
        let (ide, _) = paths("-nodefaults -drive if=none,id=x,file=d -device ide-hd,drive=x");
        assert_eq!(ide, [None, None, None, None]);
    }
}
