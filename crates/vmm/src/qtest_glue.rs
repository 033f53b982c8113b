//! The machine as the qtest server drives it: port and memory accesses
//! without a CPU, the virtual clock, interrupt interception.

use ironide_block::Clock;
use vm_memory::{Bytes, GuestAddress};

use crate::irq::IrqOut;
use crate::machine::Machine;

pub use crate::qtest::QtestMachine;

fn width(size: u8) -> usize {
    match size {
        2 => 2,
        4 => 4,
        _ => 1,
    }
}

impl Machine {
    /// Move the virtual clock to `target` (never backwards), firing every
    /// timer on the way in deadline order.
    fn clock_advance_to(&mut self, target: u64) -> u64 {
        let Some(vc) = self.virtual_clock.clone() else { return self.env.clock.now_ns() };
        loop {
            let now = vc.now_ns();
            match self.next_deadline() {
                Some(d) if d <= target => {
                    if d > now {
                        vc.set(d);
                    }
                    self.run_timers();
                    self.settle();
                    // A timer that re-arms itself at the same instant must not spin.
                    if self.next_deadline() == Some(d) && d <= vc.now_ns() {
                        break;
                    }
                }
                _ => break,
            }
        }
        if target > vc.now_ns() {
            vc.set(target);
        }
        self.run_timers();
        vc.now_ns()
    }
}

impl QtestMachine for Machine {
    fn pio_read(&mut self, port: u16, size: u8) -> u32 {
        let mut b = [0u8; 4];
        let w = width(size);
        self.io_in(port, w, &mut b[..w]);
        u32::from_le_bytes(b)
    }

    fn pio_write(&mut self, port: u16, size: u8, val: u32) {
        let w = width(size);
        self.io_out(port, w, &val.to_le_bytes()[..w]);
    }

    fn mem_read(&mut self, addr: u64, buf: &mut [u8]) -> bool {
        if self.env.mem.read_slice(buf, GuestAddress(addr)).is_ok() {
            return true;
        }
        // Partly outside RAM: keep the RAM bytes, leave the rest as given.
        let mut all = true;
        for (i, b) in buf.iter_mut().enumerate() {
            let mut one = [0u8];
            match self.env.mem.read_slice(&mut one, GuestAddress(addr.wrapping_add(i as u64))) {
                Ok(()) => *b = one[0],
                Err(_) => all = false,
            }
        }
        all
    }

    fn mem_write(&mut self, addr: u64, data: &[u8]) -> bool {
        if self.env.mem.write_slice(data, GuestAddress(addr)).is_ok() {
            return true;
        }
        let mut all = true;
        for (i, &b) in data.iter().enumerate() {
            all &= self.env.mem.write_slice(&[b], GuestAddress(addr.wrapping_add(i as u64))).is_ok();
        }
        all
    }

    fn clock_now(&self) -> u64 {
        self.env.clock.now_ns()
    }

    fn clock_step(&mut self, ns: Option<u64>) -> u64 {
        let now = self.env.clock.now_ns();
        match ns {
            Some(ns) => self.clock_advance_to(now.saturating_add(ns)),
            None => match self.next_deadline() {
                Some(d) => self.clock_advance_to(d.max(now)),
                None => now,
            },
        }
    }

    fn clock_set(&mut self, ns: u64) -> u64 {
        let now = self.env.clock.now_ns();
        self.clock_advance_to(ns.max(now))
    }

    fn irq_intercept(&mut self, enable: bool) -> bool {
        if let IrqOut::Log { log, intercept } = &mut self.env.irq {
            if enable && !*intercept {
                log.clear_changes();
            }
            *intercept = enable;
            true
        } else {
            false
        }
    }

    fn take_irq_changes(&mut self) -> Vec<(u32, bool)> {
        self.env.irq.take_changes()
    }

    fn settle(&mut self) {
        Machine::settle(self)
    }
}
