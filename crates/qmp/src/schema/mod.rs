//! The commands ironide accepts, as a typed enum, and the reader that turns
//! `execute` + `arguments` into one, with QEMU's validation texts. Nothing
//! here has side effects: a command reaches the handler only once its
//! arguments are fully valid.

pub mod args;
pub mod blockdev;
pub mod device;

use ironide_block::layer::NodeSpec;
use serde_json::{Map, Value};

use crate::error::QmpError;
use args::Args;
pub use device::{BlockIoThrottle, ChangeMedium, DeviceSel, HistogramSet, ReadOnlyMode, Target};

/// Every command name, in the order query-commands lists them. The protocol
/// layer answers the first three itself.
pub const COMMANDS: &[&str] = &[
    "qmp_capabilities",
    "query-version",
    "query-commands",
    "query-name",
    "query-status",
    "stop",
    "cont",
    "system_reset",
    "quit",
    "query-block",
    "query-blockstats",
    "query-named-block-nodes",
    "blockdev-add",
    "blockdev-del",
    "eject",
    "blockdev-open-tray",
    "blockdev-close-tray",
    "blockdev-remove-medium",
    "blockdev-insert-medium",
    "blockdev-change-medium",
    "block_set_io_throttle",
    "block-latency-histogram-set",
    "query-pr-managers",
    "object-add",
    "object-del",
];

/// A validated command for the machine.
#[derive(Clone, Debug)]
pub enum Command {
    QueryName,
    QueryStatus,
    Stop,
    Cont,
    SystemReset,
    /// The handler sends SHUTDOWN {"guest": false, "reason": "host-qmp-quit"},
    /// returns {}, and the machine exits 0 once the monitors are flushed.
    Quit,
    QueryBlock,
    QueryBlockstats {
        query_nodes: bool,
    },
    QueryNamedBlockNodes {
        flat: bool,
    },
    /// The root must be named: add it with `require_name = true`.
    BlockdevAdd(Box<NodeSpec>),
    BlockdevDel {
        node_name: String,
    },
    Eject {
        sel: DeviceSel,
        force: bool,
    },
    BlockdevOpenTray {
        sel: DeviceSel,
        force: bool,
    },
    BlockdevCloseTray {
        sel: DeviceSel,
    },
    BlockdevRemoveMedium {
        id: String,
    },
    BlockdevInsertMedium {
        id: String,
        node_name: String,
    },
    BlockdevChangeMedium(ChangeMedium),
    BlockSetIoThrottle(Box<BlockIoThrottle>),
    BlockLatencyHistogramSet(HistogramSet),
    QueryPrManagers,
    /// object-add qom-type=pr-manager-helper.
    ObjectAddPrManager {
        id: String,
        path: String,
    },
    ObjectDel {
        id: String,
    },
}

/// Commands the protocol layer answers itself.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ProtocolCommand {
    Capabilities { oob: bool },
    QueryVersion,
    QueryCommands,
}

/// Either kind of command.
#[derive(Clone, Debug)]
pub enum Parsed {
    Protocol(ProtocolCommand),
    Machine(Command),
}

const QOM_TYPES: &[(&str, ())] = &[("pr-manager-helper", ())];
const CAPABILITIES: &[(&str, ())] = &[("oob", ())];

