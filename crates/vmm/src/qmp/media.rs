//! Tray and media commands (eject, blockdev-open-tray/-close-tray/
//! -remove-medium/-insert-medium/-change-medium) and DEVICE_TRAY_MOVED.
//!
//! CD-ROMs have a tray the guest may lock; floppies are removable without
//! a tray (open/close do nothing, no events, every medium change raises
//! DSKCHG); IDE disks are not removable. Events a command causes go into
//! `ev` before the command returns; tray moves the guest makes come out of
//! [`guest_tray_events`].

mod error;
mod slot;
#[cfg(test)]
mod tests;

use ironide_block::engine::AioMode;
use ironide_block::layer::NodeSpec;
use ironide_qmp::schema::{ChangeMedium, DeviceSel, ReadOnlyMode};
use ironide_qmp::{Event, QmpError};
use serde_json::{json, Value};

pub use error::MediaError;
use slot::{Kind, Opened, Target};

use crate::machine::Machine;

fn ok() -> Result<Value, QmpError> {
    Ok(json!({}))
}

/// Run a media operation, then report every tray move (including guest
/// moves still queued, which happened earlier) before the return.
fn with_events<T>(
    m: &mut Machine,
    ev: &mut Vec<Event>,
    f: impl FnOnce(&mut Machine) -> Result<T, MediaError>,
) -> Result<T, QmpError> {
    let r = f(m);
    ev.extend(slot::take_tray_events(m));
    r.map_err(QmpError::from)
}

/// eject: open the tray, then take the medium out. A locked tray without
/// force is an error (the guest still gets the eject request).
pub fn eject(m: &mut Machine, sel: &DeviceSel, force: bool, ev: &mut Vec<Event>) -> Result<Value, QmpError> {
    let t = slot::lookup_sel(m, sel)?;
    with_events(m, ev, |m| {
        if slot::open_tray(m, &t, force)? == Opened::Requested {
            return Err(MediaError::Locked(t.name.clone()));
        }
        slot::remove_medium(m, &t)
    })?;
    ok()
}

/// blockdev-open-tray: on a locked tray without force only the eject
/// request reaches the guest; that is still a success.
pub fn open_tray(m: &mut Machine, sel: &DeviceSel, force: bool, ev: &mut Vec<Event>) -> Result<Value, QmpError> {
    let t = slot::lookup_sel(m, sel)?;
    with_events(m, ev, |m| slot::open_tray(m, &t, force))?;
    ok()
}

pub fn close_tray(m: &mut Machine, sel: &DeviceSel, ev: &mut Vec<Event>) -> Result<Value, QmpError> {
    let t = slot::lookup_sel(m, sel)?;
    with_events(m, ev, |m| slot::close_tray(m, &t))?;
    ok()
}

pub fn remove_medium(m: &mut Machine, id: &str, ev: &mut Vec<Event>) -> Result<Value, QmpError> {
    let t = slot::lookup(m, None, Some(id))?;
    with_events(m, ev, |m| slot::remove_medium(m, &t))?;
    ok()
}

pub fn insert_medium(m: &mut Machine, id: &str, node: &str, ev: &mut Vec<Event>) -> Result<Value, QmpError> {
    let t = slot::lookup(m, None, Some(id))?;
    with_events(m, ev, |m| slot::insert_medium(m, &t, node))?;
    ok()
}

/// blockdev-change-medium: open the new image first (a bad file changes
/// nothing), then open the tray, swap the medium and close the tray.
pub fn change_medium(m: &mut Machine, c: &ChangeMedium, ev: &mut Vec<Event>) -> Result<Value, QmpError> {
    let t = slot::lookup_sel(m, &c.sel)?;
    let spec = new_medium_spec(m, &t, c)?;
    let node = m.env.layer.add_node(&spec, false).map_err(MediaError::from)?;
    let r = with_events(m, ev, |m| {
        if slot::open_tray(m, &t, c.force)? == Opened::Requested {
            return Err(MediaError::Locked(t.name.clone()));
        }
        slot::remove_medium(m, &t)?;
        slot::insert_medium(m, &t, &node)?;
        slot::close_tray(m, &t)
    });
    if r.is_err() && m.env.layer.node_info(&node).is_some_and(|n| !n.in_use) {
        // The image never became the medium: close it again.
        let _ = m.env.layer.delete_node(&node);
    }
    r?;
    ok()
}

/// The node blockdev-change-medium opens: raw over the file unless told
/// otherwise, read-only per `read-only-mode`, the old medium's cache mode.
fn new_medium_spec(m: &Machine, t: &Target, c: &ChangeMedium) -> Result<NodeSpec, MediaError> {
    let current = m.env.layer.medium_info(t.backend);
    let read_only = match c.read_only_mode {
        // An empty CD-ROM drive retains what `media=cdrom` implies.
        ReadOnlyMode::Retain => current.as_ref().map(|i| i.read_only).unwrap_or(matches!(t.kind, Kind::Cd { .. })),
        ReadOnlyMode::ReadOnly => true,
        ReadOnlyMode::ReadWrite => false,
    };
    let (direct, no_flush) = current.map(|i| (i.node.direct, i.node.no_flush)).unwrap_or((false, false));
    match c.format.as_deref() {
        None | Some("raw") => Ok(NodeSpec::raw_over_file(&c.filename, read_only, direct, no_flush, AioMode::Auto)),
        Some("file") => {
            let mut spec = NodeSpec::file(&c.filename);
            spec.read_only = read_only;
            spec.direct = direct;
            spec.no_flush = no_flush;
            Ok(spec)
        }
        Some(other) => Err(MediaError::UnknownFormat(other.to_string())),
    }
}

/// DEVICE_TRAY_MOVED for tray moves the guest caused since the last call.
pub fn guest_tray_events(m: &mut Machine) -> Vec<Event> {
    slot::take_tray_events(m)
}
