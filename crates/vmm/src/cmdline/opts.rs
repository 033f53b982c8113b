//! Sub-options: `key=value,key=value` with `,,` as a literal comma, an
//! optional implied first key (`-machine pc` is `type=pc`), bare flags
//! (`server` = `server=on`, `nowait` = `wait=off`), and QEMU's value
//! syntaxes for booleans, numbers and sizes.

use super::error::{CmdlineError, Origin, Problem};

/// Split on single commas; `,,` is a literal comma. Empty items vanish.
pub fn split(s: &str) -> Vec<String> {
    let mut items = Vec::new();
    let mut cur = String::new();
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c == ',' {
            if chars.peek() == Some(&',') {
                chars.next();
                cur.push(',');
            } else {
                items.push(std::mem::take(&mut cur));
            }
        } else {
            cur.push(c);
        }
    }
    items.push(cur);
    items.retain(|i| !i.is_empty());
    items
}

/// QEMU's booleans.
pub fn parse_bool(s: &str) -> Option<bool> {
    match s {
        "on" | "yes" | "true" | "y" => Some(true),
        "off" | "no" | "false" | "n" => Some(false),
        _ => None,
    }
}

/// An unsigned integer in C's base-0 syntax: decimal, `0x` hex, `0` octal.
pub fn parse_u64(s: &str) -> Option<u64> {
    let s = s.trim();
    if let Some(hex) = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        return if hex.is_empty() { None } else { u64::from_str_radix(hex, 16).ok() };
    }
    if s.len() > 1 && s.starts_with('0') {
        return u64::from_str_radix(&s[1..], 8).ok();
    }
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// A size: a number (decimal, possibly fractional, or `0x` hex) with an
/// optional binary suffix b/k/M/G/T/P/E (any case). Without a suffix the
/// number is in `unit` bytes (1 for most sizes, 1 MiB for `-m`).
pub fn parse_size(s: &str, unit: u64) -> Option<u64> {
    let s = s.trim();
    let (num, mult) = match s.char_indices().last() {
        Some((i, c)) if c.is_ascii_alphabetic() && !s.starts_with("0x") && !s.starts_with("0X") => {
            let shift = match c.to_ascii_lowercase() {
                'b' => 0,
                'k' => 10,
                'm' => 20,
                'g' => 30,
                't' => 40,
                'p' => 50,
                'e' => 60,
                _ => return None,
            };
            (&s[..i], 1u64 << shift)
        }
        _ => (s, unit),
    };
    if num.starts_with("0x") || num.starts_with("0X") {
        return parse_u64(num)?.checked_mul(mult);
    }
    let (int, frac) = match num.split_once('.') {
        Some((i, f)) => (i, f),
        None => (num, ""),
    };
    if int.is_empty() || !int.bytes().all(|b| b.is_ascii_digit()) || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let whole = int.parse::<u64>().ok()?.checked_mul(mult)?;
    if frac.is_empty() {
        return Some(whole);
    }
    // Fractions are exact in 128 bits for the lengths anyone types.
    let frac = &frac[..frac.len().min(18)];
    let den = 10u128.pow(frac.len() as u32);
    let part = frac.parse::<u128>().ok()? * mult as u128 / den;
    whole.checked_add(u64::try_from(part).ok()?)
}

/// The parsed sub-options of one option, consumed key by key; whatever is
/// left at `finish` is an unknown key.
pub struct Opts<'a> {
    pub origin: &'a Origin,
    items: Vec<Item>,
}

struct Item {
    key: String,
    value: String,
    bare: bool,
    used: bool,
}

impl<'a> Opts<'a> {
    /// Parse `origin.arg`; a first item without `=` is the value of
    /// `implied` when given, else a bare flag.
    pub fn parse(origin: &'a Origin, implied: Option<&str>) -> Self {
        Self::parse_str(origin, &origin.arg, implied)
    }

    pub fn parse_str(origin: &'a Origin, s: &str, implied: Option<&str>) -> Self {
        let mut items = Vec::new();
        for (i, it) in split(s).into_iter().enumerate() {
            let item = match it.split_once('=') {
                Some((k, v)) => Item { key: k.to_string(), value: v.to_string(), bare: false, used: false },
                None => match implied {
                    Some(k) if i == 0 => Item { key: k.to_string(), value: it, bare: false, used: false },
                    _ => Item { key: it, value: "on".to_string(), bare: true, used: false },
                },
            };
            items.push(item);
        }
        Opts { origin, items }
    }

    pub fn err(&self, problem: Problem) -> CmdlineError {
        self.origin.err(problem)
    }

    /// The value of `key` (the last one wins, as QEMU's QemuOpts).
    pub fn take(&mut self, key: &str) -> Option<String> {
        let mut found = None;
        for it in self.items.iter_mut().filter(|it| it.key == key) {
            it.used = true;
            found = Some(it.value.clone());
        }
        found
    }

    /// A boolean; a bare `key` is on and a bare `nokey` is off.
    pub fn take_bool(&mut self, key: &str) -> Result<Option<bool>, CmdlineError> {
        let neg = format!("no{key}");
        let mut found = None;
        for it in self.items.iter_mut() {
            if it.key == key {
                it.used = true;
                let v = parse_bool(&it.value)
                    .ok_or_else(|| self.origin.err(Problem::BadBool { key: key.into(), value: it.value.clone() }))?;
                found = Some(v);
            } else if it.bare && it.key == neg {
                it.used = true;
                found = Some(false);
            }
        }
        Ok(found)
    }

