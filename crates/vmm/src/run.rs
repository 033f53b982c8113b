//! Running a machine: under KVM (a vCPU thread plus the event thread) or
//! under qtest (the event thread only, on a virtual clock).

use std::path::Path;
use std::sync::mpsc::{self, Sender};
use std::sync::{Arc, Mutex};

use ironide_block::{RealClock, VirtualClock};
use ironide_dev_platform::MachineRequest;
use ironide_qmp::Monitors;

use vm_memory::GuestMemoryMmap;

use crate::board::{self, BoardParts};
use crate::config::{Accel, CharBackend, MachineConfig};
use crate::error::VmmError;
use crate::event_loop::{lock, run_loop, MachineEvents, QtestEndpoint};
use crate::irq::{IrqOut, KvmIrq};
use crate::kvm::{ExitStatsSink, KvmVm, PortIo, Vcpu, VcpuExitKind};
use crate::linux_boot::LinuxBoot;
use crate::machine::Machine;
use crate::memory::{Firmware, RamLayout, DEFAULT_BIOS};
use crate::qmp::{lifecycle, QmpState};
use crate::run_state::{obey, VcpuControl};

/// -m default.
pub const DEFAULT_RAM: u64 = 128 << 20;

fn ram_layout(cfg: &MachineConfig) -> RamLayout {
    RamLayout::new(if cfg.ram_bytes == 0 { DEFAULT_RAM } else { cfg.ram_bytes })
}

fn firmware(cfg: &MachineConfig) -> Result<Firmware, VmmError> {
    Firmware::load(cfg.bios.as_deref().unwrap_or(Path::new(DEFAULT_BIOS)))
}

/// A KVM machine ready to run (built, not started): tests use it directly.
pub struct KvmMachine {
    pub machine: Arc<Mutex<Machine>>,
    pub vm: KvmVm,
    pub vcpu: Vcpu,
    /// `-kernel`: loaded again and entered at every system reset.
    pub linux: Option<LinuxBoot>,
}

impl KvmMachine {
    pub fn new(cfg: &MachineConfig) -> Result<Self, VmmError> {
        let ram = ram_layout(cfg);
        let mem = ram.allocate()?;
        // The kernel first: a bad -kernel is reported before KVM is touched.
        let linux = LinuxBoot::from_config(cfg);
        let entry = match &linux {
            Some(l) => Some(l.load(&mem).map_err(|e| VmmError::Config(format!("-kernel: {e}")))?),
            None => None,
        };
        let fw = firmware(cfg)?;
        let vm = KvmVm::new(&mem, &fw)?;
        let mut vcpu = vm.create_vcpu()?;
        if let Some(e) = &entry {
            vcpu.enter_linux(e)?;
        }
        let parts = BoardParts {
            mem,
            ram,
            irq: IrqOut::Kvm(KvmIrq::new(vm.vm.clone())),
            clock: Arc::new(RealClock::new()),
            firmware: Some(fw),
            user_elcr: false,
        };
        let machine = Arc::new(Mutex::new(board::build(cfg, parts)?));
        Ok(KvmMachine { machine, vm, vcpu, linux })
    }
}

/// Port exits under the machine lock; device requests kept for the loop.
struct LockedIo<'a> {
    machine: &'a Mutex<Machine>,
    request: Option<MachineRequest>,
}

impl PortIo for LockedIo<'_> {
    fn io_in(&mut self, port: u16, size: usize, data: &mut [u8]) {
        let mut m = lock(self.machine);
        let before = m.ide_events.len();
        m.io_in(port, size, data);
        wake_for_events(&m, before);
    }

    fn io_out(&mut self, port: u16, size: usize, data: &[u8]) {
        let mut m = lock(self.machine);
        let before = m.ide_events.len();
        m.io_out(port, size, data);
        if self.request.is_none() {
            self.request = m.take_request();
        }
        wake_for_events(&m, before);
    }
}

/// The guest moved a tray: the event loop sends DEVICE_TRAY_MOVED.
fn wake_for_events(m: &Machine, before: usize) {
    if m.ide_events.len() > before {
        m.kick_event_loop();
    }
}

