//! pr-manager-helper objects (being written).

use std::path::Path;

use ironide_qmp::{Event, QmpError};
use serde_json::Value;

use super::QmpState;

#[derive(Debug, Default)]
pub struct PrManagers {}

fn todo() -> Result<Value, QmpError> {
    Err(QmpError::generic("not implemented yet"))
}

pub fn query(_s: &QmpState) -> Result<Value, QmpError> {
    todo()
}
pub fn add(_s: &mut QmpState, _id: &str, _path: &Path, _ev: &mut Vec<Event>) -> Result<Value, QmpError> {
    todo()
}
pub fn del(_s: &mut QmpState, _id: &str, _ev: &mut Vec<Event>) -> Result<Value, QmpError> {
    todo()
}
/// Connection changes since the last call (PR_MANAGER_STATUS_CHANGED).
pub fn poll(_s: &mut QmpState) -> Vec<Event> {
    Vec::new()
}