    pub fn take_u64(&mut self, key: &str) -> Result<Option<u64>, CmdlineError> {
        match self.take(key) {
            None => Ok(None),
            Some(v) => {
                parse_u64(&v).map(Some).ok_or_else(|| self.err(Problem::BadNumber { key: key.into(), value: v }))
            }
        }
    }

    /// A number that must fit `T` (else a range error naming the key).
    pub fn take_num<T: TryFrom<u64>>(&mut self, key: &str) -> Result<Option<T>, CmdlineError> {
        match self.take_u64(key)? {
            None => Ok(None),
            Some(n) => T::try_from(n)
                .map(Some)
                .map_err(|_| self.err(Problem::Msg(format!("parameter '{key}' value {n} is out of range")))),
        }
    }

    pub fn take_size(&mut self, key: &str) -> Result<Option<u64>, CmdlineError> {
        match self.take(key) {
            None => Ok(None),
            Some(v) => {
                parse_size(&v, 1).map(Some).ok_or_else(|| self.err(Problem::BadSize { key: key.into(), value: v }))
            }
        }
    }

    /// An enumerated value: `f` maps the text, None = `invalid key= value`.
    pub fn take_enum<T>(&mut self, key: &str, f: impl Fn(&str) -> Option<T>) -> Result<Option<T>, CmdlineError> {
        match self.take(key) {
            None => Ok(None),
            Some(v) => f(&v).map(Some).ok_or_else(|| self.err(Problem::BadValue { key: key.into(), value: v })),
        }
    }

    /// Consume and ignore keys QEMU accepts but that change nothing here.
    pub fn ignore(&mut self, keys: &[&str]) {
        for k in keys {
            self.take(k);
        }
    }

    /// Fail on the first key nobody consumed.
    pub fn finish(self) -> Result<(), CmdlineError> {
        match self.items.iter().find(|it| !it.used) {
            Some(it) => Err(self.origin.err(Problem::UnknownKey(it.key.clone()))),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splitting_and_escapes() {
        assert_eq!(split("a=1,b=2"), ["a=1", "b=2"]);
        assert_eq!(split("file=a,,b.img,if=ide"), ["file=a,b.img", "if=ide"]);
        assert_eq!(split("file=a,,,,b"), ["file=a,,b"]);
        assert_eq!(split("a=1,"), ["a=1"]);
        assert!(split("").is_empty());
    }

    #[test]
    fn values() {
        assert_eq!(parse_u64("0x402"), Some(0x402));
        assert_eq!(parse_u64("010"), Some(8));
        assert_eq!(parse_u64("0"), Some(0));
        assert_eq!(parse_u64("12a"), None);
        assert_eq!(parse_u64("-1"), None);
        assert_eq!(parse_u64("0x"), None);
        assert_eq!(parse_size("64M", 1), Some(64 << 20));
        assert_eq!(parse_size("1G", 1), Some(1 << 30));
        assert_eq!(parse_size("1.5k", 1), Some(1536));
        assert_eq!(parse_size("128", 1 << 20), Some(128 << 20));
        assert_eq!(parse_size("4096", 1), Some(4096));
        assert_eq!(parse_size("0x1000", 1), Some(0x1000));
        assert_eq!(parse_size("16E", 1), None);
        assert_eq!(parse_size("1X", 1), None);
        assert_eq!(parse_size("", 1), None);
        assert_eq!(parse_size(".5", 1), None);
        for t in ["on", "yes", "true", "y"] {
            assert_eq!(parse_bool(t), Some(true));
        }
        for f in ["off", "no", "false", "n"] {
            assert_eq!(parse_bool(f), Some(false));
        }
        assert_eq!(parse_bool("1"), None);
    }

    #[test]
    fn implied_keys_flags_and_leftovers() {
        let o = Origin::new("-machine", "pc,accel=qtest");
        let mut opts = Opts::parse(&o, Some("type"));
        assert_eq!(opts.take("type").as_deref(), Some("pc"));
        assert_eq!(opts.take("accel").as_deref(), Some("qtest"));
        assert!(opts.finish().is_ok());

        let o = Origin::new("-qmp", "server,nowait");
        let mut opts = Opts::parse(&o, None);
        assert_eq!(opts.take_bool("server").unwrap(), Some(true));
        assert_eq!(opts.take_bool("wait").unwrap(), Some(false));
        assert!(opts.finish().is_ok());

        let o = Origin::new("-drive", "if=ide,bogus=1");
        let mut opts = Opts::parse(&o, None);
        opts.take("if");
        assert_eq!(opts.finish().unwrap_err().to_string(), "-drive if=ide,bogus=1: invalid parameter 'bogus'");

        let o = Origin::new("-drive", "readonly=maybe");
        let mut opts = Opts::parse(&o, None);
        assert_eq!(
            opts.take_bool("readonly").unwrap_err().to_string(),
            "-drive readonly=maybe: parameter 'readonly' expects 'on' or 'off', not 'maybe'"
        );
        let o = Origin::new("-device", "unit=300");
        let mut opts = Opts::parse(&o, None);
        assert!(opts.take_num::<u8>("unit").is_err());
    }
}
