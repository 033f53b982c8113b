//! The assembled pc machine: devices, block layer, guest RAM and interrupt
//! output behind one lock (QEMU's BQL). The vCPU thread calls `io_in` /
//! `io_out` for each port exit; the event loop delivers block completions
//! and timers; qtest drives the same methods without a CPU.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ironide_block::layer::BackendId;
use ironide_block::{Clock, Completion, VirtualClock};
use ironide_dev_fdc::IsaFdc;
use ironide_dev_ide::{Ide, IdeEvent};
use ironide_dev_platform::{BlockClient, DevCtx, MachineRequest, PioDevice};
use vm_memory::GuestMemoryMmap;
use vmm_sys_util::eventfd::EventFd;

use crate::bus::{is_stream_port, Dev, PortMap};
use crate::chipset::Chipset;
use crate::io_retry::TrackedLayer;
use crate::irq::IrqOut;
use crate::memory::Firmware;

/// What every device call borrows: block layer, RAM, IRQs, clock.
pub struct Env {
    /// The block layer, through the werror/rerror bookkeeping (derefs to
    /// the `BlockLayer`).
    pub layer: TrackedLayer,
    pub mem: GuestMemoryMmap,
    pub irq: IrqOut,
    pub clock: Arc<dyn Clock>,
}

impl Env {
    pub fn ctx(&mut self) -> DevCtx<'_> {
        DevCtx { block: &mut self.layer, mem: &self.mem, irq: &mut self.irq, clock: &*self.clock }
    }
}

/// Which device a backend's completions go to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Owner {
    Ide,
    Fdc,
}

/// Where a drive sits on the board.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DriveSlot {
    Ide { bus: usize, unit: usize },
    Floppy { unit: usize },
}

/// One guest drive as QMP sees it (query-block's BlockInfo and the tray
/// and media commands' `device`/`id` lookup).
#[derive(Clone, Debug)]
pub struct DriveEntry {
    /// The block backend name ("device" in QMP; "" when attached to a
    /// -blockdev node or created empty by -device).
    pub backend_name: String,
    /// The device id (`-device ...,id=`), or its QOM-style path.
    pub qdev: String,
    /// Whether `qdev` came from the user (lookups by `id` use only those
    /// and the path).
    pub slot: DriveSlot,
    pub backend: BackendId,
    pub cdrom: bool,
    pub werror: crate::config::ErrorAction,
    pub rerror: crate::config::ErrorAction,
}

/// How long `settle` waits for engine I/O before giving up (never hang).
const SETTLE_LIMIT: Duration = Duration::from_secs(30);
/// With timers armed, this long without a completion means what is left
/// waits for virtual time (throttle), which only clock_step moves.
const SETTLE_QUIET: Duration = Duration::from_millis(20);

pub struct Machine {
    pub env: Env,
    pub ide: Ide,
    pub fdc: IsaFdc,
    pub chipset: Chipset,
    pub ports: PortMap,
    pub owners: HashMap<BackendId, Owner>,
    /// Every IDE and floppy drive, in creation order.
    pub drives: Vec<DriveEntry>,
    /// Tray moves for QMP's DEVICE_TRAY_MOVED, oldest first.
    pub ide_events: VecDeque<IdeEvent>,
    /// Exit/reset requests from devices, for the run loop.
    pub requests: VecDeque<MachineRequest>,
    pub firmware: Option<Firmware>,
    /// Set under qtest: the clock clock_step/clock_set move.
    pub virtual_clock: Option<Arc<VirtualClock>>,
    /// Written when a port access sets a deadline earlier than the one the
    /// event loop's timer is armed for (READ ID, RTC, throttle).
    pub timer_kick: Option<EventFd>,
    pub armed_deadline: Option<u64>,
    /// Running or paused, pending vCPU reset, run-state events (QMP).
    pub run: crate::run_state::RunState,
}

impl Machine {
    /// A port read of `size`-byte units (`data.len()` = size * count).
    pub fn io_in(&mut self, port: u16, size: usize, data: &mut [u8]) {
        if data.len() <= size.max(1) || is_stream_port(port) {
            self.read_one(port, data);
        } else {
            for chunk in data.chunks_mut(size.max(1)) {
                self.read_one(port, chunk);
            }
        }
        self.kick_timer_if_earlier();
    }

    /// A port write of `size`-byte units.
    pub fn io_out(&mut self, port: u16, size: usize, data: &[u8]) {
        if data.len() <= size.max(1) || is_stream_port(port) {
            self.write_one(port, data);
        } else {
            for chunk in data.chunks(size.max(1)) {
                self.write_one(port, chunk);
            }
        }
        self.kick_timer_if_earlier();
    }

    /// Wake the event loop when its timer would fire too late.
    fn kick_timer_if_earlier(&mut self) {
        let Some(kick) = &self.timer_kick else { return };
        if let Some(d) = self.next_deadline() {
            if self.armed_deadline.is_none_or(|a| d < a) {
                self.armed_deadline = Some(d);
                let _ = kick.write(1);
            }
        }
    }

    fn read_one(&mut self, port: u16, data: &mut [u8]) {
        let Some(dev) = self.ports.route(port, self.ide.bm_base()) else {
            data.fill(0xFF);
            return;
        };
        let mut ctx = self.env.ctx();
        match dev {
            Dev::Ide => self.ide.pio_read(port, data, &mut ctx),
            Dev::Fdc => self.fdc.pio_read(port, data, &mut ctx),
            _ => self.chipset.pio_read(dev, port, data, &mut self.ide, &mut ctx),
        }
        if dev == Dev::Ide {
            self.after_ide();
        }
    }

