//! The event thread: block completions, device timers, serial input from
//! stdin, the qtest connection and the QMP monitors, each handled under the
//! machine lock. After every batch, events the machine raised go to the QMP
//! clients.

use std::io::Read;
use std::os::fd::{AsRawFd, RawFd};
use std::sync::mpsc::Sender;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use event_manager::{EventManager, EventOps, EventSet, Events, MutEventSubscriber, SubscriberOps};
use vmm_sys_util::eventfd::{EventFd, EFD_NONBLOCK};
use vmm_sys_util::timerfd::TimerFd;

use ironide_dev_platform::MachineRequest;
use ironide_qmp::Monitors;

use crate::error::VmmError;
use crate::machine::Machine;
use crate::qmp::{lifecycle, pending_events, MachineQmp, QmpState};
use crate::qtest_glue::QtestMachine;
use crate::run_state::settle_vcpu;

/// The qtest connection as the loop drives it (the server implements it).
pub trait QtestEndpoint: Send {
    fn fd(&self) -> RawFd;
    /// Handle what arrived; false when the peer closed.
    fn on_readable(&mut self, m: &mut dyn QtestMachine) -> std::io::Result<bool>;
    /// Send IRQ changes caused by completions.
    fn flush_async(&mut self, m: &mut dyn QtestMachine);
}

/// How the machine ends (process exit status).
pub type ExitSender = Sender<i32>;

pub fn lock(m: &Mutex<Machine>) -> MutexGuard<'_, Machine> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

const TOKEN_NOTIFY: u32 = 0;
const TOKEN_TIMER: u32 = 1;
const TOKEN_STDIN: u32 = 2;
const TOKEN_QTEST: u32 = 3;
const TOKEN_KICK: u32 = 4;
const TOKEN_QMP: u32 = 5;
/// pr-manager-helper sockets (connection lost): handled by `service`.
const TOKEN_PR: u32 = 6;

/// How long quit waits for the clients to take their last replies.
const QUIT_FLUSH: Duration = Duration::from_secs(2);

/// The one subscriber of the machine's event loop.
pub struct MachineEvents {
    machine: Arc<Mutex<Machine>>,
    notify_fd: RawFd,
    timer: TimerFd,
    /// Timers follow the host clock (KVM); under qtest only clock_step moves them.
    real_time: bool,
    stdin: bool,
    qtest: Option<Box<dyn QtestEndpoint>>,
    exit: ExitSender,
    /// The vCPU thread's "a deadline came closer" signal (KVM only).
    kick: Option<EventFd>,
    /// -qmp monitors (None without any, or after quit).
    monitors: Option<Monitors>,
    qmp: QmpState,
    pr_watched: bool,
    /// A pause/reset request may wait for the vCPU's acknowledgement.
    check_vcpu: bool,
}

impl MachineEvents {
    pub fn new(
        machine: Arc<Mutex<Machine>>,
        real_time: bool,
        stdin: bool,
        qtest: Option<Box<dyn QtestEndpoint>>,
        exit: ExitSender,
    ) -> Result<Self, VmmError> {
        let mut m = lock(&machine);
        let notify_fd = m.env.layer.notify_fd();
        let timer = TimerFd::new().map_err(|e| VmmError::Io { what: "timerfd", err: e.into() })?;
        let kick = if real_time {
            let k = EventFd::new(EFD_NONBLOCK).map_err(|e| VmmError::Io { what: "eventfd", err: e })?;
            m.timer_kick = Some(k.try_clone().map_err(|e| VmmError::Io { what: "eventfd", err: e })?);
            Some(k)
        } else {
            None
        };
        drop(m);
        Ok(MachineEvents {
            machine,
            notify_fd,
            timer,
            real_time,
            stdin,
            qtest,
            exit,
            kick,
            monitors: None,
            qmp: QmpState::default(),
            pr_watched: false,
            check_vcpu: false,
        })
    }

    /// Serve QMP on `monitors` with `state` (-name, objects).
    pub fn with_qmp(mut self, monitors: Option<Monitors>, state: QmpState) -> Self {
        self.monitors = monitors;
        self.qmp = state;
        self
    }

    /// Completions, due timers, then the timer re-armed for the next deadline.
    fn service(&mut self) {
        let m = self.machine.clone();
        let mut m = lock(&m);
        if self.real_time {
            m.run_timers();
        }
        m.process_completions();
        if let Some(q) = self.qtest.as_mut() {
            q.flush_async(&mut *m);
        }
        // Requests raised outside a vCPU exit: exit ends the run, stop
        // (werror/rerror=stop) pauses; without a vCPU (qtest), resets are
        // done here.
        if let Some(MachineRequest::Exit(c)) = m.requests.front().copied() {
            let _ = self.exit.send(c);
        }
        let vcpu = m.run.vcpu.is_some();
        let mut stop = false;
        let mut reset = false;
        m.requests.retain(|r| match r {
            MachineRequest::Stop => {
                stop = true;
                false
            }
            MachineRequest::Reset if !vcpu => {
                reset = true;
                false
            }
            _ => true,
        });
        if reset {
            m.reset();
            lifecycle::guest_reset_event(&mut m);
        }
        if stop {
            lifecycle::stop_requested(&mut m);
            self.check_vcpu = true;
        }
        let events = pending_events(&mut m, &mut self.qmp);
        if let Some(mons) = self.monitors.as_mut() {
            for e in &events {
                mons.broadcast(e);
            }
        }
        if self.real_time {
            let now = m.env.clock.now_ns();
            m.armed_deadline = m.next_deadline();
            match m.armed_deadline {
                Some(d) => {
                    let ns = d.saturating_sub(now).max(1);
                    let _ = self.timer.reset(Duration::from_nanos(ns), None);
                }
                None => {
                    let _ = self.timer.clear();
                }
            }
        }
    }

