//! `histogram`: the cost of recording one latency into a histogram with
//! user boundaries, as the block layer does on every completion.

use std::hint::black_box;
use std::time::Instant;

use ironide_block::stats::{AcctKind, BlockStats};
use serde_json::json;

use crate::harness::{round, Opts, Report};

pub fn run(opts: &Opts) -> std::io::Result<()> {
    let n: u64 = if opts.quick { 20_000_000 } else { 200_000_000 };
    let mut report =
        Report::new("histogram", &["boundaries", "ops", "ns/op (stats+histogram)", "ns/op (histogram only)"]);
    let mut headline = 0.0;
    for nb in [0usize, 4, 10, 32] {
        let boundaries: Vec<u64> = (1..=nb as u64).map(|i| i * 10_000).collect();
        let mut stats = BlockStats::default();
        stats.set_histogram(AcctKind::Read, Some(boundaries.clone())).ok();
        // Latencies spread over every bin, precomputed so the loop measures
        // recording only.
        let lat: Vec<u64> = (0..4096u64).map(|i| (i * 2654435761) % (nb as u64 * 10_000 + 20_000)).collect();
        let t = Instant::now();
        for i in 0..n {
            let l = lat[(i & 4095) as usize];
            stats.account_done(AcctKind::Read, 4096, black_box(l), false, i);
        }
        let full = t.elapsed().as_nanos() as f64 / n as f64;
        black_box(&stats);
        let mut h = ironide_block::stats::LatencyHistogram::new(boundaries).unwrap_or_else(|_| unreachable!());
        let t = Instant::now();
        for i in 0..n {
            h.record(black_box(lat[(i & 4095) as usize]));
        }
        let only = t.elapsed().as_nanos() as f64 / n as f64;
        black_box(&h);
        if nb == 10 {
            headline = full;
        }
        report.row(
            vec![nb.to_string(), n.to_string(), format!("{full:.2}"), format!("{only:.2}")],
            json!({"boundaries": nb, "ops": n, "ns_per_op": round(full, 3), "histogram_only_ns": round(only, 3)}),
        );
    }
    report.summary("ns_per_op", round(headline, 3));
    report
        .note("ns_per_op = one completion accounted (counters + latency histogram with 10 boundaries); goal <= 20 ns");
    report.finish(opts)?;
    Ok(())
}
