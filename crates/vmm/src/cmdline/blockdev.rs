//! `-blockdev`: the dotted key=value form (`driver=raw,file.filename=x`) is
//! first turned into the same JSON tree as the JSON form
//! (`{"driver":"raw","file":{"filename":"x"}}`); one converter then builds
//! the block layer's `NodeSpec`. The converter takes either scalar spelling
//! (JSON types or key=value strings) so QMP `blockdev-add` can reuse it.

use serde_json::{Map, Value};

use ironide_block::driver::{check_node_name, FaultRule};
use ironide_block::engine::AioMode;
use ironide_block::layer::{ChildSpec, DriverSpec, NodeSpec};

use super::opts::{parse_bool, parse_size, parse_u64, split};

/// QEMU's default `null-co` size.
const NULL_CO_SIZE: u64 = 1 << 30;

/// The dotted key=value form as a JSON tree (leaves are strings).
pub fn keyval_to_json(s: &str) -> Result<Value, String> {
    let mut root = Map::new();
    for item in split(s) {
        let Some((key, value)) = item.split_once('=') else {
            return Err(format!("Expected '=' after parameter '{item}'"));
        };
        let parts: Vec<&str> = key.split('.').collect();
        if parts.iter().any(|p| p.is_empty()) {
            return Err(format!("Invalid parameter '{key}'"));
        }
        let mut cur = &mut root;
        for (i, part) in parts.iter().enumerate() {
            let last = i + 1 == parts.len();
            if last {
                if cur.contains_key(*part) {
                    return Err(format!("Parameter '{key}' is set twice"));
                }
                cur.insert(part.to_string(), Value::String(value.to_string()));
                break;
            }
            let next = cur.entry(part.to_string()).or_insert_with(|| Value::Object(Map::new()));
            cur = match next {
                Value::Object(m) => m,
                _ => return Err(format!("Parameter '{}' conflicts with '{key}'", parts[..=i].join("."))),
            };
        }
    }
    Ok(Value::Object(root))
}

/// Either form of a `-blockdev` argument as a JSON tree.
pub fn blockdev_json(arg: &str) -> Result<Value, String> {
    if arg.trim_start().starts_with('{') {
        serde_json::from_str(arg).map_err(|e| format!("invalid JSON: {e}"))
    } else {
        keyval_to_json(arg)
    }
}

fn bool_of(key: &str, v: &Value) -> Result<bool, String> {
    match v {
        Value::Bool(b) => Ok(*b),
        Value::String(s) => parse_bool(s).ok_or_else(|| format!("Parameter '{key}' expects 'on' or 'off'")),
        _ => Err(format!("Invalid parameter type for '{key}', expected: boolean")),
    }
}

fn u64_of(key: &str, v: &Value, size: bool) -> Result<u64, String> {
    match v {
        Value::Number(n) => n.as_u64().ok_or_else(|| format!("Parameter '{key}' expects a non-negative integer")),
        Value::String(s) => {
            let n = if size { parse_size(s, 1) } else { parse_u64(s) };
            n.ok_or_else(|| format!("Parameter '{key}' expects a number, not '{s}'"))
        }
        _ => Err(format!("Invalid parameter type for '{key}', expected: integer")),
    }
}

fn str_of<'v>(key: &str, v: &'v Value) -> Result<&'v str, String> {
    v.as_str().ok_or_else(|| format!("Invalid parameter type for '{key}', expected: string"))
}

/// Options a parent hands down to inline children that do not set them.
#[derive(Clone, Copy, Default)]
struct Inherited {
    read_only: Option<bool>,
    direct: Option<bool>,
    no_flush: Option<bool>,
}

/// Build a node from its JSON description. `root`: a node-name is required.
pub fn node_spec(v: &Value, root: bool) -> Result<NodeSpec, String> {
    node(v, root, Inherited::default(), "")
}

