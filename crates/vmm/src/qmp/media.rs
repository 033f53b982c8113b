//! Tray and media commands and DEVICE_TRAY_MOVED (being written).

use ironide_qmp::schema::{ChangeMedium, DeviceSel};
use ironide_qmp::{Event, QmpError};
use serde_json::Value;

use crate::machine::Machine;

fn todo() -> Result<Value, QmpError> {
    Err(QmpError::generic("not implemented yet"))
}

pub fn eject(_m: &mut Machine, _sel: &DeviceSel, _force: bool, _ev: &mut Vec<Event>) -> Result<Value, QmpError> {
    todo()
}
pub fn open_tray(_m: &mut Machine, _sel: &DeviceSel, _force: bool, _ev: &mut Vec<Event>) -> Result<Value, QmpError> {
    todo()
}
pub fn close_tray(_m: &mut Machine, _sel: &DeviceSel, _ev: &mut Vec<Event>) -> Result<Value, QmpError> {
    todo()
}
pub fn remove_medium(_m: &mut Machine, _id: &str, _ev: &mut Vec<Event>) -> Result<Value, QmpError> {
    todo()
}
pub fn insert_medium(_m: &mut Machine, _id: &str, _node: &str, _ev: &mut Vec<Event>) -> Result<Value, QmpError> {
    todo()
}
pub fn change_medium(_m: &mut Machine, _c: &ChangeMedium, _ev: &mut Vec<Event>) -> Result<Value, QmpError> {
    todo()
}
/// DEVICE_TRAY_MOVED for tray moves the guest caused since the last call.
pub fn guest_tray_events(_m: &mut Machine) -> Vec<Event> {
    Vec::new()
}