    fn read_stdin(&mut self, ops: &mut EventOps) {
        let mut buf = [0u8; 256];
        match std::io::stdin().lock().read(&mut buf) {
            Ok(0) | Err(_) => {
                let _ = ops.remove(Events::with_data_raw(0, TOKEN_STDIN, EventSet::IN));
            }
            Ok(n) => lock(&self.machine).serial_input(&buf[..n]),
        }
    }

    /// Watch the pr-manager helpers' fd once it exists (the first helper
    /// may come with a later object-add).
    fn watch_pr_managers(&mut self, ops: &mut EventOps) {
        if self.pr_watched {
            return;
        }
        if let Some(fd) = self.qmp.pr_managers.fd() {
            match ops.add(Events::with_data_raw(fd, TOKEN_PR, EventSet::IN)) {
                Ok(()) => self.pr_watched = true,
                Err(e) => tracing::error!("event loop: cannot watch the pr-manager fd: {e}"),
            }
        }
    }

    /// QMP commands, under the machine lock. After quit the last replies
    /// are flushed, the sockets closed and the process ends with 0.
    fn read_qmp(&mut self, ops: &mut EventOps) {
        let Some(mons) = self.monitors.as_mut() else { return };
        let m = self.machine.clone();
        let mut m = lock(&m);
        let mut handler = MachineQmp { machine: &mut m, state: &mut self.qmp };
        if let Err(e) = mons.process(&mut handler) {
            tracing::error!("QMP: {e}");
        }
        self.check_vcpu = true;
        drop(m);
        self.watch_pr_managers(ops);
        let Some(mons) = self.monitors.as_mut() else { return };
        if mons.quit_requested() {
            mons.flush_blocking(QUIT_FLUSH);
            let _ = ops.remove(Events::with_data_raw(mons.as_raw_fd(), TOKEN_QMP, EventSet::IN));
            self.monitors = None;
            let _ = self.exit.send(0);
        }
    }

    fn read_qtest(&mut self) {
        let Some(q) = self.qtest.as_mut() else { return };
        let m = self.machine.clone();
        let mut m = lock(&m);
        match q.on_readable(&mut *m) {
            Ok(true) => {}
            // The peer closed (or broke) the connection: QEMU exits 0.
            Ok(false) | Err(_) => {
                let _ = self.exit.send(0);
            }
        }
    }
}

impl MutEventSubscriber for MachineEvents {
    fn process(&mut self, events: Events, ops: &mut EventOps) {
        match events.data() {
            TOKEN_TIMER => {
                let _ = self.timer.wait();
            }
            TOKEN_KICK => {
                if let Some(k) = &self.kick {
                    let _ = k.read();
                }
            }
            TOKEN_STDIN => self.read_stdin(ops),
            TOKEN_QTEST => {
                if events.event_set().intersects(EventSet::HANG_UP | EventSet::ERROR)
                    && !events.event_set().contains(EventSet::IN)
                {
                    let _ = self.exit.send(0);
                    return;
                }
                self.read_qtest();
            }
            TOKEN_QMP => self.read_qmp(ops),
            _ => {}
        }
        self.service();
        if std::mem::take(&mut self.check_vcpu) {
            settle_vcpu(&self.machine);
        }
    }

    fn init(&mut self, ops: &mut EventOps) {
        let add = |ops: &mut EventOps, fd: RawFd, tok: u32| {
            if let Err(e) = ops.add(Events::with_data_raw(fd, tok, EventSet::IN)) {
                tracing::error!("event loop: cannot watch fd {fd}: {e}");
            }
        };
        add(ops, self.notify_fd, TOKEN_NOTIFY);
        add(ops, self.timer.as_raw_fd(), TOKEN_TIMER);
        if let Some(k) = &self.kick {
            add(ops, k.as_raw_fd(), TOKEN_KICK);
        }
        if self.stdin {
            add(ops, 0, TOKEN_STDIN);
        }
        if let Some(q) = &self.qtest {
            add(ops, q.fd(), TOKEN_QTEST);
        }
        if let Some(mons) = &self.monitors {
            add(ops, mons.as_raw_fd(), TOKEN_QMP);
        }
        self.watch_pr_managers(ops);
    }
}

/// Run the event loop on this thread until the process ends.
pub fn run_loop(events: MachineEvents) -> Result<(), VmmError> {
    let mut mgr: EventManager<Box<dyn MutEventSubscriber + Send>> =
        EventManager::new().map_err(|e| VmmError::Config(format!("event manager: {e}")))?;
    let exit = events.exit.clone();
    mgr.add_subscriber(Box::new(events));
    loop {
        if let Err(e) = mgr.run() {
            tracing::error!("event loop: {e}");
            let _ = exit.send(1);
            return Ok(());
        }
    }
}