fn node(v: &Value, root: bool, inh: Inherited, path: &str) -> Result<NodeSpec, String> {
    let Value::Object(obj) = v else {
        return Err(format!("Invalid parameter type for '{}', expected: object", path.trim_end_matches('.')));
    };
    let mut m = obj.clone();
    let mut take = |k: &str| m.remove(k);
    let driver = match take("driver") {
        Some(d) => str_of(&format!("{path}driver"), &d)?.to_string(),
        // An inline child with only a filename is a `file` node (QEMU infers the protocol).
        None if !root && obj.contains_key("filename") => "file".to_string(),
        None => return Err(format!("Parameter '{path}driver' is missing")),
    };
    let node_name = match take("node-name") {
        Some(n) => {
            let n = str_of("node-name", &n)?.to_string();
            check_node_name(&n).map_err(|e| e.to_string())?;
            Some(n)
        }
        None if root => return Err("'node-name' must be specified for the root node".to_string()),
        None => None,
    };
    let mut here = inh;
    if let Some(r) = take("read-only") {
        here.read_only = Some(bool_of(&format!("{path}read-only"), &r)?);
    }
    if let Some(c) = take("cache") {
        let Value::Object(mut c) = c else {
            return Err(format!("Invalid parameter type for '{path}cache', expected: object"));
        };
        if let Some(d) = c.remove("direct") {
            here.direct = Some(bool_of(&format!("{path}cache.direct"), &d)?);
        }
        if let Some(d) = c.remove("no-flush") {
            here.no_flush = Some(bool_of(&format!("{path}cache.no-flush"), &d)?);
        }
        if let Some(k) = c.keys().next() {
            return Err(format!("Parameter '{path}cache.{k}' is unexpected"));
        }
    }
    // Accepted; no effect here.
    for k in ["discard", "detect-zeroes", "auto-read-only", "force-share"] {
        take(k);
    }
    let child = |v: Value, key: &str| -> Result<ChildSpec, String> {
        match v {
            Value::String(s) => Ok(ChildSpec::Ref(s)),
            v => Ok(ChildSpec::Inline(Box::new(node(&v, false, here, &format!("{path}{key}."))?))),
        }
    };
    let driver = match driver.as_str() {
        "file" | "host_device" | "host_cdrom" => {
            let filename = match take("filename") {
                Some(f) => str_of(&format!("{path}filename"), &f)?.into(),
                None => return Err(format!("Parameter '{path}filename' is missing")),
            };
            let aio = match take("aio") {
                Some(a) => str_of("aio", &a)?
                    .parse::<AioMode>()
                    .map_err(|_| format!("Parameter '{path}aio' does not accept value '{a}'"))?,
                None => AioMode::Auto,
            };
            let locking = match take("locking") {
                Some(l) => {
                    str_of("locking", &l)?.parse().map_err(|e: ironide_block::error::OpenError| e.to_string())?
                }
                None => Default::default(),
            };
            DriverSpec::File { filename, aio, locking }
        }
        "raw" => {
            let file = take("file").ok_or_else(|| format!("Parameter '{path}file' is missing"))?;
            let offset = take("offset").map(|o| u64_of(&format!("{path}offset"), &o, true)).transpose()?;
            let size = take("size").map(|s| u64_of(&format!("{path}size"), &s, true)).transpose()?;
            DriverSpec::Raw { file: child(file, "file")?, offset: offset.unwrap_or(0), size }
        }
        "fault-inject" => {
            let image = take("image").ok_or_else(|| format!("Parameter '{path}image' is missing"))?;
            let rules = match take("rules") {
                Some(r) => fault_rules(r, &format!("{path}rules"))?,
                None => Vec::new(),
            };
            DriverSpec::FaultInject { image: child(image, "image")?, rules }
        }
        "null-co" => {
            let size = take("size").map(|s| u64_of(&format!("{path}size"), &s, true)).transpose()?;
            let zeroes = take("read-zeroes").map(|z| bool_of(&format!("{path}read-zeroes"), &z)).transpose()?;
            DriverSpec::Null { size: size.unwrap_or(NULL_CO_SIZE), read_zeroes: zeroes.unwrap_or(false) }
        }
        other => return Err(format!("Parameter 'driver' does not accept value '{other}'")),
    };
    if let Some(k) = m.keys().next() {
        return Err(format!("Parameter '{path}{k}' is unexpected"));
    }
    Ok(NodeSpec {
        node_name,
        read_only: here.read_only.unwrap_or(false),
        direct: here.direct.unwrap_or(false),
        no_flush: here.no_flush.unwrap_or(false),
        driver,
    })
}

