//! query-block, query-blockstats, query-named-block-nodes (being written).

use ironide_qmp::QmpError;
use serde_json::Value;

use crate::machine::Machine;

fn todo() -> Result<Value, QmpError> {
    Err(QmpError::generic("not implemented yet"))
}

pub fn query_block(_m: &mut Machine) -> Result<Value, QmpError> {
    todo()
}
pub fn query_blockstats(_m: &mut Machine, _query_nodes: bool) -> Result<Value, QmpError> {
    todo()
}
pub fn query_named_block_nodes(_m: &mut Machine, _flat: bool) -> Result<Value, QmpError> {
    todo()
}
