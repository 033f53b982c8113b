//! blockdev-add/del, block_set_io_throttle, block-latency-histogram-set
//! (being written).

use ironide_block::layer::NodeSpec;
use ironide_qmp::schema::{BlockIoThrottle, HistogramSet};
use ironide_qmp::QmpError;
use serde_json::Value;

use crate::machine::Machine;

fn todo() -> Result<Value, QmpError> {
    Err(QmpError::generic("not implemented yet"))
}

pub fn blockdev_add(_m: &mut Machine, _spec: &NodeSpec) -> Result<Value, QmpError> {
    todo()
}
pub fn blockdev_del(_m: &mut Machine, _node: &str) -> Result<Value, QmpError> {
    todo()
}
pub fn set_io_throttle(_m: &mut Machine, _t: &BlockIoThrottle) -> Result<Value, QmpError> {
    todo()
}
pub fn latency_histogram_set(_m: &mut Machine, _h: &HistogramSet) -> Result<Value, QmpError> {
    todo()
}
