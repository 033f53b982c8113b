//! Numbers as the qtest client writes them: C's `strtoul(s, NULL, 0)` rules
//! (0x hex, leading-0 octal, decimal), with the whole word required.

use thiserror::Error;

#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("invalid number '{0}'")]
pub struct BadNumber(pub String);

/// Parses an unsigned number; a leading '-' negates modulo 2^64 as strtoul does.
pub fn parse_u64(word: &str) -> Result<u64, BadNumber> {
    let bad = || BadNumber(word.to_string());
    let (negative, digits) = match word.as_bytes().first() {
        Some(b'-') => (true, &word[1..]),
        Some(b'+') => (false, &word[1..]),
        _ => (false, word),
    };
    let (radix, body) = if let Some(hex) = digits.strip_prefix("0x").or_else(|| digits.strip_prefix("0X")) {
        (16, hex)
    } else if digits.len() > 1 && digits.starts_with('0') {
        (8, &digits[1..])
    } else {
        (10, digits)
    };
    // from_str_radix would accept another sign here; the C parser would not.
    if body.is_empty() || !body.bytes().all(|b| (b as char).is_digit(radix)) {
        return Err(bad());
    }
    let value = u64::from_str_radix(body, radix).map_err(|_| bad())?;
    Ok(if negative { value.wrapping_neg() } else { value })
}

/// Parses a signed number with the same prefixes (`strtoll(s, NULL, 0)`).
pub fn parse_i64(word: &str) -> Result<i64, BadNumber> {
    let bad = || BadNumber(word.to_string());
    let (negative, digits) = match word.as_bytes().first() {
        Some(b'-') => (true, &word[1..]),
        Some(b'+') => (false, &word[1..]),
        _ => (false, word),
    };
    if digits.starts_with(['-', '+']) {
        return Err(bad());
    }
    let magnitude = parse_u64(digits)?;
    if negative {
        if magnitude > i64::MIN.unsigned_abs() {
            return Err(bad());
        }
        Ok(0i64.wrapping_sub_unsigned(magnitude))
    } else {
        i64::try_from(magnitude).map_err(|_| bad())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn radixes() {
        assert_eq!(parse_u64("0x1F0"), Ok(0x1f0));
        assert_eq!(parse_u64("0X1f"), Ok(0x1f));
        assert_eq!(parse_u64("496"), Ok(496));
        assert_eq!(parse_u64("0760"), Ok(0o760));
        assert_eq!(parse_u64("0"), Ok(0));
        assert_eq!(parse_u64("0xffffffffffffffff"), Ok(u64::MAX));
    }

    #[test]
    fn signs() {
        assert_eq!(parse_u64("-1"), Ok(u64::MAX));
        assert_eq!(parse_u64("+7"), Ok(7));
        assert_eq!(parse_i64("-0x10"), Ok(-16));
        assert_eq!(parse_i64("-9223372036854775808"), Ok(i64::MIN));
        assert!(parse_i64("9223372036854775808").is_err());
        assert!(parse_i64("--1").is_err());
    }

    #[test]
    fn rejects_garbage() {
        for w in ["", "0x", "x10", "12a", "0x1g", "08", "1 ", "-", "+-1", "0x-1", "0x+1", "18446744073709551616"] {
            assert!(parse_u64(w).is_err(), "{w:?}");
        }
    }
}
