//! Choosing the emulator under test and booting a guest with the contract's command line.

use crate::{io_err, workspace_root, Result};
use std::fmt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

/// The SeaBIOS image every run uses (Debian package seabios).
pub const BIOS: &str = "/usr/share/seabios/bios.bin";
/// How long a guest may run before it is killed and the test fails with its serial log.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Ironide,
    /// QEMU as the side-by-side reference: needs `-cpu qemu64` on the nested development KVM
    /// and the PIT without lost-tick reinjection (else SeaBIOS's floppy boot times out).
    Qemu,
}

/// The emulator binary the tests boot guests with.
#[derive(Debug, Clone)]
pub struct Emulator {
    pub path: PathBuf,
    pub kind: Kind,
    /// LD_LIBRARY_PATH for an unpacked QEMU (scripts/unpack-qemu.sh puts libraries in PREFIX/lib).
    lib_dir: Option<PathBuf>,
    /// QEMU only: IRONIDE_FIRMWARE_ACCEL=tcg runs the guest under software emulation instead of
    /// KVM (guests the nested development KVM cannot run, such as Linux, validated anywhere).
    pub tcg: bool,
}

impl Emulator {
    /// The emulator named by IRONIDE_EMULATOR (default: the workspace's release ironide), or
    /// why the firmware tests cannot run here.
    pub fn from_env() -> std::result::Result<Emulator, String> {
        let tcg = std::env::var("IRONIDE_FIRMWARE_ACCEL").is_ok_and(|a| a == "tcg");
        if !tcg && !Path::new("/dev/kvm").exists() {
            return Err("/dev/kvm is missing: firmware tests need KVM".to_string());
        }
        let path = match std::env::var_os("IRONIDE_EMULATOR") {
            Some(p) if !p.is_empty() => PathBuf::from(p),
            _ => crate::target_dir().join("release").join("ironide"),
        };
        if !path.is_file() {
            return Err(format!(
                "emulator {} does not exist: build ironide first: cargo build --release \
                 (or set IRONIDE_EMULATOR)",
                path.display()
            ));
        }
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let kind = if name.contains("qemu") { Kind::Qemu } else { Kind::Ironide };
        if tcg && kind != Kind::Qemu {
            return Err(format!("IRONIDE_FIRMWARE_ACCEL=tcg needs QEMU, not {}", path.display()));
        }
        let lib_dir = match kind {
            // PREFIX/usr/bin/qemu-system-x86_64 -> PREFIX/lib
            Kind::Qemu => path.parent().and_then(Path::parent).and_then(Path::parent).map(|p| p.join("lib")),
            Kind::Ironide => None,
        }
        .filter(|d| d.is_dir());
        Ok(Emulator { path, kind, lib_dir, tcg })
    }

    /// `from_env`, printing a clear SKIP line naming the test when it cannot run.
    pub fn or_skip(test: &str) -> Option<Emulator> {
        match Emulator::from_env() {
            Ok(e) => Some(e),
            Err(why) => {
                // Straight to the stderr handle: the test harness captures eprintln! of passing
                // tests, and a skip must be seen.
                use std::io::Write;
                let _ = writeln!(std::io::stderr(), "SKIP {test}: {why}");
                None
            }
        }
    }