/// `rules`: a JSON array, or the key=value form's `rules.0.iotype=...`
/// (an object keyed 0, 1, ...). Numeric strings become numbers.
fn fault_rules(v: Value, key: &str) -> Result<Vec<FaultRule>, String> {
    let list: Vec<Value> = match v {
        Value::Array(a) => a,
        Value::Object(m) => {
            let mut items: Vec<(u64, Value)> = Vec::new();
            for (k, v) in m {
                let i = k.parse::<u64>().map_err(|_| format!("Parameter '{key}.{k}' is unexpected"))?;
                items.push((i, v));
            }
            items.sort_by_key(|(i, _)| *i);
            if items.iter().enumerate().any(|(n, (i, _))| n as u64 != *i) {
                return Err(format!("Parameter '{key}' must be a list numbered from 0"));
            }
            items.into_iter().map(|(_, v)| v).collect()
        }
        _ => return Err(format!("Invalid parameter type for '{key}', expected: array")),
    };
    list.into_iter()
        .enumerate()
        .map(|(i, mut r)| {
            if let Value::Object(m) = &mut r {
                for (k, v) in m.iter_mut() {
                    if let (true, Value::String(s)) = (k != "errno" && k != "iotype", &*v) {
                        if let Some(n) = parse_u64(s) {
                            *v = Value::from(n);
                        }
                    }
                }
            }
            serde_json::from_value::<FaultRule>(r).map_err(|e| format!("{key}.{i}: {e}"))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use ironide_block::Op;
    use serde_json::json;

    fn kv(s: &str) -> Result<NodeSpec, String> {
        node_spec(&blockdev_json(s)?, true)
    }

    #[test]
    fn keyval_tree() {
        let v = keyval_to_json("driver=raw,node-name=d,file.driver=file,file.filename=/a,,b").unwrap();
        assert_eq!(v, json!({"driver":"raw","node-name":"d","file":{"driver":"file","filename":"/a,b"}}));
        assert!(keyval_to_json("a=1,a=2").unwrap_err().contains("set twice"));
        assert!(keyval_to_json("a=1,a.b=2").unwrap_err().contains("conflicts"));
        assert!(keyval_to_json("driver").unwrap_err().contains("Expected '='"));
    }

    #[test]
    fn drivers() {
        let n =
            kv("driver=file,node-name=f0,filename=/x.img,read-only=on,cache.direct=on,cache.no-flush=on,aio=threads")
                .unwrap();
        assert_eq!((n.node_name.as_deref(), n.read_only, n.direct, n.no_flush), (Some("f0"), true, true, true));
        assert!(matches!(n.driver, DriverSpec::File { aio: AioMode::Threads, .. }));

        let n = kv("driver=raw,node-name=r0,file=f0").unwrap();
        assert!(
            matches!(n.driver, DriverSpec::Raw { file: ChildSpec::Ref(ref s), offset: 0, size: None } if s == "f0")
        );

        let n = kv("driver=raw,node-name=r0,read-only=on,offset=1M,size=4096,file.filename=/y").unwrap();
        let DriverSpec::Raw { file: ChildSpec::Inline(c), offset, size } = n.driver else { panic!() };
        assert_eq!((offset, size), (1 << 20, Some(4096)));
        // The inline child inherits read-only and is a file node.
        assert!(c.read_only && c.node_name.is_none());
        assert!(matches!(c.driver, DriverSpec::File { .. }));

        let n = kv("driver=null-co,node-name=z,size=64M,read-zeroes=on").unwrap();
        assert!(matches!(n.driver, DriverSpec::Null { size, read_zeroes: true } if size == 64 << 20));

        let n = kv("driver=fault-inject,node-name=fi,image=r0,rules.0.iotype=write,rules.0.errno=ENOSPC,\
                    rules.0.offset=4096,rules.1.iotype=read,rules.1.count=2")
        .unwrap();
        let DriverSpec::FaultInject { rules, .. } = n.driver else { panic!() };
        assert_eq!(rules.len(), 2);
        assert_eq!((rules[0].op, rules[0].errno, rules[0].offset), (Op::Write, Some(libc::ENOSPC), 4096));
        assert_eq!((rules[1].op, rules[1].count), (Op::Read, 2));
    }

    #[test]
    fn json_form() {
        let n = kv(r#"{"driver":"raw","node-name":"disk","file":{"driver":"file","filename":"/z.img"},
                      "cache":{"direct":true}}"#)
        .unwrap();
        assert!(n.direct);
        let DriverSpec::Raw { file: ChildSpec::Inline(c), .. } = n.driver else { panic!() };
        assert!(c.direct);
        let n = kv(r#"{"driver":"fault-inject","node-name":"f","image":"disk",
                      "rules":[{"iotype":"flush","errno":5,"count":1}]}"#)
        .unwrap();
        assert!(matches!(n.driver, DriverSpec::FaultInject { ref rules, .. } if rules[0].op == Op::Flush));
    }

    #[test]
    fn errors() {
        let e = |s: &str| kv(s).unwrap_err();
        assert_eq!(e("driver=qcow2,node-name=a"), "Parameter 'driver' does not accept value 'qcow2'");
        assert_eq!(e("node-name=a"), "Parameter 'driver' is missing");
        assert_eq!(e("driver=file,filename=/x"), "'node-name' must be specified for the root node");
        assert_eq!(e("driver=file,node-name=1a,filename=/x"), "Invalid node-name: '1a'");
        assert_eq!(e("driver=file,node-name=a"), "Parameter 'filename' is missing");
        assert_eq!(e("driver=file,node-name=a,filename=/x,bogus=1"), "Parameter 'bogus' is unexpected");
        assert_eq!(e("driver=raw,node-name=a,file.driver=file"), "Parameter 'file.filename' is missing");
        assert_eq!(
            e("driver=file,node-name=a,filename=/x,read-only=maybe"),
            "Parameter 'read-only' expects 'on' or 'off'"
        );
        assert_eq!(e("driver=raw,node-name=a,file=b,cache.what=1"), "Parameter 'cache.what' is unexpected");
        assert!(e("{\"driver\":").starts_with("invalid JSON"));
        assert!(e(r#"{"driver":"file","node-name":"a","filename":"/x","read-only":3}"#).contains("expected: boolean"));
        assert!(e("driver=fault-inject,node-name=f,image=x,rules.0.iotype=poke").contains("rules.0"));
    }
}