/// The vCPU loop: returns the process exit status. With `linux` (-kernel),
/// a reset loads the kernel again and enters it instead of the BIOS. With
/// IRONIDE_EXIT_STATS set, the vCPU's exit counts are reported when it stops.
/// QMP stop/cont/system_reset reach it through the machine's `VcpuControl`
/// (installed here if the caller did not).
pub fn vcpu_loop(machine: &Mutex<Machine>, vcpu: &mut Vcpu, no_reboot: bool, linux: Option<&LinuxBoot>) -> i32 {
    let sink = ExitStatsSink::from_env();
    vcpu.stats.timed = sink.is_on();
    let ctl = lock(machine).run.vcpu.get_or_insert_with(VcpuControl::new).clone();
    ctl.register_current_thread();
    let code = run_vcpu(machine, vcpu, no_reboot, linux, &ctl);
    ctl.mark_exited();
    sink.emit(&vcpu.stats);
    code
}

fn run_vcpu(
    machine: &Mutex<Machine>,
    vcpu: &mut Vcpu,
    no_reboot: bool,
    linux: Option<&LinuxBoot>,
    ctl: &VcpuControl,
) -> i32 {
    loop {
        // Paused or a reset pending: handled between exits, here.
        if ctl.needs_attention() {
            let mut reset = |m: &Machine| {
                vcpu.reset().and_then(|()| reenter_linux(&m.env.mem, vcpu, linux)).map_err(|e| e.to_string())
            };
            if let Some(code) = obey(machine, ctl, &mut reset) {
                return code;
            }
        }
        let mut io = LockedIo { machine, request: None };
        let exit = vcpu.run_once(&mut io);
        let request = match exit {
            VcpuExitKind::Continue | VcpuExitKind::Interrupted => io.request,
            VcpuExitKind::Shutdown => {
                tracing::info!("triple fault: system reset");
                Some(MachineRequest::Reset)
            }
            VcpuExitKind::Fatal(msg) => {
                eprintln!("ironide: {msg}");
                return 1;
            }
        };
        match request {
            None => {}
            Some(MachineRequest::Exit(code)) => return code,
            Some(MachineRequest::Reset) if no_reboot => return 0,
            Some(MachineRequest::Stop) => lifecycle::stop_requested(&mut lock(machine)),
            Some(MachineRequest::Reset) => {
                {
                    let mut m = lock(machine);
                    m.reset();
                    lifecycle::guest_reset_event(&mut m);
                }
                if let Err(e) = vcpu.reset().and_then(|()| reenter_linux(&lock(machine).env.mem, vcpu, linux)) {
                    eprintln!("ironide: reset failed: {e}");
                    return 1;
                }
            }
        }
    }
}

/// After a reset under -kernel: a fresh copy of kernel, initrd and boot
/// data (the running kernel overwrote them), then its entry point.
fn reenter_linux(mem: &GuestMemoryMmap, vcpu: &mut Vcpu, linux: Option<&LinuxBoot>) -> Result<(), VmmError> {
    let Some(l) = linux else { return Ok(()) };
    let entry = l.load(mem).map_err(|e| VmmError::Config(format!("-kernel: {e}")))?;
    vcpu.enter_linux(&entry)
}

/// QMP for the event loop: the monitors and the state from `cfg`.
pub struct QmpParts {
    pub monitors: Option<Monitors>,
    pub state: QmpState,
}

impl QmpParts {
    /// Every -qmp socket set up (errors before the guest starts).
    pub fn from_config(cfg: &MachineConfig) -> Result<Self, VmmError> {
        let state =
            QmpState::from_config(cfg).map_err(|e| VmmError::Config(format!("-object pr-manager-helper: {e}")))?;
        Ok(QmpParts { monitors: board::monitors(cfg)?, state })
    }
}

fn spawn_events(
    machine: &Arc<Mutex<Machine>>,
    real_time: bool,
    stdin: bool,
    qtest: Option<Box<dyn QtestEndpoint>>,
    qmp: QmpParts,
    tx: Sender<i32>,
) -> Result<(), VmmError> {
    let ev = MachineEvents::new(machine.clone(), real_time, stdin, qtest, tx)?.with_qmp(qmp.monitors, qmp.state);
    std::thread::Builder::new()
        .name("events".into())
        .spawn(move || {
            if let Err(e) = run_loop(ev) {
                tracing::error!("{e}");
            }
        })
        .map_err(VmmError::io("spawn event thread"))?;
    Ok(())
}

fn wants_stdin(cfg: &MachineConfig) -> bool {
    cfg.layout.serial == Some(CharBackend::Stdio)
}

