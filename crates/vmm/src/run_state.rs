//! Running or paused: what QMP `stop`/`cont`/`system_reset` and a
//! "stop on I/O error" ask of the machine, and how the vCPU thread obeys.
//!
//! The state lives in the `Machine` (so it changes under the machine lock,
//! like everything QMP does). The vCPU thread looks at a lock-free
//! `attention` flag before every KVM_RUN; a signal kicks it out of KVM_RUN.
//! A signal can race with the entry into KVM_RUN and be lost, so the event
//! thread re-kicks until the vCPU acknowledges (`settle_vcpu`), with the
//! machine lock released so the vCPU can finish its exit.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, Once};
use std::time::Duration;

use ironide_qmp::Event;

use crate::event_loop::lock;
use crate::machine::Machine;

/// How long `settle_vcpu` keeps kicking before giving up (never hang the
/// event thread on a vCPU stuck elsewhere).
const SETTLE_TRIES: u32 = 1000;
const SETTLE_STEP: Duration = Duration::from_millis(2);

/// Run state of the machine (QMP query-status).
#[derive(Debug, Default)]
pub struct RunState {
    pub paused: bool,
    /// Why the machine is paused (query-status's `status`).
    pub pause_reason: PauseReason,
    /// A system reset the vCPU thread still has to carry out (its registers
    /// can only be reset there).
    pub reset_pending: bool,
    /// The vCPU thread is parked waiting for `cont`.
    pub vcpu_parked: bool,
    /// Run-state events raised outside a QMP command (guest resets, STOP on
    /// an I/O error), oldest first.
    pub events: Vec<Event>,
    /// The vCPU's controls (KVM only; None under qtest).
    pub vcpu: Option<Arc<VcpuControl>>,
}

/// Why a paused machine is paused, as query-status names it.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub enum PauseReason {
    /// QMP `stop`.
    #[default]
    User,
    /// `-S`: never ran yet.
    Prelaunch,
    /// werror/rerror=stop held a request.
    IoError,
}

impl PauseReason {
    pub fn status(self) -> &'static str {
        match self {
            PauseReason::User => "paused",
            PauseReason::Prelaunch => "prelaunch",
            PauseReason::IoError => "io-error",
        }
    }
}

/// What other threads use to steer the vCPU thread.
#[derive(Debug, Default)]
pub struct VcpuControl {
    attention: AtomicBool,
    thread: Mutex<Option<libc::pthread_t>>,
    exited: AtomicBool,
    /// The parked vCPU waits here (with the machine lock) for cont/reset.
    pub wake: Condvar,
    /// Signalled when the vCPU parked or finished a reset.
    pub done: Condvar,
}

static SIGNAL_HANDLER: Once = Once::new();

/// The kick signal: its only effect is to make KVM_RUN return EINTR.
fn kick_signal() -> libc::c_int {
    vmm_sys_util::signal::SIGRTMIN()
}

extern "C" fn on_kick(_: libc::c_int, _: *mut libc::siginfo_t, _: *mut libc::c_void) {}

impl VcpuControl {
    pub fn new() -> Arc<Self> {
        Arc::new(VcpuControl::default())
    }

    /// Called on the vCPU thread before it first runs.
    pub fn register_current_thread(&self) {
        SIGNAL_HANDLER.call_once(|| {
            if let Err(e) = vmm_sys_util::signal::register_signal_handler(kick_signal(), on_kick) {
                tracing::error!("cannot install the vCPU kick signal handler: {e}");
            }
        });
        // SAFETY: pthread_self has no preconditions.
        let me = unsafe { libc::pthread_self() };
        *self.thread.lock().unwrap_or_else(|e| e.into_inner()) = Some(me);
    }

    /// The vCPU thread ended (it must not be signalled any more).
    pub fn mark_exited(&self) {
        self.exited.store(true, Ordering::SeqCst);
        *self.thread.lock().unwrap_or_else(|e| e.into_inner()) = None;
    }

    pub fn exited(&self) -> bool {
        self.exited.load(Ordering::SeqCst)
    }

    /// Whether the vCPU thread must look at the run state before KVM_RUN.
    pub fn needs_attention(&self) -> bool {
        self.attention.load(Ordering::SeqCst)
    }

