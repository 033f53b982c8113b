//! Accounting and latency histograms (being written).
