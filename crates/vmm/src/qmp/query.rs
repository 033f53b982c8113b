//! query-block, query-blockstats, query-named-block-nodes: the shapes of
//! QEMU's BlockInfo, BlockStats and BlockDeviceInfo (qapi/block-core.json),
//! strict enough for clients built on the newest schema.

use ironide_block::layer::{MediumInfo, NodeInfo};
use ironide_block::stats::{AcctKind, BlockStats};
use ironide_block::throttle::config::{BucketKind, ThrottleConfig};
use ironide_qmp::QmpError;
use serde_json::{json, Map, Value};

use super::io_error;
use crate::machine::{DriveEntry, DriveSlot, Machine};

pub fn query_block(m: &mut Machine) -> Result<Value, QmpError> {
    let drives = m.drives.clone();
    Ok(Value::Array(drives.iter().map(|d| block_info(m, d)).collect()))
}

/// One BlockInfo.
fn block_info(m: &mut Machine, d: &DriveEntry) -> Value {
    let mut o = Map::new();
    o.insert("device".into(), d.backend_name.clone().into());
    o.insert("qdev".into(), d.qdev.clone().into());
    o.insert("type".into(), "unknown".into());
    // Floppies are removable but have no tray (QEMU shows no tray_open and
    // no io-status for them); hard disks have neither lock nor tray.
    let (removable, locked, tray_open) = match d.slot {
        DriveSlot::Ide { bus, unit } if d.cdrom => match m.ide.tray_state(bus, unit) {
            Ok(t) => (true, t.locked, Some(t.open)),
            Err(_) => (true, false, Some(false)),
        },
        DriveSlot::Ide { .. } => (false, false, None),
        DriveSlot::Floppy { .. } => (true, false, None),
    };
    o.insert("removable".into(), removable.into());
    o.insert("locked".into(), locked.into());
    if let Some(open) = tray_open {
        o.insert("tray_open".into(), open.into());
    }
    if matches!(d.slot, DriveSlot::Ide { .. }) {
        o.insert("io-status".into(), io_error::io_status(m, d.backend).into());
    }
    if let Some(med) = m.env.layer.medium_info(d.backend) {
        let throttle = m.env.layer.throttle_config(d.backend);
        o.insert("inserted".into(), inserted(&med, throttle.as_ref()));
    }
    Value::Object(o)
}

/// BlockDeviceInfo of a drive's medium, with the backend's throttling.
fn inserted(med: &MediumInfo, throttle: Option<&(String, ThrottleConfig)>) -> Value {
    let mut o = device_info(&med.node, med.read_only, med.write_cache);
    let Some((group, cfg)) = throttle else { return Value::Object(o) };
    for k in BucketKind::ALL {
        o.insert(k.qmp_name().into(), cfg.limit(k).avg.into());
    }
    // Burst values only where set; a burst length only with its rate.
    for k in BucketKind::ALL {
        let l = cfg.limit(k);
        if l.max != 0 {
            o.insert(format!("{}_max", k.qmp_name()), l.max.into());
        }
    }
    for k in BucketKind::ALL {
        let l = cfg.limit(k);
        if l.max != 0 {
            o.insert(format!("{}_max_length", k.qmp_name()), l.max_length.into());
        }
    }
    if cfg.iops_size != 0 {
        o.insert("iops_size".into(), cfg.iops_size.into());
    }
    o.insert("group".into(), group.clone().into());
    Value::Object(o)
}

/// BlockDeviceInfo of one node, unthrottled.
fn device_info(n: &NodeInfo, read_only: bool, writeback: bool) -> Map<String, Value> {
    let mut o = Map::new();
    o.insert("file".into(), n.filename.clone().into());
    o.insert("node-name".into(), n.node_name.clone().into());
    o.insert("ro".into(), read_only.into());
    o.insert("drv".into(), n.driver.into());
    o.insert("backing_file_depth".into(), 0.into());
    o.insert("encrypted".into(), false.into());
    o.insert("detect_zeroes".into(), "off".into());
    for k in BucketKind::ALL {
        o.insert(k.qmp_name().into(), 0.into());
    }
    o.insert(
        "image".into(),
        json!({
            "filename": n.filename,
            "format": n.driver,
            "virtual-size": n.virtual_size,
            "actual-size": n.actual_size,
        }),
    );
    o.insert("cache".into(), json!({"writeback": writeback, "direct": n.direct, "no-flush": n.no_flush}));
    o.insert("write_threshold".into(), 0.into());
    o
}