/// Run under KVM until the guest exits, resets with -no-reboot, or fails.
pub fn run_kvm(cfg: &MachineConfig) -> Result<i32, VmmError> {
    let KvmMachine { machine, vm, mut vcpu, linux } = KvmMachine::new(cfg)?;
    let qmp = QmpParts::from_config(cfg)?;
    {
        let mut m = lock(&machine);
        m.run.vcpu = Some(VcpuControl::new());
        if cfg.start_paused {
            // The vCPU parks in `obey` before its first KVM_RUN.
            m.pause(crate::run_state::PauseReason::Prelaunch);
        }
    }
    let (tx, rx) = mpsc::channel();
    spawn_events(&machine, true, wants_stdin(cfg), None, qmp, tx.clone())?;
    let m = machine.clone();
    let no_reboot = cfg.no_reboot;
    std::thread::Builder::new()
        .name("vcpu0".into())
        .spawn(move || {
            let _vm = vm; // the VM outlives its vCPU
            let code = vcpu_loop(&m, &mut vcpu, no_reboot, linux.as_ref());
            let _ = tx.send(code);
        })
        .map_err(VmmError::io("spawn vCPU thread"))?;
    Ok(rx.recv().unwrap_or(1))
}

/// A machine for qtest: no CPU, a virtual clock, IRQs recorded.
pub fn qtest_machine(cfg: &MachineConfig) -> Result<Machine, VmmError> {
    let ram = ram_layout(cfg);
    let mem = ram.allocate()?;
    let clock = VirtualClock::new();
    // QEMU loads the BIOS under qtest too; a missing default is no error here.
    let fw = match firmware(cfg) {
        Ok(f) => Some(f),
        Err(e) if cfg.bios.is_some() => return Err(e),
        Err(_) => None,
    };
    let parts = BoardParts { mem, ram, irq: IrqOut::log(), clock: clock.clone(), firmware: fw, user_elcr: true };
    let mut m = board::build(cfg, parts)?;
    m.virtual_clock = Some(clock);
    Ok(m)
}

/// Run under qtest with `endpoint` (the connected qtest server) until the
/// peer closes.
pub fn run_qtest(cfg: &MachineConfig, endpoint: Box<dyn QtestEndpoint>) -> Result<i32, VmmError> {
    let machine = Arc::new(Mutex::new(qtest_machine(cfg)?));
    let qmp = QmpParts::from_config(cfg)?;
    let (tx, rx) = mpsc::channel();
    spawn_events(&machine, false, wants_stdin(cfg), Some(endpoint), qmp, tx)?;
    Ok(rx.recv().unwrap_or(1))
}

/// Run the configured machine; the result is the process exit status.
pub fn run(cfg: &MachineConfig) -> Result<i32, VmmError> {
    match cfg.accel {
        Accel::Kvm => run_kvm(cfg),
        Accel::Qtest => {
            let Some(path) = cfg.qtest.as_deref() else {
                // Objects come first (their errors name them), as in QEMU.
                QmpParts::from_config(cfg)?;
                return Err(VmmError::Config("-accel qtest needs -qtest unix:PATH".into()));
            };
            let stream = crate::qtest::connect(path)
                .map_err(|e| VmmError::Config(format!("-qtest unix:{}: {e}", path.display())))?;
            let log = match &cfg.qtest_log {
                Some(p) => Some(
                    std::fs::File::create(p)
                        .map_err(|e| VmmError::Config(format!("-qtest-log {}: {e}", p.display())))?,
                ),
                None => None,
            };
            run_qtest(cfg, Box::new(QtestLink(crate::qtest::QtestServer::new(stream, log))))
        }
    }
}

/// The qtest server as the event loop's qtest endpoint.
struct QtestLink(crate::qtest::QtestServer);

impl QtestEndpoint for QtestLink {
    fn fd(&self) -> std::os::fd::RawFd {
        self.0.fd()
    }

    fn on_readable(&mut self, m: &mut dyn crate::qtest::QtestMachine) -> std::io::Result<bool> {
        self.0.on_readable(m)
    }

    fn flush_async(&mut self, m: &mut dyn crate::qtest::QtestMachine) {
        // A vanished peer is noticed by on_readable (EOF) next.
        let _ = self.0.flush_async(m);
    }
}
