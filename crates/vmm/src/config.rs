//! The typed machine configuration: what the command line describes
//! (`cmdline::parse`) and what the machine is built from
//! (`MachineConfig::layout`). This file is the contract between the parser
//! and the machine.

use std::path::PathBuf;

use ironide_block::driver::CacheMode;
use ironide_block::engine::AioMode;
use ironide_block::layer::NodeSpec;
use ironide_block::throttle::ThrottleConfig;

/// `-accel` / `-machine accel=`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Accel {
    #[default]
    Kvm,
    Qtest,
}

/// Where a character stream goes (`-serial`, `-chardev`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CharBackend {
    Stdio,
    File(PathBuf),
    Null,
}

/// `-qmp unix:PATH[,server=on,wait=off]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QmpConfig {
    pub path: PathBuf,
    /// true: we listen; false: we connect to a listening client.
    pub server: bool,
    pub wait: bool,
}

/// werror= / rerror=.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum ErrorAction {
    #[default]
    Report,
    Ignore,
    Stop,
    /// werror=enospc: stop on ENOSPC, report the rest (QEMU's default werror).
    Enospc,
}

/// `-drive media=`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Media {
    #[default]
    Disk,
    Cdrom,
}

/// `-drive if=`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum DriveIf {
    #[default]
    Ide,
    Floppy,
    None,
}

/// BIOS CHS translation property (`bios-chs-trans=`).
pub use ironide_dev_ide::geometry::BiosChsTrans;

/// Floppy drive type property.
pub use ironide_dev_fdc::DriveType as FloppyDriveType;

/// `-boot` device letters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BootDevice {
    /// a/b
    Floppy,
    /// c
    Disk,
    /// d
    Cdrom,
    /// n
    Network,
}

#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct BootConfig {
    pub order: Vec<BootDevice>,
    pub menu: Option<bool>,
    pub splash_time_ms: Option<u32>,
}

/// One block backend the machine creates (a `-drive`, or a device whose
/// drive= names a `-blockdev` node).
#[derive(Clone, Debug)]
pub struct BackendPlan {
    /// The BlockBackend name QMP uses: the -drive id, QEMU's automatic
    /// `ide0-hd0`-style name, or "" for a device attached to a -blockdev node.
    pub name: String,
    /// The medium to open (None: empty drive, or `node` below).
    pub medium: Option<NodeSpec>,
    /// Attach this existing `-blockdev` node instead of opening `medium`.
    pub node: Option<String>,
    pub read_only: bool,
    /// cache.writeback (the guest-visible write cache).
    pub write_cache: bool,
    pub cache: CacheMode,
    pub aio: AioMode,
    pub werror: ErrorAction,
    pub rerror: ErrorAction,
    /// Limits from throttling.* (all zero = none) and the group name.
    pub throttle: Option<(ThrottleConfig, Option<String>)>,
}

/// One IDE device slot.
#[derive(Clone, Debug)]
pub struct IdePlan {
    pub cdrom: bool,
    /// Index into `BoardLayout::backends`.
    pub backend: Option<usize>,
    /// The qdev name of a `-device` (its id, or its QOM path without one); None for a
    /// `-drive` (named at board build, see `board::machine_init_paths`).
    pub qdev_id: Option<String>,
    /// User geometry (cyls, heads, secs).
    pub chs: Option<(u32, u32, u32)>,
    pub trans: BiosChsTrans,
    pub serial: Option<String>,
    pub model: Option<String>,
    pub wwn: Option<u64>,
    pub write_cache: Option<bool>,
    pub discard_granularity: Option<u32>,
}

/// One floppy drive slot.
#[derive(Clone, Debug)]
pub struct FloppyPlan {
    pub backend: Option<usize>,
    pub qdev_id: Option<String>,
    pub drive_type: FloppyDriveType,
}

/// `-device isa-debugcon,iobase=,chardev=`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DebugconPlan {
    pub iobase: u16,
    pub out: CharBackend,
}

/// `-device isa-debug-exit,iobase=,iosize=`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DebugExitPlan {
    pub iobase: u16,
    pub iosize: u16,
}

/// `-object pr-manager-helper,id=,path=`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PrManagerPlan {
    pub id: String,
    pub path: PathBuf,
}

/// What the machine is built from: every name resolved, every slot placed.
#[derive(Clone, Debug)]
pub struct BoardLayout {
    pub backends: Vec<BackendPlan>,
    /// `-blockdev` nodes, opened first, in order (node-name always set).
    pub blockdevs: Vec<NodeSpec>,
    /// [bus][unit]
    pub ide: [[Option<IdePlan>; 2]; 2],
    pub floppy: [Option<FloppyPlan>; 2],
    /// `-global isa-fdc.fallback=` (default 288).
    pub fdc_fallback: FloppyDriveType,
    pub serial: Option<CharBackend>,
    /// QEMU's default parallel port and NIC (no -nodefaults) and VGA card (neither -nodefaults
    /// nor -vga none): ironide does not emulate them, but they shift QEMU's numbering of
    /// devices without an id.
    pub qemu_default_pp_nic: bool,
    pub qemu_default_vga: bool,
    pub debugcon: Option<DebugconPlan>,
    pub debug_exit: Option<DebugExitPlan>,
    pub pr_managers: Vec<PrManagerPlan>,
    /// `-object throttle-group,id=,x-...`: group name and limits.
    pub throttle_groups: Vec<(String, ThrottleConfig)>,
}

impl Default for BoardLayout {
    fn default() -> Self {
        BoardLayout {
            backends: Vec::new(),
            blockdevs: Vec::new(),
            ide: Default::default(),
            floppy: Default::default(),
            fdc_fallback: FloppyDriveType::D288,
            serial: None,
            qemu_default_pp_nic: false,
            qemu_default_vga: false,
            debugcon: None,
            debug_exit: None,
            pr_managers: Vec::new(),
            throttle_groups: Vec::new(),
        }
    }
}

/// The parsed command line.
#[derive(Clone, Debug, Default)]
pub struct MachineConfig {
    pub accel: Accel,
    pub ram_bytes: u64,
    pub smp: u32,
    pub bios: Option<PathBuf>,
    pub nodefaults: bool,
    pub no_reboot: bool,
    pub no_shutdown: bool,
    /// -S: the vCPU waits for QMP `cont`.
    pub start_paused: bool,
    pub name: Option<String>,
    pub boot: BootConfig,
    pub qmp: Vec<QmpConfig>,
    pub qtest: Option<PathBuf>,
    /// None: no log; Some(path).
    pub qtest_log: Option<PathBuf>,
    pub kernel: Option<PathBuf>,
    pub initrd: Option<PathBuf>,
    pub append: Option<String>,
    /// Everything about devices and drives, resolved.
    pub layout: BoardLayout,
    /// True when no disk option at all was given: run the built-in demo.
    pub demo: bool,
}
