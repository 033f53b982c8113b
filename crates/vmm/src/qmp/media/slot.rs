//! A looked-up drive as the media commands see it (CD-ROM with a tray,
//! tray-less floppy, fixed disk) and the device-side half of each media
//! operation. The block layer holds the medium; the device is told after.

use ironide_block::layer::BackendId;
use ironide_dev_ide::{IdeEvent, OpenTray};
use ironide_qmp::schema::DeviceSel;
use ironide_qmp::{Event, QmpError};

use super::error::MediaError;
use crate::machine::{DriveEntry, DriveSlot, Machine};
use crate::qmp::find_drive;

/// What kind of removable media a drive takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Cd {
        ch: usize,
        unit: usize,
    },
    /// Removable but without a tray: open/close are no-ops, no events.
    Floppy {
        unit: usize,
    },
    /// IDE hard disk: nothing is removable.
    Fixed,
}

/// A drive found by `device`/`id`, with the name the user passed (error
/// messages quote it as given).
#[derive(Clone, Debug)]
pub struct Target {
    pub backend: BackendId,
    pub kind: Kind,
    pub name: String,
}

/// QEMU also accepts a user-named device by its QOM path.
const PERIPHERAL: &str = "/machine/peripheral/";

fn kind_of(e: &DriveEntry) -> Kind {
    match e.slot {
        DriveSlot::Ide { bus, unit } if e.cdrom => Kind::Cd { ch: bus, unit },
        DriveSlot::Ide { .. } => Kind::Fixed,
        DriveSlot::Floppy { unit } => Kind::Floppy { unit },
    }
}

/// `device` names the block backend, `id` the device (id or path).
pub fn lookup(m: &Machine, device: Option<&str>, id: Option<&str>) -> Result<Target, QmpError> {
    let entry = match find_drive(m, device, id) {
        Ok(e) => e,
        Err(e) => {
            let short = id.and_then(|i| i.strip_prefix(PERIPHERAL)).filter(|s| !s.is_empty() && device.is_none());
            match short.and_then(|s| find_drive(m, None, Some(s)).ok()) {
                Some(e) => e,
                None => return Err(e),
            }
        }
    };
    let name = device.or(id).unwrap_or_default().to_string();
    Ok(Target { backend: entry.backend, kind: kind_of(entry), name })
}

pub fn lookup_sel(m: &Machine, sel: &DeviceSel) -> Result<Target, QmpError> {
    lookup(m, sel.device.as_deref(), sel.id.as_deref())
}

/// What opening the tray did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Opened {
    /// Opened now, or already open, or no tray at all.
    Open,
    /// Locked: the guest was asked to eject; the tray stays closed.
    Requested,
}

/// Open the tray (`force` overrides the guest's lock).
pub fn open_tray(m: &mut Machine, t: &Target, force: bool) -> Result<Opened, MediaError> {
    match t.kind {
        Kind::Fixed => Err(MediaError::NotRemovable(t.name.clone())),
        Kind::Floppy { .. } => Ok(Opened::Open),
        Kind::Cd { ch, unit } => {
            let mut ctx = m.env.ctx();
            match m.ide.open_tray(ch, unit, force, &mut ctx)? {
                OpenTray::EjectRequested => Ok(Opened::Requested),
                OpenTray::Opened | OpenTray::AlreadyOpen => Ok(Opened::Open),
            }
        }
    }
}

/// Close the tray (no-op when closed or tray-less).
pub fn close_tray(m: &mut Machine, t: &Target) -> Result<(), MediaError> {
    match t.kind {
        Kind::Fixed => Err(MediaError::NotRemovable(t.name.clone())),
        Kind::Floppy { .. } => Ok(()),
        Kind::Cd { ch, unit } => {
            let mut ctx = m.env.ctx();
            m.ide.close_tray(ch, unit, &mut ctx)?;
            Ok(())
        }
    }
}

/// Take the medium out (tray must be open on a CD; empty is a no-op).
pub fn remove_medium(m: &mut Machine, t: &Target) -> Result<(), MediaError> {
    match t.kind {
        Kind::Fixed => return Err(MediaError::NotRemovable(t.name.clone())),
        Kind::Cd { ch, unit } if !m.ide.tray_state(ch, unit)?.open => {
            return Err(MediaError::TrayNotOpen(t.name.clone()))
        }
        _ => {}
    }
    if !m.env.layer.has_medium(t.backend) {
        return Ok(());
    }
    // Requests still in flight finish against the old medium and reach
    // the device before it learns the medium is gone.
    m.env.layer.drain(t.backend);
    m.process_completions();
    m.env.layer.remove_medium(t.backend)?;
    device_medium_changed(m, t)
}

/// Attach node `node` as the medium (checks in QEMU's order).
pub fn insert_medium(m: &mut Machine, t: &Target, node: &str) -> Result<(), MediaError> {
    let info = m.env.layer.node_info(node).ok_or_else(|| MediaError::NodeNotFound(node.to_string()))?;
    if info.in_use {
        return Err(MediaError::NodeInUse(node.to_string()));
    }
    match t.kind {
        Kind::Fixed => return Err(MediaError::InsertNotRemovable),
        Kind::Cd { ch, unit } if !m.ide.tray_state(ch, unit)?.open => return Err(MediaError::InsertTrayClosed),
        _ => {}
    }
    if m.env.layer.has_medium(t.backend) {
        return Err(MediaError::HasMedium);
    }
    m.env.layer.insert_medium(t.backend, node)?;
    device_medium_changed(m, t)
}

/// Tell the device what the backend now holds.
fn device_medium_changed(m: &mut Machine, t: &Target) -> Result<(), MediaError> {
    let present = m.env.layer.has_medium(t.backend);
    match t.kind {
        Kind::Fixed => Ok(()),
        // DSKCHG goes up; the format is picked anew from the medium.
        Kind::Floppy { unit } => {
            m.fdc.fdc.media_changed(unit, &m.env.layer);
            Ok(())
        }
        Kind::Cd { ch, unit } => {
            let bytes = m.env.layer.size(t.backend);
            let mut ctx = m.env.ctx();
            if present {
                m.ide.insert_medium(ch, unit, bytes, &mut ctx)?;
            } else {
                m.ide.remove_medium(ch, unit, &mut ctx)?;
            }
            Ok(())
        }
    }
}

/// DEVICE_TRAY_MOVED for one IDE tray move, named like the drive.
fn tray_event(m: &Machine, e: IdeEvent) -> Event {
    let IdeEvent::TrayMoved { channel, unit, open } = e;
    let entry = m.drives.iter().find(|d| d.slot == DriveSlot::Ide { bus: channel, unit });
    let (device, id) = entry.map(|d| (d.backend_name.as_str(), d.qdev.as_str())).unwrap_or(("", ""));
    Event::device_tray_moved(device, id, open)
}

/// Every tray move not reported yet (guest moves the machine queued, then
/// moves still inside the controller), oldest first.
pub fn take_tray_events(m: &mut Machine) -> Vec<Event> {
    let mut moves: Vec<IdeEvent> = m.ide_events.drain(..).collect();
    moves.extend(m.ide.take_events());
    moves.into_iter().map(|e| tray_event(m, e)).collect()
}