pub fn query_named_block_nodes(m: &mut Machine, _flat: bool) -> Result<Value, QmpError> {
    // No backing chains here, so flat and nested output are the same.
    let nodes = m.env.layer.nodes();
    Ok(Value::Array(nodes.iter().map(|n| Value::Object(device_info(n, n.read_only, true))).collect()))
}

pub fn query_blockstats(m: &mut Machine, query_nodes: bool) -> Result<Value, QmpError> {
    let now = m.env.clock.now_ns();
    if query_nodes {
        let nodes = m.env.layer.nodes();
        let out = nodes.iter().map(|n| node_stats(m, &n.node_name, 0)).collect();
        return Ok(Value::Array(out));
    }
    let mut out = Vec::with_capacity(m.drives.len());
    for d in &m.drives {
        let mut o = Map::new();
        o.insert("device".into(), d.backend_name.clone().into());
        o.insert("qdev".into(), d.qdev.clone().into());
        let root = m.env.layer.medium_info(d.backend).map(|med| med.node);
        if let Some(n) = &root {
            o.insert("node-name".into(), n.node_name.clone().into());
        }
        let stats = m.env.layer.stats(d.backend).cloned().unwrap_or_default();
        o.insert("stats".into(), device_stats(&stats, now));
        if let Some(child) = root.and_then(|n| n.child) {
            o.insert("parent".into(), node_stats(m, &child, 0));
        }
        out.push(Value::Object(o));
    }
    Ok(Value::Array(out))
}

/// Node-level BlockStats (no guest accounting at that level), with the
/// child nested as `parent`.
fn node_stats(m: &Machine, name: &str, depth: usize) -> Value {
    let mut o = Map::new();
    o.insert("node-name".into(), name.into());
    // Only the write high-water mark exists per node; take the backend's
    // when the node is a medium's root.
    let highest = m
        .drives
        .iter()
        .filter(|d| m.env.layer.medium_info(d.backend).is_some_and(|med| med.node.node_name == name))
        .filter_map(|d| m.env.layer.stats(d.backend))
        .map(|s| s.wr_highest_offset)
        .max()
        .unwrap_or(0);
    let node_level =
        BlockStats { wr_highest_offset: highest, account_invalid: false, account_failed: false, ..Default::default() };
    o.insert("stats".into(), device_stats(&node_level, 0));
    // Depth guard: a node graph is a chain, but never recurse unbounded.
    if depth < 16 {
        if let Some(child) = m.env.layer.node_info(name).and_then(|n| n.child) {
            o.insert("parent".into(), node_stats(m, &child, depth + 1));
        }
    }
    Value::Object(o)
}

