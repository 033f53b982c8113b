//! QMP on the machine: the command handler (`MachineQmp`) and the glue that
//! turns guest-side happenings (tray moves, I/O errors, pr-manager state)
//! into events.
//!
//! Module boundaries (each owned by one piece of work; keep the signatures):
//! - `mod.rs` (this file): dispatch and lookups.
//! - `lifecycle.rs`: query-status, stop, cont, system_reset, quit, query-name.
//! - `query.rs`: query-block, query-blockstats, query-named-block-nodes.
//! - `block_ops.rs`: blockdev-add/del, block_set_io_throttle,
//!   block-latency-histogram-set.
//! - `media.rs`: eject, blockdev-open-tray/-close-tray/-remove-medium/
//!   -insert-medium/-change-medium, DEVICE_TRAY_MOVED.
//! - `io_error.rs`: werror/rerror actions, BLOCK_IO_ERROR, io-status.
//! - `pr_manager.rs`: pr-manager-helper objects, query-pr-managers,
//!   PR_MANAGER_STATUS_CHANGED.

pub mod block_ops;
pub mod io_error;
pub mod lifecycle;
pub mod media;
pub mod pr_manager;
pub mod query;

use ironide_qmp::{Command, Event, QmpError, QmpHandler};
use serde_json::Value;

use crate::machine::{DriveEntry, Machine};

/// Run-state and process-level requests QMP makes of the machine's owner.
#[derive(Debug, Default)]
pub struct QmpState {
    /// The name from -name (query-name).
    pub name: Option<String>,
    /// Objects created with -object / object-add (pr-manager-helper).
    pub pr_managers: pr_manager::PrManagers,
}

/// The handler for one command, with the machine locked.
pub struct MachineQmp<'a> {
    pub machine: &'a mut Machine,
    pub state: &'a mut QmpState,
}

impl QmpHandler for MachineQmp<'_> {
    fn execute(&mut self, cmd: Command, events: &mut Vec<Event>) -> Result<Value, QmpError> {
        let m = &mut *self.machine;
        match cmd {
            Command::QueryName => lifecycle::query_name(self.state),
            Command::QueryStatus => lifecycle::query_status(m),
            Command::Stop => lifecycle::stop(m, events),
            Command::Cont => lifecycle::cont(m, events),
            Command::SystemReset => lifecycle::system_reset(m, events),
            Command::Quit => lifecycle::quit(m, events),
            Command::QueryBlock => query::query_block(m),
            Command::QueryBlockstats { query_nodes } => query::query_blockstats(m, query_nodes),
            Command::QueryNamedBlockNodes { flat } => query::query_named_block_nodes(m, flat),
            Command::BlockdevAdd(spec) => block_ops::blockdev_add(m, &spec),
            Command::BlockdevDel { node_name } => block_ops::blockdev_del(m, &node_name),
            Command::BlockSetIoThrottle(t) => block_ops::set_io_throttle(m, &t),
            Command::BlockLatencyHistogramSet(h) => block_ops::latency_histogram_set(m, &h),
            Command::Eject { sel, force } => media::eject(m, &sel, force, events),
            Command::BlockdevOpenTray { sel, force } => media::open_tray(m, &sel, force, events),
            Command::BlockdevCloseTray { sel } => media::close_tray(m, &sel, events),
            Command::BlockdevRemoveMedium { id } => media::remove_medium(m, &id, events),
            Command::BlockdevInsertMedium { id, node_name } => media::insert_medium(m, &id, &node_name, events),
            Command::BlockdevChangeMedium(c) => media::change_medium(m, &c, events),
            Command::QueryPrManagers => pr_manager::query(self.state),
            Command::ObjectAddPrManager { id, path } => {
                pr_manager::add(self.state, &id, std::path::Path::new(&path), events)
            }
            Command::ObjectDel { id } => pr_manager::del(self.state, &id, events),
        }
    }
}

/// Find a drive by QMP's `device` (backend name) or `id` (qdev id or path).
pub fn find_drive<'m>(m: &'m Machine, device: Option<&str>, id: Option<&str>) -> Result<&'m DriveEntry, QmpError> {
    let found = match (device, id) {
        (Some(d), None) => m.drives.iter().find(|e| !e.backend_name.is_empty() && e.backend_name == d),
        (None, Some(i)) => m.drives.iter().find(|e| e.qdev == i),
        _ => return Err(QmpError::generic("Need exactly one of 'device' and 'id'")),
    };
    let name = device.or(id).unwrap_or_default();
    found.ok_or_else(|| QmpError::device_not_found(name))
}

/// Events the machine produced outside any command (guest tray moves,
/// I/O errors, pr-manager connection changes), for `Monitors::broadcast`.
pub fn pending_events(m: &mut Machine, state: &mut QmpState) -> Vec<Event> {
    let mut out = media::guest_tray_events(m);
    out.extend(io_error::take_events(m));
    out.extend(pr_manager::poll(state));
    // Run-state events last: QEMU's BLOCK_IO_ERROR comes before its STOP.
    out.extend(lifecycle::take_events(m));
    out
}

impl QmpState {
    /// The state for a machine built from `cfg` (-name, -object
    /// pr-manager-helper: connected before the guest starts).
    pub fn from_config(cfg: &crate::config::MachineConfig) -> Result<Self, pr_manager::PrError> {
        let pr_managers = pr_manager::PrManagers::start(&cfg.layout.pr_managers)?;
        Ok(QmpState { name: cfg.name.clone(), pr_managers })
    }
}
