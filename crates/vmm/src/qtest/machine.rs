//! What the qtest server needs from the machine it drives.

/// The machine as qtest sees it: port and memory accesses, the virtual
/// clock and interrupt interception. The real board implements it; tests
/// implement it with a fake.
///
/// Conventions the server relies on:
/// - `mem_read` gets a buffer the server has already zero-filled; the machine
///   fills the bytes that are RAM and leaves the rest alone, so a read of
///   unassigned memory answers zeros (what QEMU's unassigned region reads as).
///   It returns false when any part of the range was not RAM (informational).
/// - `mem_write` stores the bytes that fall in RAM and drops the rest.
/// - `clock_step(None)` advances to the next timer deadline; with no pending
///   deadline it leaves the clock alone. Both clock calls return the new time,
///   and `clock_set` never moves the clock backwards.
/// - `irq_intercept(true)` is idempotent: a second call answers true again.
///   While interception is on, the machine records every change of an
///   interrupt line's level (not repeated levels) for `take_irq_changes`, in
///   the order they happened; while it is off it records nothing.
/// - `settle` delivers block completions that are ready without waiting for
///   virtual time, so their interrupts are reported before the reply.
pub trait QtestMachine {
    fn pio_read(&mut self, port: u16, size: u8) -> u32;
    fn pio_write(&mut self, port: u16, size: u8, val: u32);
    fn mem_read(&mut self, addr: u64, buf: &mut [u8]) -> bool;
    fn mem_write(&mut self, addr: u64, data: &[u8]) -> bool;
    fn clock_now(&self) -> u64;
    fn clock_step(&mut self, ns: Option<u64>) -> u64;
    fn clock_set(&mut self, ns: u64) -> u64;
    fn irq_intercept(&mut self, enable: bool) -> bool;
    fn take_irq_changes(&mut self) -> Vec<(u32, bool)>;
    fn settle(&mut self);
}