    fn set_attention(&self, on: bool) {
        self.attention.store(on, Ordering::SeqCst);
    }

    /// Interrupt KVM_RUN on the vCPU thread.
    pub fn kick(&self) {
        let t = self.thread.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(t) = *t {
            // SAFETY: `t` is a live thread: cleared by mark_exited under
            // this lock before the vCPU thread returns.
            unsafe { libc::pthread_kill(t, kick_signal()) };
        }
    }
}

impl Machine {
    /// Pause (QMP stop, -S, I/O error with action stop). False if already paused.
    pub fn pause(&mut self, reason: PauseReason) -> bool {
        if self.run.paused {
            return false;
        }
        self.run.paused = true;
        self.run.pause_reason = reason;
        if let Some(v) = &self.run.vcpu {
            v.set_attention(true);
            v.kick();
        }
        true
    }

    /// Resume (QMP cont). False if it was running.
    pub fn resume(&mut self) -> bool {
        if !self.run.paused {
            return false;
        }
        self.run.paused = false;
        if let Some(v) = &self.run.vcpu {
            v.wake.notify_all();
        }
        true
    }

    /// System reset from outside the vCPU (QMP system_reset): the vCPU
    /// thread does it (device reset + registers), paused or not; without a
    /// vCPU (qtest) it happens here.
    pub fn request_reset(&mut self) {
        match self.run.vcpu.clone() {
            Some(v) => {
                self.run.reset_pending = true;
                v.set_attention(true);
                v.kick();
                v.wake.notify_all();
            }
            None => self.reset(),
        }
    }

    /// Queue a run-state event and wake the event loop to send it.
    pub fn push_run_event(&mut self, e: Event) {
        self.run.events.push(e);
        self.kick_event_loop();
    }

    /// Make the event loop look at the machine (events raised on the vCPU
    /// thread). Under qtest the event thread is the only thread: no-op.
    pub fn kick_event_loop(&self) {
        if let Some(k) = &self.timer_kick {
            let _ = k.write(1);
        }
    }
}

/// On the vCPU thread, with attention set: carry out a pending reset and
/// stay parked while paused. Returns an exit status if the vCPU must end.
pub fn obey(
    machine: &Mutex<Machine>,
    ctl: &VcpuControl,
    reset_vcpu: &mut dyn FnMut(&Machine) -> Result<(), String>,
) -> Option<i32> {
    let mut m = lock(machine);
    loop {
        if m.run.reset_pending {
            m.run.reset_pending = false;
            m.reset();
            if let Err(e) = reset_vcpu(&m) {
                eprintln!("ironide: reset failed: {e}");
                ctl.done.notify_all();
                return Some(1);
            }
            ctl.done.notify_all();
        }
        if !m.run.paused {
            break;
        }
        if !m.run.vcpu_parked {
            m.run.vcpu_parked = true;
            ctl.done.notify_all();
        }
        m = ctl.wake.wait(m).unwrap_or_else(|e| e.into_inner());
    }
    m.run.vcpu_parked = false;
    ctl.set_attention(false);
    None
}

/// On the event thread (machine lock not held): make sure the vCPU saw a
/// pause or reset request, re-kicking it if the first signal was lost.
pub fn settle_vcpu(machine: &Mutex<Machine>) {
    let mut m = lock(machine);
    let Some(ctl) = m.run.vcpu.clone() else { return };
    for _ in 0..SETTLE_TRIES {
        let settled = !m.run.reset_pending && (!m.run.paused || m.run.vcpu_parked);
        if settled || ctl.exited() {
            return;
        }
        ctl.kick();
        m = match ctl.done.wait_timeout(m, SETTLE_STEP) {
            Ok((g, _)) => g,
            Err(e) => e.into_inner().0,
        };
    }
    tracing::warn!("the vCPU did not acknowledge a pause/reset request");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attention_follows_requests() {
        let c = VcpuControl::new();
        assert!(!c.needs_attention());
        c.set_attention(true);
        assert!(c.needs_attention());
        // Kicking a control with no registered thread is harmless.
        c.kick();
        c.mark_exited();
        assert!(c.exited());
    }
}
