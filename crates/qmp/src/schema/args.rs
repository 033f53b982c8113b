//! Reading command arguments with QEMU's input-visitor rules and texts:
//! members are read in schema order (missing and type errors in that order),
//! then any member left over is "unexpected". Nested members are named by
//! their path (`cache.direct`, `boundaries[1]`).

use serde_json::{Map, Value};

use crate::error::QmpError;

pub type ArgResult<T> = Result<T, QmpError>;

/// "Invalid parameter type for 'x', expected: integer".
pub fn invalid_type(name: &str, expected: &str) -> QmpError {
    QmpError::generic(format!("Invalid parameter type for '{name}', expected: {expected}"))
}

/// "Parameter 'x' does not accept value 'y'".
pub fn bad_enum(name: &str, value: &str) -> QmpError {
    QmpError::generic(format!("Parameter '{name}' does not accept value '{value}'"))
}

/// The members of one JSON object being visited.
pub struct Args {
    map: Map<String, Value>,
    prefix: String,
}

impl Args {
    pub fn new(map: Map<String, Value>) -> Self {
        Args { map, prefix: String::new() }
    }

    /// `value` must be an object; `name` is its full path for messages.
    pub fn nested(value: Value, name: &str) -> ArgResult<Self> {
        match value {
            Value::Object(map) => Ok(Args { map, prefix: format!("{name}.") }),
            _ => Err(invalid_type(name, "object")),
        }
    }

    /// Full path of a member, as QEMU names it in messages.
    pub fn path(&self, name: &str) -> String {
        format!("{}{}", self.prefix, name)
    }

    fn missing(&self, name: &str) -> QmpError {
        QmpError::generic(format!("Parameter '{}' is missing", self.path(name)))
    }

    /// Takes a member without checking its type.
    pub fn take(&mut self, name: &str) -> Option<Value> {
        self.map.remove(name)
    }

    pub fn has(&self, name: &str) -> bool {
        self.map.contains_key(name)
    }

    pub fn opt_str(&mut self, name: &str) -> ArgResult<Option<String>> {
        match self.take(name) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(_) => Err(invalid_type(&self.path(name), "string")),
        }
    }

    pub fn req_str(&mut self, name: &str) -> ArgResult<String> {
        self.opt_str(name)?.ok_or_else(|| self.missing(name))
    }

    pub fn opt_bool(&mut self, name: &str) -> ArgResult<Option<bool>> {
        match self.take(name) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(b)),
            Some(_) => Err(invalid_type(&self.path(name), "boolean")),
        }
    }

    pub fn opt_i64(&mut self, name: &str) -> ArgResult<Option<i64>> {
        match self.take(name) {
            None => Ok(None),
            Some(v) => to_i64(&v).map(Some).ok_or_else(|| invalid_type(&self.path(name), "integer")),
        }
    }

    pub fn req_i64(&mut self, name: &str) -> ArgResult<i64> {
        self.opt_i64(name)?.ok_or_else(|| self.missing(name))
    }

    pub fn opt_u64(&mut self, name: &str) -> ArgResult<Option<u64>> {
        match self.take(name) {
            None => Ok(None),
            Some(v) => to_u64(&v).map(Some).ok_or_else(|| invalid_type(&self.path(name), "integer")),
        }
    }

    /// A list of uint64 (`boundaries`).
    pub fn opt_u64_list(&mut self, name: &str) -> ArgResult<Option<Vec<u64>>> {
        let Some(v) = self.take(name) else { return Ok(None) };
        let full = self.path(name);
        let Value::Array(items) = v else { return Err(invalid_type(&full, "array")) };
        items
            .iter()
            .enumerate()
            .map(|(i, item)| to_u64(item).ok_or_else(|| invalid_type(&format!("{full}[{i}]"), "integer")))
            .collect::<ArgResult<Vec<u64>>>()
            .map(Some)
    }

    /// An enum member: a string out of `values`.
    pub fn opt_enum<T: Copy>(&mut self, name: &str, values: &[(&str, T)]) -> ArgResult<Option<T>> {
        let Some(s) = self.opt_str(name)? else { return Ok(None) };
        values.iter().find(|(n, _)| *n == s).map(|(_, v)| Some(*v)).ok_or_else(|| bad_enum(&self.path(name), &s))
    }

    pub fn req_enum<T: Copy>(&mut self, name: &str, values: &[(&str, T)]) -> ArgResult<T> {
        if !self.has(name) {
            return Err(self.missing(name));
        }
        self.opt_enum(name, values)?.ok_or_else(|| self.missing(name))
    }

    /// A nested object member.
    pub fn opt_object(&mut self, name: &str) -> ArgResult<Option<Args>> {
        let full = self.path(name);
        self.take(name).map(|v| Args::nested(v, &full)).transpose()
    }

    /// A list of objects (each visited by the caller).
    pub fn opt_object_list(&mut self, name: &str) -> ArgResult<Option<Vec<Args>>> {
        let Some(v) = self.take(name) else { return Ok(None) };
        let full = self.path(name);
        let Value::Array(items) = v else { return Err(invalid_type(&full, "array")) };
        items
            .into_iter()
            .enumerate()
            .map(|(i, item)| Args::nested(item, &format!("{full}[{i}]")))
            .collect::<ArgResult<_>>()
            .map(Some)
    }

    /// Ends the visit: anything not read is unexpected.
    pub fn finish(self) -> ArgResult<()> {
        match self.map.keys().next() {
            Some(k) => Err(QmpError::generic(format!("Parameter '{}{}' is unexpected", self.prefix, k))),
            None => Ok(()),
        }
    }
}

fn to_i64(v: &Value) -> Option<i64> {
    v.as_i64()
}

/// uint64 members also take negative integers (wrapped), as QEMU does for
/// backward compatibility.
fn to_u64(v: &Value) -> Option<u64> {
    v.as_u64().or_else(|| v.as_i64().map(|i| i as u64))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn args(v: Value) -> Args {
        match v {
            Value::Object(m) => Args::new(m),
            _ => unreachable!(),
        }
    }

    #[test]
    fn texts() {
        let mut a = args(json!({"bps": "x", "foo": 1}));
        assert_eq!(a.req_i64("bps").unwrap_err().desc, "Invalid parameter type for 'bps', expected: integer");
        assert_eq!(a.req_str("node-name").unwrap_err().desc, "Parameter 'node-name' is missing");
        assert_eq!(a.finish().unwrap_err().desc, "Parameter 'foo' is unexpected");

        let mut a = args(json!({"driver": "nope", "cache": {"direct": 1}, "b": [1, "x"]}));
        assert_eq!(
            a.req_enum("driver", &[("raw", 0)]).unwrap_err().desc,
            "Parameter 'driver' does not accept value 'nope'"
        );
        let mut c = a.opt_object("cache").unwrap().unwrap();
        assert_eq!(
            c.opt_bool("direct").unwrap_err().desc,
            "Invalid parameter type for 'cache.direct', expected: boolean"
        );
        assert_eq!(a.opt_u64_list("b").unwrap_err().desc, "Invalid parameter type for 'b[1]', expected: integer");
    }
}
