//! Calendar arithmetic for the RTC: Unix seconds <-> broken-down UTC time,
//! and the register encodings (BCD or binary).

/// A broken-down UTC time as the RTC keeps it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RtcTime {
    pub year: u32,
    /// 1-12
    pub month: u32,
    /// 1-31
    pub day: u32,
    pub hour: u32,
    pub min: u32,
    pub sec: u32,
    /// 1 = Sunday .. 7 = Saturday (the MC146818 convention).
    pub weekday: u32,
}

/// Days since 1970-01-01 of a proleptic Gregorian date (month 1-12).
pub fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = month as i64;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + day as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The date of a day count since 1970-01-01: (year, month, day).
pub fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

impl RtcTime {
    /// The time `secs` seconds after the Unix epoch (clamped to year 0..9999).
    pub fn from_unix(secs: i64) -> Self {
        let secs = secs.clamp(days_from_civil(0, 1, 1) * 86_400, days_from_civil(9999, 12, 31) * 86_400 + 86_399);
        let days = secs.div_euclid(86_400);
        let rem = secs.rem_euclid(86_400) as u32;
        let (year, month, day) = civil_from_days(days);
        // 1970-01-01 was a Thursday (weekday 5 counting Sunday as 1).
        let weekday = ((days + 4).rem_euclid(7) + 1) as u32;
        RtcTime { year: year as u32, month, day, hour: rem / 3600, min: rem / 60 % 60, sec: rem % 60, weekday }
    }

    /// Seconds since the Unix epoch; out-of-range fields are clamped to valid ones.
    pub fn to_unix(&self) -> i64 {
        let days = days_from_civil(self.year as i64, self.month.clamp(1, 12), self.day.clamp(1, 31));
        days * 86_400 + self.hour.min(23) as i64 * 3600 + self.min.min(59) as i64 * 60 + self.sec.min(59) as i64
    }
}

pub fn to_bcd(v: u32) -> u8 {
    let v = v % 100;
    (((v / 10) << 4) | (v % 10)) as u8
}

/// Decodes leniently: a nibble above 9 still counts for what it is.
pub fn from_bcd(v: u8) -> u32 {
    (v >> 4) as u32 * 10 + (v & 0x0F) as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_dates() {
        let t = RtcTime::from_unix(0);
        assert_eq!((t.year, t.month, t.day, t.weekday), (1970, 1, 1, 5));
        // 2024-02-29 12:34:56 UTC, a Thursday.
        let t = RtcTime::from_unix(1_709_210_096);
        assert_eq!((t.year, t.month, t.day, t.hour, t.min, t.sec, t.weekday), (2024, 2, 29, 12, 34, 56, 5));
        assert_eq!(t.to_unix(), 1_709_210_096);
        assert_eq!(civil_from_days(days_from_civil(2000, 3, 1)), (2000, 3, 1));
    }

    #[test]
    fn bcd() {
        assert_eq!(to_bcd(59), 0x59);
        assert_eq!(from_bcd(0x59), 59);
        assert_eq!(from_bcd(0xFF), 165);
    }
}
