//! Cache modes (`cache=` on -drive), as the three flags QEMU reports in
//! query-block's `cache` object.

/// The `cache=` shorthand.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum CacheMode {
    #[default]
    Writeback,
    None,
    Writethrough,
    Directsync,
    Unsafe,
}

/// What a cache mode means.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CacheFlags {
    /// The guest sees a volatile write cache (needs flushes). When false,
    /// every write is durable before it completes (opened with O_DSYNC).
    pub writeback: bool,
    /// Bypass the host page cache (O_DIRECT).
    pub direct: bool,
    /// Flush requests complete at once without touching the disk.
    pub no_flush: bool,
}

impl CacheMode {
    pub fn flags(self) -> CacheFlags {
        let (writeback, direct, no_flush) = match self {
            CacheMode::Writeback => (true, false, false),
            CacheMode::None => (true, true, false),
            CacheMode::Writethrough => (false, false, false),
            CacheMode::Directsync => (false, true, false),
            CacheMode::Unsafe => (true, false, true),
        };
        CacheFlags { writeback, direct, no_flush }
    }

    pub fn name(self) -> &'static str {
        match self {
            CacheMode::Writeback => "writeback",
            CacheMode::None => "none",
            CacheMode::Writethrough => "writethrough",
            CacheMode::Directsync => "directsync",
            CacheMode::Unsafe => "unsafe",
        }
    }

    pub const ALL: [CacheMode; 5] =
        [CacheMode::Writeback, CacheMode::None, CacheMode::Writethrough, CacheMode::Directsync, CacheMode::Unsafe];
}

impl std::str::FromStr for CacheMode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        CacheMode::ALL.into_iter().find(|m| m.name() == s).ok_or_else(|| format!("invalid cache option '{s}'"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_match_qemu() {
        let f = |m: CacheMode| {
            let c = m.flags();
            (c.writeback, c.direct, c.no_flush)
        };
        assert_eq!(f(CacheMode::Writeback), (true, false, false));
        assert_eq!(f(CacheMode::None), (true, true, false));
        assert_eq!(f(CacheMode::Writethrough), (false, false, false));
        assert_eq!(f(CacheMode::Directsync), (false, true, false));
        assert_eq!(f(CacheMode::Unsafe), (true, false, true));
        assert_eq!("none".parse::<CacheMode>(), Ok(CacheMode::None));
        assert!("bogus".parse::<CacheMode>().is_err());
    }
}
