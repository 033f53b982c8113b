//! werror/rerror actions, BLOCK_IO_ERROR and io-status (being written).

use ironide_qmp::Event;

use crate::machine::Machine;

/// BLOCK_IO_ERROR (and STOP) events produced by failed guest I/O.
pub fn take_events(_m: &mut Machine) -> Vec<Event> {
    Vec::new()
}
