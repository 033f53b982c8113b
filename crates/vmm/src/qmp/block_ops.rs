//! blockdev-add/del, block_set_io_throttle, block-latency-histogram-set.

use ironide_block::layer::NodeSpec;
use ironide_block::stats::AcctKind;
use ironide_qmp::schema::{BlockIoThrottle, HistogramSet, Target};
use ironide_qmp::QmpError;
use serde_json::{json, Value};

use super::find_drive;
use crate::machine::Machine;

/// The root of a blockdev-add must be named (the layer's texts are QEMU's).
pub fn blockdev_add(m: &mut Machine, spec: &NodeSpec) -> Result<Value, QmpError> {
    m.env.layer.add_node(spec, true).map_err(|e| QmpError::generic(e.to_string()))?;
    Ok(json!({}))
}

pub fn blockdev_del(m: &mut Machine, node: &str) -> Result<Value, QmpError> {
    m.env.layer.delete_node(node).map_err(|e| QmpError::generic(e.to_string()))?;
    Ok(json!({}))
}

/// Checks in QEMU's order: the device, its medium, then the values.
pub fn set_io_throttle(m: &mut Machine, t: &BlockIoThrottle) -> Result<Value, QmpError> {
    let target = t.sel.target()?;
    let (device, id) = match target {
        Target::Backend(d) => (Some(d), None),
        Target::Qdev(i) => (None, Some(i)),
    };
    let backend = find_drive(m, device, id)?.backend;
    if !m.env.layer.has_medium(backend) {
        return Err(QmpError::generic("Device has no medium"));
    }
    let cfg = t.to_config()?;
    // A throttled drive keeps its group unless one is named; a new member
    // joins the group named like the device as the client addressed it.
    let current = m.env.layer.throttle_config(backend).map(|(g, _)| g);
    let group = t.group.clone().or(current).unwrap_or_else(|| t.sel.name().to_string());
    m.env.layer.set_throttle(backend, cfg, Some(&group)).map_err(|e| QmpError::generic(e.to_string()))?;
    Ok(json!({}))
}

/// Read, write, flush in that order, each applied as it is checked (QEMU
/// leaves earlier directions set when a later one fails). Directions not
/// named stay as they are; only `id` removes all three.
pub fn latency_histogram_set(m: &mut Machine, h: &HistogramSet) -> Result<Value, QmpError> {
    let backend = find_drive(m, None, Some(&h.id))?.backend;
    let eff = h.effective();
    let kinds = [(AcctKind::Read, "read"), (AcctKind::Write, "write"), (AcctKind::Flush, "flush")];
    if eff.iter().all(|b| b.is_none()) {
        for (k, _) in kinds {
            let _ = m.env.layer.set_histogram(backend, k, None);
        }
        return Ok(json!({}));
    }
    for ((kind, what), b) in kinds.into_iter().zip(eff) {
        let Some(b) = b else { continue };
        let fail = || QmpError::generic(format!("Device '{}' set {what} boundaries fail", h.id));
        if !HistogramSet::valid_boundaries(b) {
            return Err(fail());
        }
        m.env.layer.set_histogram(backend, kind, Some(b.to_vec())).map_err(|_| fail())?;
    }
    Ok(json!({}))
}
