//! werror/rerror on the QMP side: BLOCK_IO_ERROR events, io-status for
//! query-block, and the resubmission `cont` does. The machinery itself
//! (what is held, what the guest sees) is `crate::io_retry`.

use ironide_block::layer::BackendId;
use ironide_qmp::Event;

use crate::machine::Machine;

/// BLOCK_IO_ERROR events produced by failed guest I/O, oldest first. (The
/// STOP of a stop action comes from the `MachineRequest::Stop` it queues.)
pub fn take_events(m: &mut Machine) -> Vec<Event> {
    m.env.layer.retry.take_events()
}

/// `cont`: io-status back to ok on every drive and every request held by
/// a stop action submitted again (its completion reaches the guest).
pub fn resume(m: &mut Machine) {
    crate::io_retry::resume(m);
}

/// query-block's io-status: "ok", "failed" or "nospace".
pub fn io_status(m: &Machine, backend: BackendId) -> &'static str {
    m.env.layer.retry.io_status(backend).as_str()
}