    /// The contract's command line for a run whose files live in `dir`, plus `extra`.
    pub fn command_line(&self, dir: &Path, extra: &[String]) -> Vec<String> {
        let serial = dir.join("serial.log");
        let machine = if self.tcg { "pc,accel=tcg" } else { "pc,accel=kvm" };
        let mut args: Vec<String> =
            ["-machine", machine, "-m", "128", "-bios", BIOS, "-nodefaults", "-display", "none", "-serial"]
                .iter()
                .map(|s| s.to_string())
                .collect();
        args.push(format!("file:{}", serial.display()));
        args.extend(["-device", "isa-debug-exit,iobase=0xf4,iosize=0x04", "-no-reboot"].map(String::from));
        if self.kind == Kind::Qemu && !self.tcg {
            args.extend(["-cpu", "qemu64", "-global", "kvm-pit.lost_tick_policy=discard"].map(String::from));
        }
        // The unpacked QEMU's option ROMs (linuxboot_dma.bin for -kernel): PREFIX/usr/share/qemu.
        if let Some(share) = self.lib_dir.as_ref().and_then(|l| l.parent()).map(|p| p.join("usr/share/qemu")) {
            if share.is_dir() {
                args.extend(["-L".to_string(), share.display().to_string()]);
            }
        }
        args.extend(extra.iter().cloned());
        args
    }

    /// Boots with `extra` arguments (drives, -boot ...), waits at most `timeout`, and returns
    /// the exit status with the serial log.
    pub fn run(&self, dir: &Path, extra: &[String], timeout: Duration) -> Result<Outcome> {
        let slot = Slot::take();
        let args = self.command_line(dir, extra);
        let started = self.start(dir, &args)?;
        started.wait(timeout, slot, None)
    }

    /// `run`, but the guest is also killed once its serial log satisfies `done` (checked every
    /// half second; the outcome then has no exit code and `timed_out` false): for guests that
    /// do not end by themselves.
    pub fn run_until(
        &self,
        dir: &Path,
        extra: &[String],
        timeout: Duration,
        done: impl Fn(&str) -> bool,
    ) -> Result<Outcome> {
        let slot = Slot::take();
        let args = self.command_line(dir, extra);
        let started = self.start(dir, &args)?;
        started.wait(timeout, slot, Some(&done))
    }

    /// Starts the emulator with the full command line `args`; the caller waits for it.
    pub(crate) fn start(&self, dir: &Path, args: &[String]) -> Result<Started> {
        let serial_path = dir.join("serial.log");
        let stderr_path = dir.join("stderr.log");
        let _ = std::fs::remove_file(&serial_path);
        let stderr =
            std::fs::File::create(&stderr_path).map_err(io_err(format!("creating {}", stderr_path.display())))?;
        let mut cmd = Command::new(&self.path);
        cmd.args(args).current_dir(dir).stdin(Stdio::null()).stdout(Stdio::null()).stderr(stderr);
        if let Some(lib) = &self.lib_dir {
            cmd.env("LD_LIBRARY_PATH", lib);
        }
        let child = cmd.spawn().map_err(io_err(format!("starting {}", self.path.display())))?;
        Ok(Started {
            child,
            command: std::iter::once(self.path.display().to_string()).chain(args.iter().cloned()).collect(),
            serial_path,
            stderr_path,
            start: Instant::now(),
        })
    }
}

/// A running emulator process.
pub(crate) struct Started {
    pub(crate) child: Child,
    command: Vec<String>,
    pub(crate) serial_path: PathBuf,
    stderr_path: PathBuf,
    pub(crate) start: Instant,
}

impl Started {
    /// Waits for the process to exit (killing it after `timeout` from its start) and collects
    /// the outcome; the slot is given back afterwards.
    pub(crate) fn wait(
        mut self,
        timeout: Duration,
        _slot: Slot,
        done: Option<&dyn Fn(&str) -> bool>,
    ) -> Result<Outcome> {
        let mut next_look = Duration::from_millis(500);
        let (status, timed_out) = loop {
            match self.child.try_wait().map_err(io_err("waiting for the emulator"))? {
                Some(status) => break (Some(status), false),
                None if self.start.elapsed() >= timeout => {
                    let _ = self.child.kill();
                    let _ = self.child.wait();
                    break (None, true);
                }
                None if done.is_some() && self.start.elapsed() >= next_look => {
                    next_look += Duration::from_millis(500);
                    let serial = std::fs::read_to_string(&self.serial_path).unwrap_or_default();
                    if done.is_some_and(|d| d(&serial)) {
                        let _ = self.child.kill();
                        let _ = self.child.wait();
                        break (None, false);
                    }
                }
                None => std::thread::sleep(Duration::from_millis(20)),
            }
        };
        Ok(Outcome {
            command: std::mem::take(&mut self.command),
            exit_code: status.and_then(|s| s.code()),
            timed_out,
            elapsed: self.start.elapsed(),
            serial: std::fs::read_to_string(&self.serial_path).unwrap_or_default(),
            stderr: std::fs::read_to_string(&self.stderr_path).unwrap_or_default(),
        })
    }
}

