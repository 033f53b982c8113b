//! Per-backend I/O accounting: every field of QEMU's BlockDeviceStats.
//!
//! The block layer is driven from one thread, so the counters are plain
//! integers updated through `&mut`: recording costs a few additions and, with
//! a histogram, one binary search — no lock, no atomic.

use super::histogram::{HistogramError, LatencyHistogram};
use crate::request::Op;

/// The accounting classes (QEMU's BLOCK_ACCT_READ/WRITE/FLUSH/UNMAP).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AcctKind {
    Read = 0,
    Write = 1,
    Flush = 2,
    Unmap = 3,
}

impl From<Op> for AcctKind {
    fn from(op: Op) -> Self {
        match op {
            Op::Read => AcctKind::Read,
            Op::Write => AcctKind::Write,
            Op::Flush => AcctKind::Flush,
            Op::Discard => AcctKind::Unmap,
        }
    }
}

/// Counters for one accounting class.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct OpCounters {
    pub bytes: u64,
    pub operations: u64,
    pub total_time_ns: u64,
    pub merged: u64,
    pub failed: u64,
    pub invalid: u64,
}

/// Everything query-blockstats reports for one backend.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BlockStats {
    pub ops: [OpCounters; 4],
    pub wr_highest_offset: u64,
    /// Time of the last accounted I/O (absent before the first one).
    pub last_access_ns: Option<u64>,
    pub account_invalid: bool,
    pub account_failed: bool,
    /// rd, wr, flush latency histograms (unmap has none in QMP).
    pub histograms: [Option<LatencyHistogram>; 3],
}

impl Default for BlockStats {
    fn default() -> Self {
        BlockStats {
            ops: [OpCounters::default(); 4],
            wr_highest_offset: 0,
            last_access_ns: None,
            account_invalid: true,
            account_failed: true,
            histograms: [None, None, None],
        }
    }
}

impl BlockStats {
    pub fn get(&self, kind: AcctKind) -> &OpCounters {
        &self.ops[kind as usize]
    }

    /// A request finished (successfully or not). `latency_ns` runs from
    /// submission to completion, throttle wait included.
    #[inline]
    pub fn account_done(&mut self, kind: AcctKind, bytes: u64, latency_ns: u64, failed: bool, now_ns: u64) {
        let c = &mut self.ops[kind as usize];
        if failed {
            c.failed += 1;
        } else {
            c.bytes += bytes;
            c.operations += 1;
        }
        if !failed || self.account_failed {
            c.total_time_ns += latency_ns;
            self.last_access_ns = Some(now_ns);
        }
        if let Some(Some(h)) = self.histograms.get_mut(kind as usize) {
            h.record(latency_ns);
        }
    }

    /// A request refused before reaching the backend (bad range, read-only).
    pub fn account_invalid(&mut self, kind: AcctKind, now_ns: u64) {
        self.ops[kind as usize].invalid += 1;
        if self.account_invalid {
            self.last_access_ns = Some(now_ns);
        }
    }

    /// A write reached `end` (offset + length), successful or not yet done.
    #[inline]
    pub fn note_write_end(&mut self, end: u64) {
        self.wr_highest_offset = self.wr_highest_offset.max(end);
    }

    /// `idle_time_ns` as QMP reports it.
    pub fn idle_time_ns(&self, now_ns: u64) -> Option<u64> {
        self.last_access_ns.map(|t| now_ns.saturating_sub(t))
    }

    /// Install, replace or remove the histogram of one class (read, write
    /// or flush). Counts restart from zero, as in QEMU.
    pub fn set_histogram(&mut self, kind: AcctKind, boundaries: Option<Vec<u64>>) -> Result<(), HistogramError> {
        let slot = match self.histograms.get_mut(kind as usize) {
            Some(s) => s,
            None => return Ok(()), // unmap has no histogram
        };
        *slot = match boundaries {
            Some(b) => Some(LatencyHistogram::new(b)?),
            None => None,
        };
        Ok(())
    }

    pub fn histogram(&self, kind: AcctKind) -> Option<&LatencyHistogram> {
        self.histograms.get(kind as usize).and_then(|h| h.as_ref())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn success_failure_and_invalid_counts() {
        let mut s = BlockStats::default();
        assert_eq!(s.idle_time_ns(10), None);
        s.account_done(AcctKind::Read, 4096, 100, false, 1000);
        s.account_done(AcctKind::Read, 4096, 50, true, 2000);
        s.account_invalid(AcctKind::Write, 3000);
        let r = s.get(AcctKind::Read);
        assert_eq!((r.bytes, r.operations, r.failed, r.total_time_ns), (4096, 1, 1, 150));
        assert_eq!(s.get(AcctKind::Write).invalid, 1);
        assert_eq!(s.idle_time_ns(3500), Some(500));
    }

    #[test]
    fn failed_time_not_counted_without_account_failed() {
        let mut s = BlockStats { account_failed: false, ..Default::default() };
        s.account_done(AcctKind::Write, 512, 70, true, 5);
        assert_eq!(s.get(AcctKind::Write).total_time_ns, 0);
        assert_eq!(s.last_access_ns, None);
    }

    #[test]
    fn highest_offset_is_a_maximum() {
        let mut s = BlockStats::default();
        s.note_write_end(8192);
        s.note_write_end(512);
        assert_eq!(s.wr_highest_offset, 8192);
    }

    #[test]
    fn histograms_per_class() {
        let mut s = BlockStats::default();
        s.set_histogram(AcctKind::Read, Some(vec![100, 1000])).unwrap();
        s.account_done(AcctKind::Read, 1, 99, false, 0);
        s.account_done(AcctKind::Read, 1, 100, false, 0);
        s.account_done(AcctKind::Read, 1, 5000, true, 0);
        s.account_done(AcctKind::Write, 1, 5000, false, 0);
        assert_eq!(s.histogram(AcctKind::Read).unwrap().bins(), &[1, 1, 1]);
        assert!(s.histogram(AcctKind::Write).is_none());
        assert!(s.set_histogram(AcctKind::Flush, Some(vec![5, 5])).is_err());
        s.set_histogram(AcctKind::Read, None).unwrap();
        assert!(s.histogram(AcctKind::Read).is_none());
        // unmap has no histogram: setting one is a no-op
        s.set_histogram(AcctKind::Unmap, Some(vec![1])).unwrap();
    }
}