    fn write_one(&mut self, port: u16, data: &[u8]) {
        let Some(dev) = self.ports.route(port, self.ide.bm_base()) else { return };
        let mut ctx = self.env.ctx();
        match dev {
            Dev::Ide => self.ide.pio_write(port, data, &mut ctx),
            Dev::Fdc => self.fdc.pio_write(port, data, &mut ctx),
            _ => self.chipset.pio_write(dev, port, data, &mut self.ide, &mut ctx),
        }
        match dev {
            Dev::Ide => self.after_ide(),
            _ => {
                if let Some(r) = self.chipset.take_request(dev) {
                    self.requests.push_back(r);
                }
            }
        }
    }

    fn after_ide(&mut self) {
        self.ide_events.extend(self.ide.take_events());
        // The guest stopped the DMA engine mid-transfer: QEMU finishes the
        // transfer inside that write, so the guest's next access sees it done.
        if self.ide.wants_drain() {
            for ch in 0..2 {
                for unit in 0..2 {
                    if let Some(b) = self.ide.backend(ch, unit) {
                        self.env.layer.drain(b);
                    }
                }
            }
            self.process_completions();
        }
    }

    /// Deliver every finished block request to its device. Returns how
    /// many were delivered.
    pub fn process_completions(&mut self) -> usize {
        let mut got: Vec<(BackendId, Completion)> = Vec::new();
        self.env.layer.process_completions(|id, c| got.push((id, c)));
        let n = got.len();
        for (id, c) in got {
            // werror/rerror: the device may get success, or nothing yet.
            let Some(c) = crate::io_retry::intercept(self, id, c) else { continue };
            let mut ctx = self.env.ctx();
            match self.owners.get(&id) {
                Some(Owner::Ide) => self.ide.complete(id, c, &mut ctx),
                Some(Owner::Fdc) => self.fdc.complete(id, c, &mut ctx),
                None => tracing::debug!("completion for unowned backend {id:?}"),
            }
        }
        if n > 0 {
            self.ide_events.extend(self.ide.take_events());
        }
        n
    }

    /// The earliest timer: block layer (throttle, delays), FDC or RTC.
    pub fn next_deadline(&self) -> Option<u64> {
        [self.env.layer.next_deadline(), self.fdc.next_deadline(), self.chipset.cmos.next_deadline()]
            .into_iter()
            .flatten()
            .min()
    }

    /// Fire every timer that is due.
    pub fn run_timers(&mut self) {
        self.env.layer.run_timers();
        let now = self.env.clock.now_ns();
        if self.fdc.next_deadline().is_some_and(|d| d <= now) {
            let mut ctx = self.env.ctx();
            self.fdc.on_timer(&mut ctx);
        }
        if self.chipset.cmos.next_deadline().is_some_and(|d| d <= now) {
            let mut ctx = self.env.ctx();
            self.chipset.cmos.on_timer(&mut ctx);
        }
    }

    fn any_in_flight(&self) -> bool {
        self.owners.keys().any(|&b| self.env.layer.in_flight(b) > 0)
    }

    /// Deliver completions until nothing that needs no timer is in flight.
    pub fn settle(&mut self) {
        let start = Instant::now();
        let mut last_progress = Instant::now();
        loop {
            if self.process_completions() > 0 {
                last_progress = Instant::now();
                continue;
            }
            if !self.any_in_flight() && self.env.layer.pending_completions() == 0 {
                return;
            }
            let now = Instant::now();
            let timers = self.env.layer.next_deadline().is_some();
            if now - start > SETTLE_LIMIT || (timers && now - last_progress > SETTLE_QUIET) {
                return;
            }
            self.env.layer.wait(Duration::from_millis(5));
        }
    }

    /// System reset: devices at power-on, BIOS shadow re-copied. RAM is
    /// otherwise kept; the caller resets the vCPU.
    pub fn reset(&mut self) {
        // Requests of the old machine must not land in the new one.
        for b in self.owners.keys().copied().collect::<Vec<_>>() {
            self.env.layer.drain(b);
        }
        self.process_completions();
        self.env.layer.retry.clear_held();
        let mut ctx = self.env.ctx();
        self.ide.reset(&mut ctx);
        self.fdc.reset(&mut ctx);
        self.chipset.reset(&mut ctx);
        for ch in 0..2 {
            for unit in 0..2 {
                let mut ctx = self.env.ctx();
                let _ = self.ide.close_tray(ch, unit, &mut ctx);
            }
        }
        self.ide_events.extend(self.ide.take_events());
        if let Some(fw) = &self.firmware {
            if let Err(e) = fw.shadow(&self.env.mem) {
                tracing::error!("reset: {e}");
            }
        }
        self.requests.clear();
    }

    /// The oldest pending exit/reset request.
    pub fn take_request(&mut self) -> Option<MachineRequest> {
        self.requests.pop_front()
    }

    pub fn take_ide_events(&mut self) -> Vec<IdeEvent> {
        self.ide_events.drain(..).collect()
    }

    /// Serial input (-serial stdio). Bytes past the 64-byte FIFO are
    /// dropped (a paste larger than the FIFO loses its tail).
    pub fn serial_input(&mut self, bytes: &[u8]) {
        if let Some(s) = self.chipset.serial.as_mut() {
            s.enqueue_input(bytes);
            s.sync_irq(&mut self.env.irq);
        }
    }
}