impl Drop for Started {
    fn drop(&mut self) {
        // A test that panics mid-run must not leave a guest behind.
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// What one boot produced.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub command: Vec<String>,
    pub exit_code: Option<i32>,
    pub timed_out: bool,
    pub elapsed: Duration,
    /// Everything the guest (and SeaBIOS) wrote to COM1.
    pub serial: String,
    pub stderr: String,
}

impl Outcome {
    /// The value the guest wrote to isa-debug-exit (process exit code (v<<1)|1).
    pub fn guest_exit(&self) -> Option<i32> {
        self.exit_code.filter(|c| c & 1 == 1).map(|c| c >> 1)
    }

    /// The serial lines, without carriage returns.
    pub fn lines(&self) -> Vec<&str> {
        self.serial.lines().map(|l| l.trim_end_matches('\r')).collect()
    }

    /// Whether a serial line starts with `prefix`.
    pub fn has_line(&self, prefix: &str) -> bool {
        self.lines().iter().any(|l| l.starts_with(prefix))
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "command: {}", self.command.join(" "))?;
        match (self.timed_out, self.exit_code) {
            (true, _) => writeln!(f, "result: killed after {:?} (timeout)", self.elapsed)?,
            (false, Some(c)) => writeln!(f, "result: exit code {c} after {:?}", self.elapsed)?,
            (false, None) => writeln!(f, "result: killed by a signal after {:?}", self.elapsed)?,
        }
        writeln!(f, "--- serial ---\n{}", self.serial)?;
        write!(f, "--- stderr ---\n{}", self.stderr)
    }
}

/// A run as test code states it: extra arguments built from paths.
#[derive(Debug, Default, Clone)]
pub struct Run {
    pub args: Vec<String>,
}

impl Run {
    pub fn new() -> Run {
        Run::default()
    }
    pub fn arg(mut self, a: impl Into<String>) -> Run {
        self.args.push(a.into());
        self
    }
    /// `-drive file=PATH,<opts>`
    pub fn drive(self, path: &Path, opts: &str) -> Run {
        self.arg("-drive").arg(format!("file={},{opts}", path.display()))
    }
    pub fn boot(self, order: &str) -> Run {
        self.arg("-boot").arg(format!("order={order}"))
    }
}

/// The machine has two cores shared with other work: at most two guests boot at once.
pub(crate) struct Slot;

static SLOTS: Mutex<usize> = Mutex::new(0);
static FREED: Condvar = Condvar::new();
const MAX_PARALLEL: usize = 2;

impl Slot {
    pub(crate) fn take() -> Slot {
        let mut busy = SLOTS.lock().unwrap_or_else(|p| p.into_inner());
        while *busy >= MAX_PARALLEL {
            busy = FREED.wait(busy).unwrap_or_else(|p| p.into_inner());
        }
        *busy += 1;
        Slot
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut busy = SLOTS.lock().unwrap_or_else(|p| p.into_inner());
        *busy = busy.saturating_sub(1);
        FREED.notify_one();
    }
}

/// The unpacked QEMU of scripts/unpack-qemu.sh, if present (for messages and docs).
pub fn unpacked_qemu() -> PathBuf {
    workspace_root().join("target/qemu72/usr/bin/qemu-system-x86_64")
}