/// BlockDeviceStats: every field of the newest schema.
fn device_stats(s: &BlockStats, now_ns: u64) -> Value {
    let r = s.get(AcctKind::Read);
    let w = s.get(AcctKind::Write);
    let f = s.get(AcctKind::Flush);
    let u = s.get(AcctKind::Unmap);
    let mut o = Map::new();
    let mut put = |k: &str, v: Value| {
        o.insert(k.into(), v);
    };
    put("rd_bytes", r.bytes.into());
    put("wr_bytes", w.bytes.into());
    put("zone_append_bytes", 0.into());
    put("unmap_bytes", u.bytes.into());
    put("rd_operations", r.operations.into());
    put("wr_operations", w.operations.into());
    put("zone_append_operations", 0.into());
    put("flush_operations", f.operations.into());
    put("unmap_operations", u.operations.into());
    put("rd_total_time_ns", r.total_time_ns.into());
    put("wr_total_time_ns", w.total_time_ns.into());
    put("zone_append_total_time_ns", 0.into());
    put("flush_total_time_ns", f.total_time_ns.into());
    put("unmap_total_time_ns", u.total_time_ns.into());
    put("wr_highest_offset", s.wr_highest_offset.into());
    put("rd_merged", r.merged.into());
    put("wr_merged", w.merged.into());
    put("zone_append_merged", 0.into());
    put("unmap_merged", u.merged.into());
    if let Some(idle) = s.idle_time_ns(now_ns) {
        put("idle_time_ns", idle.into());
    }
    put("failed_rd_operations", r.failed.into());
    put("failed_wr_operations", w.failed.into());
    put("failed_zone_append_operations", 0.into());
    put("failed_flush_operations", f.failed.into());
    put("failed_unmap_operations", u.failed.into());
    put("invalid_rd_operations", r.invalid.into());
    put("invalid_wr_operations", w.invalid.into());
    put("invalid_zone_append_operations", 0.into());
    put("invalid_flush_operations", f.invalid.into());
    put("invalid_unmap_operations", u.invalid.into());
    put("account_invalid", s.account_invalid.into());
    put("account_failed", s.account_failed.into());
    put("timed_stats", json!([]));
    for (kind, key) in [
        (AcctKind::Read, "rd_latency_histogram"),
        (AcctKind::Write, "wr_latency_histogram"),
        (AcctKind::Flush, "flush_latency_histogram"),
    ] {
        if let Some(h) = s.histogram(kind) {
            put(key, json!({"boundaries": h.boundaries(), "bins": h.bins()}));
        }
    }
    Value::Object(o)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stats_have_every_field_and_idle_only_after_io() {
        let mut s = BlockStats::default();
        let v = device_stats(&s, 100);
        let o = v.as_object().unwrap();
        assert_eq!(o.len(), 32);
        assert!(!o.contains_key("idle_time_ns"));
        assert_eq!(o["timed_stats"], json!([]));
        s.account_done(AcctKind::Read, 512, 10, false, 40);
        s.set_histogram(AcctKind::Write, Some(vec![10, 20])).unwrap();
        let v = device_stats(&s, 100);
        assert_eq!(v["idle_time_ns"], 60);
        assert_eq!(v["rd_operations"], 1);
        assert_eq!(v["wr_latency_histogram"], json!({"boundaries": [10, 20], "bins": [0, 0, 0]}));
        assert!(v.get("rd_latency_histogram").is_none());
    }

    #[test]
    fn throttled_inserted_shows_only_set_bursts() {
        let node = NodeInfo {
            node_name: "#block100".into(),
            driver: "raw",
            filename: "/x.img".into(),
            read_only: true,
            virtual_size: 1024,
            actual_size: 512,
            direct: false,
            no_flush: false,
            child: Some("#block000".into()),
            in_use: true,
        };
        let med = MediumInfo { node, size: 1024, read_only: true, write_cache: true };
        let plain = inserted(&med, None);
        assert!(plain.get("group").is_none());
        assert_eq!(plain["image"]["format"], "raw");
        let mut cfg = ThrottleConfig::default();
        cfg.limit_mut(BucketKind::BpsTotal).avg = 100;
        cfg.limit_mut(BucketKind::BpsTotal).max = 200;
        cfg.limit_mut(BucketKind::IopsRead).avg = 5;
        let v = inserted(&med, Some(&("g".into(), cfg)));
        assert_eq!(
            (v["bps"].clone(), v["bps_max"].clone(), v["bps_max_length"].clone()),
            (json!(100), json!(200), json!(1))
        );
        assert_eq!(v["iops_rd"], 5);
        assert!(
            v.get("iops_rd_max").is_none() && v.get("iops_rd_max_length").is_none() && v.get("iops_size").is_none()
        );
        assert_eq!(v["group"], "g");
    }
}