/// Reads one command. `name` must be known (else CommandNotFound).
pub fn parse_command(name: &str, arguments: Option<Map<String, Value>>) -> Result<Parsed, QmpError> {
    if !COMMANDS.contains(&name) {
        return Err(QmpError::command_not_found(format!("The command {name} has not been found")));
    }
    let mut a = Args::new(arguments.unwrap_or_default());
    let m = Parsed::Machine;
    let parsed = match name {
        "qmp_capabilities" => {
            let mut oob = false;
            if let Some(v) = a.take("enable") {
                let Value::Array(items) = v else {
                    return Err(args::invalid_type("enable", "array"));
                };
                for (i, item) in items.iter().enumerate() {
                    let path = format!("enable[{i}]");
                    let Value::String(s) = item else { return Err(args::invalid_type(&path, "string")) };
                    if !CAPABILITIES.iter().any(|(c, _)| c == s) {
                        return Err(args::bad_enum(&path, s));
                    }
                    oob = true;
                }
            }
            Parsed::Protocol(ProtocolCommand::Capabilities { oob })
        }
        "query-version" => Parsed::Protocol(ProtocolCommand::QueryVersion),
        "query-commands" => Parsed::Protocol(ProtocolCommand::QueryCommands),
        "query-name" => m(Command::QueryName),
        "query-status" => m(Command::QueryStatus),
        "stop" => m(Command::Stop),
        "cont" => m(Command::Cont),
        "system_reset" => m(Command::SystemReset),
        "quit" => m(Command::Quit),
        "query-block" => m(Command::QueryBlock),
        "query-blockstats" => m(Command::QueryBlockstats { query_nodes: a.opt_bool("query-nodes")?.unwrap_or(false) }),
        "query-named-block-nodes" => m(Command::QueryNamedBlockNodes { flat: a.opt_bool("flat")?.unwrap_or(false) }),
        "blockdev-add" => {
            // The whole argument object is the (flat) BlockdevOptions.
            let all = std::mem::replace(&mut a, Args::new(Map::new()));
            m(Command::BlockdevAdd(Box::new(blockdev::parse_blockdev_add(all)?)))
        }
        "blockdev-del" => m(Command::BlockdevDel { node_name: a.req_str("node-name")? }),
        "eject" => {
            let sel = DeviceSel::read(&mut a)?;
            m(Command::Eject { sel, force: a.opt_bool("force")?.unwrap_or(false) })
        }
        "blockdev-open-tray" => {
            let sel = DeviceSel::read(&mut a)?;
            m(Command::BlockdevOpenTray { sel, force: a.opt_bool("force")?.unwrap_or(false) })
        }
        "blockdev-close-tray" => m(Command::BlockdevCloseTray { sel: DeviceSel::read(&mut a)? }),
        "blockdev-remove-medium" => m(Command::BlockdevRemoveMedium { id: a.req_str("id")? }),
        "blockdev-insert-medium" => {
            let id = a.req_str("id")?;
            m(Command::BlockdevInsertMedium { id, node_name: a.req_str("node-name")? })
        }
        "blockdev-change-medium" => m(Command::BlockdevChangeMedium(ChangeMedium::read(&mut a)?)),
        "block_set_io_throttle" => m(Command::BlockSetIoThrottle(Box::new(BlockIoThrottle::read(&mut a)?))),
        "block-latency-histogram-set" => m(Command::BlockLatencyHistogramSet(HistogramSet::read(&mut a)?)),
        "query-pr-managers" => m(Command::QueryPrManagers),
        "object-add" => {
            a.req_enum("qom-type", QOM_TYPES)?;
            let id = a.req_str("id")?;
            m(Command::ObjectAddPrManager { id, path: a.req_str("path")? })
        }
        "object-del" => m(Command::ObjectDel { id: a.req_str("id")? }),
        _ => return Err(QmpError::command_not_found(format!("The command {name} has not been found"))),
    };
    a.finish()?;
    Ok(parsed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(name: &str, v: Value) -> Result<Parsed, QmpError> {
        parse_command(name, v.as_object().cloned())
    }

    #[test]
    fn every_command_is_known() {
        for c in COMMANDS {
            let r = parse(c, json!({}));
            assert!(!matches!(&r, Err(e) if e.class == crate::ErrorClass::CommandNotFound), "{c}");
        }
        let e = parse("nosuch", json!({})).unwrap_err();
        assert_eq!(
            (e.class, e.desc.as_str()),
            (crate::ErrorClass::CommandNotFound, "The command nosuch has not been found")
        );
    }

    #[test]
    fn argument_texts() {
        let d = |n, v| parse(n, v).unwrap_err().desc;
        assert_eq!(d("query-status", json!({"foo": 1})), "Parameter 'foo' is unexpected");
        assert_eq!(d("blockdev-del", json!({})), "Parameter 'node-name' is missing");
        assert_eq!(
            d("block_set_io_throttle", json!({"id": "x", "bps": "1"})),
            "Invalid parameter type for 'bps', expected: integer"
        );
        assert_eq!(d("blockdev-add", json!({"driver": "nope"})), "Parameter 'driver' does not accept value 'nope'");
        assert_eq!(
            d("blockdev-change-medium", json!({"id": "cd0", "filename": "x", "read-only-mode": "rw"})),
            "Parameter 'read-only-mode' does not accept value 'rw'"
        );
        assert_eq!(
            d("object-add", json!({"qom-type": "memory-backend-ram", "id": "m"})),
            "Parameter 'qom-type' does not accept value 'memory-backend-ram'"
        );
        assert_eq!(
            d("qmp_capabilities", json!({"enable": ["nope"]})),
            "Parameter 'enable[0]' does not accept value 'nope'"
        );
    }

    #[test]
    fn throttle_and_histogram() {
        let args = json!({"id": "cd0", "bps": 100, "bps_rd": 0, "bps_wr": 0, "iops": 0, "iops_rd": 0, "iops_wr": 0,
            "bps_max": 50});
        let Parsed::Machine(Command::BlockSetIoThrottle(t)) = parse("block_set_io_throttle", args).unwrap() else {
            panic!()
        };
        assert_eq!(t.sel.target().unwrap(), Target::Qdev("cd0"));
        assert_eq!(t.to_config().unwrap_err().desc, "bps_max/iops_max cannot be lower than bps/iops");
        let args = json!({"bps": -1, "bps_rd": 0, "bps_wr": 0, "iops": 0, "iops_rd": 0, "iops_wr": 0});
        let Parsed::Machine(Command::BlockSetIoThrottle(t)) = parse("block_set_io_throttle", args).unwrap() else {
            panic!()
        };
        assert_eq!(t.sel.target().unwrap_err().desc, "Need exactly one of 'device' and 'id'");
        assert_eq!(t.to_config().unwrap_err().desc, "bps/iops/max values must be within [0, 1000000000000000]");

        let args = json!({"id": "cd0", "boundaries": [10, 20], "boundaries-write": [5]});
        let Parsed::Machine(Command::BlockLatencyHistogramSet(h)) = parse("block-latency-histogram-set", args).unwrap()
        else {
            panic!()
        };
        assert_eq!(h.effective(), [Some(&[10u64, 20][..]), Some(&[5u64][..]), Some(&[10u64, 20][..])]);
        assert!(!HistogramSet::valid_boundaries(&[0, 1]));
        assert!(!HistogramSet::valid_boundaries(&[2, 2]));
    }
}
