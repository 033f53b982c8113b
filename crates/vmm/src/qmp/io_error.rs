//! werror/rerror actions, BLOCK_IO_ERROR and io-status (being written).

use ironide_qmp::Event;

use crate::machine::Machine;

/// BLOCK_IO_ERROR (and STOP) events produced by failed guest I/O.
pub fn take_events(_m: &mut Machine) -> Vec<Event> {
    Vec::new()
}

/// io-status of a drive for query-block ("ok", "failed", "nospace").
// Stub until the io_error work lands: no error is ever recorded here.
pub fn io_status(_m: &crate::machine::Machine, _backend: ironide_block::layer::BackendId) -> &'static str {
    "ok"
}

/// QMP cont: resubmit the requests held by werror/rerror=stop.
// Stub until the io_error work lands.
pub fn resume(_m: &mut Machine) {}
