//! Latency histograms with user-chosen boundaries (QMP
//! block-latency-histogram-set): `n` boundaries make `n + 1` bins covering
//! `[0, b0), [b0, b1), ..., [bn-1, +inf)`.

/// Why a boundary list was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HistogramError {
    #[error("histogram boundaries must be positive")]
    Zero,
    #[error("histogram boundaries must be strictly ascending")]
    NotAscending,
}

/// One latency histogram.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LatencyHistogram {
    boundaries: Vec<u64>,
    bins: Vec<u64>,
}

impl LatencyHistogram {
    /// Boundaries in nanoseconds: non-empty? QEMU accepts an empty list
    /// (one bin); each must be > 0 and strictly ascending.
    pub fn new(boundaries: Vec<u64>) -> Result<Self, HistogramError> {
        if boundaries.first() == Some(&0) {
            return Err(HistogramError::Zero);
        }
        if boundaries.windows(2).any(|w| w[0] >= w[1]) {
            return Err(HistogramError::NotAscending);
        }
        let bins = vec![0; boundaries.len() + 1];
        Ok(LatencyHistogram { boundaries, bins })
    }

    /// Count one latency. The bin is the number of boundaries <= `ns`.
    #[inline]
    pub fn record(&mut self, ns: u64) {
        let idx = self.boundaries.partition_point(|&b| b <= ns);
        // idx <= boundaries.len() < bins.len(): never out of bounds.
        if let Some(bin) = self.bins.get_mut(idx) {
            *bin += 1;
        }
    }

    pub fn boundaries(&self) -> &[u64] {
        &self.boundaries
    }

    pub fn bins(&self) -> &[u64] {
        &self.bins
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bins_cover_half_open_intervals() {
        let mut h = LatencyHistogram::new(vec![10, 50, 100]).unwrap();
        assert_eq!(h.bins().len(), 4);
        for ns in [0, 9, 10, 49, 50, 99, 100, 1_000_000, u64::MAX] {
            h.record(ns);
        }
        // [0,10): 0,9  [10,50): 10,49  [50,100): 50,99  [100,inf): 100, 1e6, MAX
        assert_eq!(h.bins(), &[2, 2, 2, 3]);
        assert_eq!(h.boundaries(), &[10, 50, 100]);
    }

    #[test]
    fn empty_boundaries_make_one_bin() {
        let mut h = LatencyHistogram::new(vec![]).unwrap();
        h.record(5);
        assert_eq!(h.bins(), &[1]);
    }

    #[test]
    fn rejects_bad_boundaries() {
        assert_eq!(LatencyHistogram::new(vec![0, 10]), Err(HistogramError::Zero));
        assert_eq!(LatencyHistogram::new(vec![10, 10]), Err(HistogramError::NotAscending));
        assert_eq!(LatencyHistogram::new(vec![10, 5]), Err(HistogramError::NotAscending));
    }
}
