//! query-status, stop, cont, system_reset, quit, query-name (being written).

use ironide_qmp::{Event, QmpError};
use serde_json::Value;

use super::QmpState;
use crate::machine::Machine;

fn todo() -> Result<Value, QmpError> {
    Err(QmpError::generic("not implemented yet"))
}

pub fn query_name(_s: &QmpState) -> Result<Value, QmpError> {
    todo()
}
pub fn query_status(_m: &mut Machine) -> Result<Value, QmpError> {
    todo()
}
pub fn stop(_m: &mut Machine, _ev: &mut Vec<Event>) -> Result<Value, QmpError> {
    todo()
}
pub fn cont(_m: &mut Machine, _ev: &mut Vec<Event>) -> Result<Value, QmpError> {
    todo()
}
pub fn system_reset(_m: &mut Machine, _ev: &mut Vec<Event>) -> Result<Value, QmpError> {
    todo()
}
pub fn quit(_m: &mut Machine, _ev: &mut Vec<Event>) -> Result<Value, QmpError> {
    todo()
}
