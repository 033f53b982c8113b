//! The `fault-inject` driver: ironide's counterpart of QEMU's blkdebug.
//!
//! A list of rules is checked before each request reaches the engine. The
//! first rule whose operation matches and whose byte range overlaps the
//! request fires: the request is delayed by `delay_ns`, then fails with
//! `errno` (or proceeds normally when there is no errno). A rule fires
//! `count` times, or forever when `count` is 0.
//!
//! JSON form (one object per rule, kebab-case keys):
//! `{"iotype": "write", "errno": "ENOSPC", "offset": 0, "length": 4096,
//!   "count": 1, "delay-ns": 0}`. Only `iotype` is required. A missing
//! `errno` means EIO, unless `delay-ns` is given (then the rule only
//! delays); `"errno": 0` explicitly means "no error".

use serde::Deserialize;

use crate::error::OpenError;
use crate::request::Op;

/// One fault rule.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(try_from = "RawFaultRule")]
pub struct FaultRule {
    pub op: Op,
    /// Error to fail with; `None` = delay only.
    pub errno: Option<i32>,
    pub offset: u64,
    /// Bytes covered from `offset`; 0 = to the end of the node.
    pub length: u64,
    /// How many times the rule fires; 0 = forever.
    pub count: u64,
    pub delay_ns: u64,
}

impl FaultRule {
    /// Whether the rule covers a request on `[offset, offset + len)`. Flush
    /// has no range and always matches; a zero-length request matches when
    /// its offset lies inside the rule's range.
    fn covers(&self, op: Op, offset: u64, len: u64) -> bool {
        if op != self.op {
            return false;
        }
        if op == Op::Flush {
            return true;
        }
        let rule_end = if self.length == 0 { u64::MAX } else { self.offset.saturating_add(self.length) };
        let req_end = offset.saturating_add(len.max(1));
        offset < rule_end && self.offset < req_end
    }
}

/// What to do with one request.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FaultAction {
    /// Fail the request with this errno (after the delay).
    pub errno: Option<i32>,
    /// Hold the request this long before it proceeds or fails.
    pub delay_ns: u64,
}

impl FaultAction {
    pub fn is_none(&self) -> bool {
        self.errno.is_none() && self.delay_ns == 0
    }
}

#[derive(Debug, Clone)]
struct Armed {
    rule: FaultRule,
    /// Firings left; `None` = unlimited.
    left: Option<u64>,
}

/// The rules of one fault-inject node, with their remaining counts.
#[derive(Debug, Clone, Default)]
pub struct FaultRules {
    rules: Vec<Armed>,
}

impl FaultRules {
    pub fn new(rules: Vec<FaultRule>) -> Self {
        let rules = rules
            .into_iter()
            .map(|rule| {
                let left = (rule.count != 0).then_some(rule.count);
                Armed { rule, left }
            })
            .collect();
        FaultRules { rules }
    }

    /// Consults the rules for one request; the first live matching rule
    /// fires and uses up one of its firings.
    pub fn check(&mut self, op: Op, offset: u64, len: u64) -> FaultAction {
        let Some(i) = self.rules.iter().position(|a| a.left != Some(0) && a.rule.covers(op, offset, len)) else {
            return FaultAction::default();
        };
        let armed = &mut self.rules[i];
        if let Some(left) = armed.left.as_mut() {
            *left -= 1;
        }
        FaultAction { errno: armed.rule.errno, delay_ns: armed.rule.delay_ns }
    }

    /// Rules that can still fire.
    pub fn live(&self) -> usize {
        self.rules.iter().filter(|a| a.left != Some(0)).count()
    }

    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }
}

const ERRNO_NAMES: &[(&str, i32)] = &[
    ("EPERM", libc::EPERM),
    ("ENOENT", libc::ENOENT),
    ("EINTR", libc::EINTR),
    ("EIO", libc::EIO),
    ("ENXIO", libc::ENXIO),
    ("EBADF", libc::EBADF),
    ("EAGAIN", libc::EAGAIN),
    ("ENOMEM", libc::ENOMEM),
    ("EACCES", libc::EACCES),
    ("EFAULT", libc::EFAULT),
    ("EBUSY", libc::EBUSY),
    ("EEXIST", libc::EEXIST),
    ("ENODEV", libc::ENODEV),
    ("EINVAL", libc::EINVAL),
    ("EFBIG", libc::EFBIG),
    ("ENOSPC", libc::ENOSPC),
    ("ESPIPE", libc::ESPIPE),
    ("EROFS", libc::EROFS),
    ("EPIPE", libc::EPIPE),
    ("ENOTSUP", libc::ENOTSUP),
    ("EOPNOTSUPP", libc::EOPNOTSUPP),
    ("ETIMEDOUT", libc::ETIMEDOUT),
    ("ESTALE", libc::ESTALE),
    ("EDQUOT", libc::EDQUOT),
    ("ECANCELED", libc::ECANCELED),
    ("ENOMEDIUM", libc::ENOMEDIUM),
    ("EMEDIUMTYPE", libc::EMEDIUMTYPE),
];

