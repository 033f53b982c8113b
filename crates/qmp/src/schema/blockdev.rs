//! blockdev-add options (QEMU's BlockdevOptions, for the drivers ironide
//! has: file, raw, null-co, fault-inject), read straight into the block
//! layer's `NodeSpec`. All checking happens here, before anything opens.

use ironide_block::driver::fault::parse_iotype;
use ironide_block::driver::{parse_errno, FaultRule, LockMode};
use ironide_block::engine::AioMode;
use ironide_block::layer::{ChildSpec, DriverSpec, NodeSpec};
use serde_json::Value;

use super::args::{invalid_type, ArgResult, Args};
use crate::error::QmpError;

/// The driver names blockdev-add knows.
pub const DRIVERS: &[(&str, Driver)] =
    &[("file", Driver::File), ("raw", Driver::Raw), ("null-co", Driver::NullCo), ("fault-inject", Driver::FaultInject)];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Driver {
    File,
    Raw,
    NullCo,
    FaultInject,
}

const AIO: &[(&str, AioMode)] =
    &[("threads", AioMode::Threads), ("native", AioMode::Auto), ("io_uring", AioMode::IoUring)];
const ON_OFF_AUTO: &[(&str, LockMode)] = &[("on", LockMode::On), ("off", LockMode::Off), ("auto", LockMode::Auto)];
const DISCARD: &[(&str, ())] = &[("ignore", ()), ("unmap", ())];
const DETECT_ZEROES: &[(&str, ())] = &[("off", ()), ("on", ()), ("unmap", ())];

/// Options a child inherits from its parent when it does not set them.
#[derive(Clone, Copy, Default)]
struct Inherited {
    read_only: Option<bool>,
    direct: Option<bool>,
    no_flush: Option<bool>,
}

/// Reads the arguments of blockdev-add (the whole argument object).
pub fn parse_blockdev_add(args: Args) -> ArgResult<NodeSpec> {
    parse_node(args, Inherited::default())
}

fn parse_node(mut a: Args, parent: Inherited) -> ArgResult<NodeSpec> {
    // BlockdevOptionsBase, in schema order.
    let driver = a.req_enum("driver", DRIVERS)?;
    let node_name = a.opt_str("node-name")?;
    a.opt_enum("discard", DISCARD)?;
    let (mut direct, mut no_flush) = (None, None);
    if let Some(mut cache) = a.opt_object("cache")? {
        direct = cache.opt_bool("direct")?;
        no_flush = cache.opt_bool("no-flush")?;
        cache.finish()?;
    }
    let read_only = a.opt_bool("read-only")?;
    a.opt_bool("auto-read-only")?;
    a.opt_bool("force-share")?;
    a.opt_enum("detect-zeroes", DETECT_ZEROES)?;
    let mine = Inherited {
        read_only: read_only.or(parent.read_only),
        direct: direct.or(parent.direct),
        no_flush: no_flush.or(parent.no_flush),
    };
    let driver = match driver {
        Driver::File => {
            let filename = a.req_str("filename")?;
            a.opt_str("pr-manager")?;
            let locking = a.opt_enum("locking", ON_OFF_AUTO)?.unwrap_or_default();
            let aio = a.opt_enum("aio", AIO)?.unwrap_or_default();
            a.opt_i64("aio-max-batch")?;
            a.opt_bool("drop-cache")?;
            DriverSpec::File { filename: filename.into(), aio, locking }
        }
        Driver::Raw => {
            let file = child(&mut a, "file", mine)?;
            let offset = a.opt_u64("offset")?.unwrap_or(0);
            let size = a.opt_u64("size")?;
            DriverSpec::Raw { file, offset, size }
        }
        Driver::NullCo => {
            // QEMU's null-co defaults to 1 GiB.
            let size = a.opt_i64("size")?.unwrap_or(1 << 30);
            let size = u64::try_from(size).map_err(|_| QmpError::generic("size must be non-negative"))?;
            a.opt_i64("latency-ns")?;
            let read_zeroes = a.opt_bool("read-zeroes")?.unwrap_or(false);
            DriverSpec::Null { size, read_zeroes }
        }
        Driver::FaultInject => {
            let image = child(&mut a, "image", mine)?;
            let mut rules = Vec::new();
            for r in a.opt_object_list("rules")?.unwrap_or_default() {
                rules.push(parse_rule(r)?);
            }
            DriverSpec::FaultInject { image, rules }
        }
    };
    a.finish()?;
    Ok(NodeSpec {
        node_name,
        read_only: mine.read_only.unwrap_or(false),
        direct: mine.direct.unwrap_or(false),
        no_flush: mine.no_flush.unwrap_or(false),
        driver,
    })
}

