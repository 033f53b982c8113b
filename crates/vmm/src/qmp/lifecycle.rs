//! query-status, stop, cont, system_reset, quit, query-name, and the
//! run-state events raised outside commands (guest resets, STOP on an I/O
//! error).

use ironide_qmp::{Event, QmpError};
use serde_json::{json, Value};

use super::{io_error, QmpState};
use crate::machine::Machine;
use crate::run_state::PauseReason;

pub fn query_name(s: &QmpState) -> Result<Value, QmpError> {
    Ok(match &s.name {
        Some(n) => json!({"name": n}),
        None => json!({}),
    })
}

pub fn query_status(m: &mut Machine) -> Result<Value, QmpError> {
    Ok(if m.run.paused {
        json!({"status": m.run.pause_reason.status(), "running": false})
    } else {
        json!({"status": "running", "running": true})
    })
}

/// Pauses the vCPU; STOP only when it was running (QEMU: no event for a
/// second stop).
pub fn stop(m: &mut Machine, ev: &mut Vec<Event>) -> Result<Value, QmpError> {
    if m.pause(PauseReason::User) {
        ev.push(Event::stop());
    }
    Ok(json!({}))
}

pub fn cont(m: &mut Machine, ev: &mut Vec<Event>) -> Result<Value, QmpError> {
    if m.resume() {
        ev.push(Event::resume());
    }
    // Requests held by werror/rerror=stop go out again.
    io_error::resume(m);
    Ok(json!({}))
}

/// RESET goes out before the return; the reset itself happens on the vCPU
/// thread (paused or not), or right here without a vCPU (qtest).
pub fn system_reset(m: &mut Machine, ev: &mut Vec<Event>) -> Result<Value, QmpError> {
    ev.push(Event::reset(false, "host-qmp-system-reset"));
    m.request_reset();
    Ok(json!({}))
}

/// SHUTDOWN, then the return; the event loop flushes and exits 0.
pub fn quit(_m: &mut Machine, ev: &mut Vec<Event>) -> Result<Value, QmpError> {
    ev.push(Event::shutdown(false, "host-qmp-quit"));
    Ok(json!({}))
}

/// Run-state events raised by the vCPU or the event loop since the last call.
pub fn take_events(m: &mut Machine) -> Vec<Event> {
    std::mem::take(&mut m.run.events)
}

/// A `MachineRequest::Stop` (werror/rerror=stop): pause with a STOP event.
pub fn stop_requested(m: &mut Machine) {
    if m.pause(PauseReason::IoError) {
        m.push_run_event(Event::stop());
    }
}

/// A guest-initiated reset (0xCF9, port 0x92, i8042, triple fault).
pub fn guest_reset_event(m: &mut Machine) {
    m.push_run_event(Event::reset(true, "guest-reset"));
}