/// Largest value the kernel uses as an errno.
const MAX_ERRNO: i32 = 4095;

/// An errno by name ("EIO", case-insensitive) or number ("5", 1..=4095).
pub fn parse_errno(s: &str) -> Result<i32, OpenError> {
    let t = s.trim();
    if let Some(&(_, n)) = ERRNO_NAMES.iter().find(|(name, _)| name.eq_ignore_ascii_case(t)) {
        return Ok(n);
    }
    match t.parse::<i32>() {
        Ok(n) if (1..=MAX_ERRNO).contains(&n) => Ok(n),
        _ => Err(OpenError::Invalid(format!("Invalid errno '{s}'"))),
    }
}

/// The `iotype` of a rule: "read", "write", "flush" or "discard".
pub fn parse_iotype(s: &str) -> Result<Op, OpenError> {
    [Op::Read, Op::Write, Op::Flush, Op::Discard]
        .into_iter()
        .find(|op| op.name() == s)
        .ok_or_else(|| OpenError::Invalid(format!("Invalid iotype '{s}': expected read, write, flush or discard")))
}

#[derive(Deserialize)]
#[serde(untagged)]
enum ErrnoValue {
    Number(i64),
    Name(String),
}

#[derive(Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
struct RawFaultRule {
    iotype: String,
    #[serde(default)]
    errno: Option<ErrnoValue>,
    #[serde(default)]
    offset: u64,
    #[serde(default)]
    length: u64,
    #[serde(default)]
    count: u64,
    #[serde(default)]
    delay_ns: Option<u64>,
}

impl TryFrom<RawFaultRule> for FaultRule {
    type Error = OpenError;
    fn try_from(r: RawFaultRule) -> Result<Self, OpenError> {
        let op = parse_iotype(&r.iotype)?;
        let errno = match r.errno {
            None if r.delay_ns.is_some() => None,
            None => Some(libc::EIO),
            Some(ErrnoValue::Number(0)) => None,
            Some(ErrnoValue::Number(n)) => match i32::try_from(n) {
                Ok(n) if (1..=MAX_ERRNO).contains(&n) => Some(n),
                _ => return Err(OpenError::Invalid(format!("Invalid errno '{n}'"))),
            },
            Some(ErrnoValue::Name(s)) => Some(parse_errno(&s)?),
        };
        Ok(FaultRule {
            op,
            errno,
            offset: r.offset,
            length: r.length,
            count: r.count,
            delay_ns: r.delay_ns.unwrap_or(0),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(op: Op, errno: Option<i32>, offset: u64, length: u64, count: u64) -> FaultRule {
        FaultRule { op, errno, offset, length, count, delay_ns: 0 }
    }

    #[test]
    fn overlap_and_counts() {
        let mut r = FaultRules::new(vec![
            rule(Op::Write, Some(libc::ENOSPC), 4096, 4096, 2),
            rule(Op::Write, Some(libc::EIO), 0, 0, 0),
        ]);
        // Ends exactly where the first rule starts: only the catch-all.
        assert_eq!(r.check(Op::Write, 0, 4096).errno, Some(libc::EIO));
        assert_eq!(r.check(Op::Write, 8191, 1).errno, Some(libc::ENOSPC));
        assert_eq!(r.check(Op::Write, 0, 4097).errno, Some(libc::ENOSPC));
        // Exhausted: falls through to the forever rule.
        assert_eq!(r.check(Op::Write, 4096, 512).errno, Some(libc::EIO));
        assert_eq!(r.live(), 1);
        assert!(r.check(Op::Read, 4096, 512).is_none());
        assert!(r.check(Op::Flush, 0, 0).is_none());
    }

    #[test]
    fn flush_delay_and_edges() {
        let mut r = FaultRules::new(vec![
            FaultRule { op: Op::Flush, errno: None, offset: 1 << 40, length: 1, count: 1, delay_ns: 5 },
            rule(Op::Discard, Some(libc::EIO), u64::MAX - 10, 0, 0),
        ]);
        assert_eq!(r.check(Op::Flush, 0, 0), FaultAction { errno: None, delay_ns: 5 });
        assert!(r.check(Op::Flush, 0, 0).is_none());
        assert_eq!(r.check(Op::Discard, u64::MAX - 1, 100).errno, Some(libc::EIO));
        assert!(r.check(Op::Discard, 0, u64::MAX - 11).is_none());
        assert!(FaultRules::new(vec![]).is_empty());
    }

    #[test]
    fn errno_parsing() {
        assert_eq!(parse_errno("EIO").unwrap(), libc::EIO);
        assert_eq!(parse_errno("enospc").unwrap(), libc::ENOSPC);
        assert_eq!(parse_errno("28").unwrap(), 28);
        assert_eq!(parse_errno("EWHAT").unwrap_err().to_string(), "Invalid errno 'EWHAT'");
        assert!(parse_errno("0").is_err());
        assert!(parse_errno("-5").is_err());
        assert!(parse_iotype("write").is_ok());
        assert!(parse_iotype("trim").is_err());
    }
}