/// BlockdevRef: an inline node or the name of an existing one.
fn child(a: &mut Args, name: &str, parent: Inherited) -> ArgResult<ChildSpec> {
    let full = a.path(name);
    match a.take(name) {
        None => Err(QmpError::generic(format!("Parameter '{full}' is missing"))),
        Some(Value::String(s)) => Ok(ChildSpec::Ref(s)),
        Some(v @ Value::Object(_)) => Ok(ChildSpec::Inline(Box::new(parse_node(Args::nested(v, &full)?, parent)?))),
        Some(_) => Err(invalid_type(&full, "BlockdevRef")),
    }
}

/// One fault-inject rule (see ironide_block::driver::fault).
fn parse_rule(mut r: Args) -> ArgResult<FaultRule> {
    let iotype = r.req_str("iotype")?;
    let op = parse_iotype(&iotype).map_err(|e| QmpError::generic(e.to_string()))?;
    let errno_path = r.path("errno");
    let errno = r.take("errno");
    let offset = r.opt_u64("offset")?.unwrap_or(0);
    let length = r.opt_u64("length")?.unwrap_or(0);
    let count = r.opt_u64("count")?.unwrap_or(0);
    let delay_ns = r.opt_u64("delay-ns")?;
    r.finish()?;
    let errno = match errno {
        None if delay_ns.is_some() => None,
        None => Some(libc::EIO),
        Some(Value::Number(n)) if n.as_i64() == Some(0) => None,
        Some(Value::Number(n)) => Some(parse_errno(&n.to_string()).map_err(|e| QmpError::generic(e.to_string()))?),
        Some(Value::String(s)) => Some(parse_errno(&s).map_err(|e| QmpError::generic(e.to_string()))?),
        Some(_) => return Err(invalid_type(&errno_path, "string")),
    };
    Ok(FaultRule { op, errno, offset, length, count, delay_ns: delay_ns.unwrap_or(0) })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(v: Value) -> ArgResult<NodeSpec> {
        match v {
            Value::Object(m) => parse_blockdev_add(Args::new(m)),
            _ => unreachable!(),
        }
    }

    #[test]
    fn raw_over_inline_file_inherits() {
        let spec = parse(json!({"driver": "raw", "node-name": "n1", "read-only": true, "cache": {"direct": true},
            "file": {"driver": "file", "filename": "/tmp/x", "aio": "threads"}}))
        .unwrap();
        assert_eq!(spec.node_name.as_deref(), Some("n1"));
        let DriverSpec::Raw { file: ChildSpec::Inline(f), offset: 0, size: None } = &spec.driver else { panic!() };
        assert!(f.read_only && f.direct);
        assert!(matches!(f.driver, DriverSpec::File { aio: AioMode::Threads, .. }));
    }

    #[test]
    fn errors() {
        let e = |v| parse(v).unwrap_err().desc;
        assert_eq!(e(json!({"driver": "nope"})), "Parameter 'driver' does not accept value 'nope'");
        assert_eq!(e(json!({"driver": "raw", "file": {"driver": "file"}})), "Parameter 'file.filename' is missing");
        assert_eq!(e(json!({"driver": "file", "filename": "x", "foo": 1})), "Parameter 'foo' is unexpected");
        assert_eq!(e(json!({"driver": "raw", "file": 1})), "Invalid parameter type for 'file', expected: BlockdevRef");
        assert_eq!(
            e(json!({"driver": "file", "filename": "x", "cache": {"direct": 1}})),
            "Invalid parameter type for 'cache.direct', expected: boolean"
        );
        assert!(e(json!({"driver": "fault-inject", "image": "n", "rules": [{"iotype": "bogus"}]})).contains("iotype"));
    }

    #[test]
    fn fault_rules() {
        let spec = parse(json!({"driver": "fault-inject", "node-name": "f", "image": "n0",
            "rules": [{"iotype": "write", "errno": "ENOSPC", "count": 1}, {"iotype": "read", "delay-ns": 5}]}))
        .unwrap();
        let DriverSpec::FaultInject { image: ChildSpec::Ref(n), rules } = &spec.driver else { panic!() };
        assert_eq!(n, "n0");
        assert_eq!(rules[0].errno, Some(libc::ENOSPC));
        assert_eq!(rules[1].errno, None);
        assert_eq!(rules[1].delay_ns, 5);
    }
}
