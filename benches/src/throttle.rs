//! `throttle`: configured vs achieved rate of our throttle on real time
//! (RealClock) with a real file workload, and the same limits and workload
//! on QEMU's throttle (qemu-io with a throttle filter node) in the same run.
//!
//! Workload: closed loop, a fixed number of reads in flight, on a 64 MiB
//! file that sits in the page cache (no O_DIRECT), so the backend is far
//! faster than the limit. Achieved rate = steady state from completion
//! timestamps over the window after the first `STEADY_FROM` of the run,
//! which skips the initial burst capacity of the buckets.
//!
//! QEMU side: `stdbuf -oL qemu-io -r --object throttle-group,... --image-opts
//! driver=throttle,...` fed on stdin. We keep the same number of `aio_read`
//! commands outstanding: one new command per completion line ("read N/N
//! bytes at offset ..."), which line-buffered stdout delivers as it
//! happens, so QEMU gets completion timestamps exactly like ours. We never
//! use `aio_flush` or let the run end in `quit` with requests queued: both
//! drain the node, and QEMU's throttle filter lifts its limits while
//! draining. The process is killed at the end of the window instead.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ironide_block::engine::AioMode;
use ironide_block::layer::{BackendId, BlockLayer, NodeSpec};
use ironide_block::throttle::{BucketKind, Limit, ThrottleConfig};
use ironide_block::{AlignedBuf, RealClock, Request};
use serde_json::{json, Value};

use crate::harness::{bench_dir, data_file, round, which, Opts, Report};

const FILE_SIZE: u64 = 64 << 20;
/// Steady state starts after this fraction of the run.
const STEADY_FROM: f64 = 0.3;
/// A point counts as limited by the machine if the unthrottled rate is
/// below this multiple of the configured one.
const MACHINE_MARGIN: f64 = 1.1;

#[derive(Clone, Copy, PartialEq)]
enum Unit {
    Bps,
    Iops,
}

struct Case {
    name: &'static str,
    unit: Unit,
    rate: u64,
    bs: u64,
    qd: usize,
    /// In the --quick subset.
    quick: bool,
    /// Also run unthrottled, to tell a slow machine from a bad throttle.
    baseline: bool,
}

const CASES: &[Case] = &[
    Case { name: "bps 1MB/s", unit: Unit::Bps, rate: 1_000_000, bs: 64 << 10, qd: 4, quick: false, baseline: false },
    Case { name: "bps 10MB/s", unit: Unit::Bps, rate: 10_000_000, bs: 64 << 10, qd: 8, quick: true, baseline: false },
    Case {
        name: "bps 100MB/s",
        unit: Unit::Bps,
        rate: 100_000_000,
        bs: 64 << 10,
        qd: 16,
        quick: true,
        baseline: false,
    },
    Case { name: "bps 1GB/s", unit: Unit::Bps, rate: 1_000_000_000, bs: 1 << 20, qd: 16, quick: true, baseline: true },
    Case { name: "iops 10", unit: Unit::Iops, rate: 10, bs: 4096, qd: 4, quick: false, baseline: false },
    Case { name: "iops 100", unit: Unit::Iops, rate: 100, bs: 4096, qd: 8, quick: true, baseline: false },
    Case { name: "iops 1k", unit: Unit::Iops, rate: 1_000, bs: 4096, qd: 16, quick: false, baseline: false },
    Case { name: "iops 10k", unit: Unit::Iops, rate: 10_000, bs: 4096, qd: 32, quick: true, baseline: true },
    Case { name: "iops 100k", unit: Unit::Iops, rate: 100_000, bs: 4096, qd: 128, quick: true, baseline: true },
];

/// The burst case: bps 10 MB/s, bps_max 50 MB/s for 2 s, 64 KiB reads.
const BURST_AVG: u64 = 10_000_000;
const BURST_MAX: u64 = 50_000_000;
const BURST_LEN: u64 = 2;
const BURST_BS: u64 = 64 << 10;
const BURST_QD: usize = 16;
const BIN: f64 = 0.1;

/// The group case: 3 members sharing iops 3000.
const GROUP_IOPS: u64 = 3000;
const GROUP_MEMBERS: usize = 3;
const GROUP_QD: usize = 16;

pub fn run(opts: &Opts) -> std::io::Result<()> {
    let secs = if opts.quick { 1.5 } else { 5.0 };
    let dur = Duration::from_secs_f64(secs);
    let dir = bench_dir();
    std::fs::create_dir_all(&dir)?;
    let files: Vec<PathBuf> = (0..GROUP_MEMBERS).map(|i| dir.join(format!("throttle-{i}.img"))).collect();
    for f in &files {
        prepare(f)?;
    }
    let qemu = Qemu::find(&dir);
    let mut report = Report::new(
        "throttle",
        &["case", "configured", "ours achieved", "ours err %", "qemu achieved", "qemu err %", "note"],
    );
    if let Err(e) = &qemu {
        report.note(format!("QEMU side skipped: {e}"));
    }

    // ---- plain limits ----------------------------------------------------
    let mut ours_max: Option<f64> = None;
    let mut qemu_max: Option<f64> = None;
    for c in CASES.iter().filter(|c| !opts.quick || c.quick) {
        let cfg = plain_config(c);
        let (from, to) = (secs * STEADY_FROM, secs);
        let to_unit = |ops_per_s: f64| ops_per_s * if c.unit == Unit::Bps { c.bs as f64 } else { 1.0 };
        let ours = run_ours(&files[..1], Some(&cfg), c.bs, c.qd, dur)?;
        let ours_rate = steady_rate(&ours[0], from, to).map(to_unit);
        let qemu_res =
            qemu.as_ref().map_err(|e| e.clone()).and_then(|q| q.run(&files[0], &qemu_props(&cfg), c.bs, c.qd, dur));
        let qemu_rate = qemu_res.as_ref().ok().and_then(|t| steady_rate(t, from, to)).map(to_unit);

        // Unthrottled baseline for the points a busy 2-core box may not reach.
        let (mut ours_limited, mut qemu_limited) = (false, false);
        let mut note = String::new();
        if c.baseline {
            let bdur = Duration::from_secs_f64(secs.min(1.5));
            let b = bdur.as_secs_f64();
            let ob = run_ours(&files[..1], None, c.bs, c.qd, bdur)?;
            let ob = steady_rate(&ob[0], b * STEADY_FROM, b).map(to_unit);
            let qb = qemu.as_ref().ok().and_then(|q| q.run(&files[0], "", c.bs, c.qd, bdur).ok());
            let qb = qb.and_then(|t| steady_rate(&t, b * STEADY_FROM, b)).map(to_unit);
            ours_limited = ob.is_some_and(|x| x < c.rate as f64 * MACHINE_MARGIN);
            qemu_limited = qb.is_some_and(|x| x < c.rate as f64 * MACHINE_MARGIN);
            note = format!("unthrottled: ours {}, qemu {}", fmt_rate(c.unit, ob), fmt_rate(c.unit, qb));
            if ours_limited || qemu_limited {
                note.push_str(" -> machine-limited (*), excluded from max");
            }
        }
        if let Err(e) = &qemu_res {
            if qemu.is_ok() {
                note.push_str(&format!(" qemu failed: {e}"));
            }
        }
        let err = |r: Option<f64>| r.map(|r| (r - c.rate as f64) / c.rate as f64 * 100.0);
        let (oe, qe) = (err(ours_rate), err(qemu_rate));
        if !ours_limited {
            ours_max = max_abs(ours_max, oe);
        }
        if !qemu_limited {
            qemu_max = max_abs(qemu_max, qe);
        }
        let star = |limited: bool| if limited { "*" } else { "" };
        report.row(
            vec![
                c.name.to_string(),
                fmt_rate(c.unit, Some(c.rate as f64)),
                fmt_rate(c.unit, ours_rate),
                fmt_err(oe) + star(ours_limited),
                fmt_rate(c.unit, qemu_rate),
                fmt_err(qe) + star(qemu_limited),
                note.trim().to_string(),
            ],
            json!({
                "case": c.name, "unit": if c.unit == Unit::Bps { "B/s" } else { "IOPS" },
                "configured": c.rate, "bs": c.bs, "qd": c.qd, "secs": secs,
                "ours_achieved": ours_rate.map(|r| round(r, 2)), "ours_error_pct": oe.map(|e| round(e, 3)),
                "qemu_achieved": qemu_rate.map(|r| round(r, 2)), "qemu_error_pct": qe.map(|e| round(e, 3)),
                "ours_machine_limited": ours_limited, "qemu_machine_limited": qemu_limited,
                "qemu_error": qemu_res.as_ref().err(),
            }),
        );
    }
    report.summary("max_error_pct", ours_max.map(|e| Value::from(round(e, 3))).unwrap_or(Value::Null));
    report.summary("qemu_max_error_pct", qemu_max.map(|e| Value::from(round(e, 3))).unwrap_or(Value::Null));

    // ---- burst -----------------------------------------------------------
    let bsecs = if opts.quick { 5.0 } else { 8.0 };
    burst(&mut report, opts, &files[0], qemu.as_ref().ok(), bsecs)?;

    // ---- group -----------------------------------------------------------
    group(&mut report, &files, secs)?;

    report.note(format!(
        "page-cached {} MiB files, closed loop; {secs} s per point; steady state = completions after the first {:.0}% of the run, rate = (n-1)/(t_last-t_first)",
        FILE_SIZE >> 20,
        STEADY_FROM * 100.0
    ));
    report.note("QEMU: qemu-io 'aio_read' commands on stdin, one per completion line (stdbuf -oL), killed at the end (no drain: QEMU's throttle node lifts limits while draining)");
    report.finish(opts)?;
    for f in &files {
        let _ = std::fs::remove_file(f);
    }
    Ok(())
}

fn plain_config(c: &Case) -> ThrottleConfig {
    let mut cfg = ThrottleConfig::default();
    let k = if c.unit == Unit::Bps { BucketKind::BpsTotal } else { BucketKind::IopsTotal };
    cfg.limit_mut(k).avg = c.rate;
    cfg
}

/// `x-...` properties of a QEMU throttle-group object for `cfg` (total limits only).
fn qemu_props(cfg: &ThrottleConfig) -> String {
    let mut p = Vec::new();
    for (k, name) in [(BucketKind::BpsTotal, "bps-total"), (BucketKind::IopsTotal, "iops-total")] {
        let l = cfg.limit(k);
        if l.avg != 0 {
            p.push(format!("x-{name}={}", l.avg));
        }
        if l.max != 0 {
            p.push(format!("x-{name}-max={}", l.max));
            p.push(format!("x-{name}-max-length={}", l.max_length));
        }
    }
    p.join(",")
}

// ---- the burst case ------------------------------------------------------

fn burst(report: &mut Report, opts: &Opts, file: &Path, qemu: Option<&Qemu>, secs: f64) -> std::io::Result<()> {
    let mut cfg = ThrottleConfig::default();
    *cfg.limit_mut(BucketKind::BpsTotal) = Limit { avg: BURST_AVG, max: BURST_MAX, max_length: BURST_LEN };
    let dur = Duration::from_secs_f64(secs);
    let ours = run_ours(&[file.to_path_buf()], Some(&cfg), BURST_BS, BURST_QD, dur)?;
    let ours = &ours[0];
    let qemu_res = match qemu {
        Some(q) => q.run(file, &qemu_props(&cfg), BURST_BS, BURST_QD, dur),
        None => Err("no qemu-io".to_string()),
    };
    let qemu_t = qemu_res.as_ref().ok();

    // Theory (QEMU's meter): the burst-rate bucket (max/10) lets max/10
    // through at once, then the main bucket (max * max_length) fills at
    // max - avg, so the burst phase lasts (max*len - max/10) / (max - avg)
    // and the excess volume over the avg line is max * max_length.
    let (avg, max) = (BURST_AVG as f64, BURST_MAX as f64);
    let capacity = max * BURST_LEN as f64;
    let t_burst = (capacity - max / 10.0) / (max - avg);
    // Burst-phase rate: skip the first 0.3 s (initial max/10 spike) and
    // stop 0.3 s before the theoretical end.
    let (b_from, b_to) = (0.3, t_burst - 0.3);
    let (s_from, s_to) = (t_burst + 1.0, secs);
    let bs = BURST_BS as f64;
    let rate = |t: &[f64], a: f64, b: f64| steady_rate(t, a, b).map(|r| r * bs);
    // Excess volume: bytes completed by the end minus avg * time.
    let excess = |t: &[f64]| t.last().map(|&last| t.len() as f64 * bs - avg * last);
    let err = |x: Option<f64>, want: f64| x.map(|x| (x - want) / want * 100.0);
    let o_burst = rate(ours, b_from, b_to);
    let q_burst = qemu_t.and_then(|t| rate(t, b_from, b_to));
    let o_steady = rate(ours, s_from, s_to);
    let q_steady = qemu_t.and_then(|t| rate(t, s_from, s_to));
    let (o_ex, q_ex) = (excess(ours), qemu_t.and_then(|t| excess(t)));
    let o_burst_err = err(o_burst, max);
    let qnote = match &qemu_res {
        Err(e) if qemu.is_some() => format!("qemu failed: {e}"),
        _ => String::new(),
    };
    let mut row = |name: &str, conf: f64, o: Option<f64>, q: Option<f64>, mb: bool, note: String| {
        let f = |x: Option<f64>| {
            x.map(|x| if mb { format!("{:.2} MB", x / 1e6) } else { fmt_rate(Unit::Bps, Some(x)) })
                .unwrap_or("-".into())
        };
        report.row(
            vec![name.into(), f(Some(conf)), f(o), fmt_err(err(o, conf)), f(q), fmt_err(err(q, conf)), note],
            json!({ "case": name, "configured": conf, "ours_achieved": o.map(|x| round(x, 1)),
                    "ours_error_pct": err(o, conf).map(|e| round(e, 3)), "qemu_achieved": q.map(|x| round(x, 1)),
                    "qemu_error_pct": err(q, conf).map(|e| round(e, 3)) }),
        );
    };
    row(
        "burst phase rate",
        max,
        o_burst,
        q_burst,
        false,
        format!("bps 10M max 50M x{BURST_LEN}s, window {b_from:.1}-{b_to:.2} s (theory: burst ends at {t_burst:.3} s) {qnote}")
            .trim()
            .to_string(),
    );
    row(
        "burst excess volume",
        capacity,
        o_ex,
        q_ex,
        true,
        "bytes done - avg*t at the end; theory max*max_length".into(),
    );
    row("after burst rate", avg, o_steady, q_steady, false, format!("window {s_from:.1}-{s_to:.1} s"));
    report.summary("burst_error_pct", o_burst_err.map(|e| Value::from(round(e.abs(), 3))).unwrap_or(Value::Null));

    // 100 ms bins for the plot.
    let bins = (secs / BIN).ceil() as usize;
    let binned = |t: &[f64]| {
        let mut v = vec![0u64; bins];
        for &x in t {
            if let Some(b) = v.get_mut((x / BIN) as usize) {
                *b += 1;
            }
        }
        v
    };
    let ob = binned(ours);
    let qb = qemu_t.map(|t| binned(t));
    let mut dat = String::from("# t_s ours_MBps qemu_MBps (100 ms bins, bin start)\n");
    for i in 0..bins {
        let mbps = |n: u64| n as f64 * bs / BIN / 1e6;
        let q = qb.as_ref().map(|q| format!("{:.3}", mbps(q[i]))).unwrap_or("NaN".into());
        dat.push_str(&format!("{:.1} {:.3} {}\n", i as f64 * BIN, mbps(ob[i]), q));
    }
    let dir = bench_dir();
    let dat_path = dir.join("throttle-burst.dat");
    std::fs::write(&dat_path, dat)?;
    let png = if opts.quick {
        dir.join("throttle-burst.png")
    } else {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..").join("docs").join("img").join("throttle-burst.png")
    };
    match plot(&dat_path, &png, qb.is_some(), t_burst) {
        Ok(()) => report.note(format!("burst plot: {}", png.display())),
        Err(e) => report.note(format!("burst plot skipped: {e}")),
    }
    Ok(())
}

fn plot(dat: &Path, png: &Path, with_qemu: bool, t_burst: f64) -> Result<(), String> {
    if let Some(d) = png.parent() {
        std::fs::create_dir_all(d).map_err(|e| e.to_string())?;
    }
    let qemu_line = if with_qemu {
        format!(", '{}' using 1:3 with steps lw 1.5 lc rgb '#d62728' title 'QEMU 10.0 (qemu-io)'", dat.display())
    } else {
        String::new()
    };
    let script = format!(
        "set terminal png noenhanced size 900,500\n\
         set output '{png}'\n\
         set title 'Throttle burst: bps=10 MB/s, bps_max=50 MB/s, bps_max_length=2 s (64 KiB reads, 100 ms bins)'\n\
         set xlabel 'time (s)'\nset ylabel 'achieved MB/s'\nset grid\nset key top right\nset yrange [0:*]\n\
         set arrow from {t_burst},graph 0 to {t_burst},graph 1 nohead lc rgb '#bbbbbb'\n\
         set label 'theoretical end of burst' at {t_burst},graph 0.95 offset 0.5,0\n\
         plot 50 lw 1 lc rgb '#999999' title 'bps_max', 10 lw 1 lc rgb '#555555' title 'bps', \
         '{dat}' using 1:2 with steps lw 4 lc rgb '#1f77b4' title 'ironide'{qemu_line}\n",
        png = png.display(),
        dat = dat.display(),
    );
    let gp = dat.with_extension("gp");
    std::fs::write(&gp, script).map_err(|e| e.to_string())?;
    let out = Command::new("gnuplot").arg(&gp).output().map_err(|e| format!("gnuplot not runnable: {e}"))?;
    if !out.status.success() {
        return Err(format!("gnuplot failed: {}", String::from_utf8_lossy(&out.stderr).lines().next().unwrap_or("")));
    }
    Ok(())
}

// ---- the group case ------------------------------------------------------

fn group(report: &mut Report, files: &[PathBuf], secs: f64) -> std::io::Result<()> {
    let mut cfg = ThrottleConfig::default();
    cfg.limit_mut(BucketKind::IopsTotal).avg = GROUP_IOPS;
    let times = run_ours(files, Some(&cfg), 4096, GROUP_QD, Duration::from_secs_f64(secs))?;
    let (from, to) = (secs * STEADY_FROM, secs);
    // Per member: completions in the common window; total: all merged.
    let per: Vec<f64> =
        times.iter().map(|t| t.iter().filter(|&&x| x >= from && x <= to).count() as f64 / (to - from)).collect();
    let mut all: Vec<f64> = times.concat();
    all.sort_by(f64::total_cmp);
    let total = steady_rate(&all, from, to);
    let sum: f64 = per.iter().sum();
    let sq: f64 = per.iter().map(|x| x * x).sum();
    let jain = if sq > 0.0 { sum * sum / (per.len() as f64 * sq) } else { 0.0 };
    let share = GROUP_IOPS as f64 / per.len() as f64;
    for (i, r) in per.iter().enumerate() {
        let e = (r - share) / share * 100.0;
        report.row(
            vec![format!("group member {i}"), fmt_rate(Unit::Iops, Some(share)), fmt_rate(Unit::Iops, Some(*r)), fmt_err(Some(e)), "-".into(), "-".into(), "fair share of the group's 3000".into()],
            json!({ "case": format!("group member {i}"), "configured_share": share, "ours_achieved": round(*r, 2), "ours_error_pct": round(e, 3) }),
        );
    }
    let te = total.map(|t| (t - GROUP_IOPS as f64) / GROUP_IOPS as f64 * 100.0);
    report.row(
        vec!["group total".into(), fmt_rate(Unit::Iops, Some(GROUP_IOPS as f64)), fmt_rate(Unit::Iops, total), fmt_err(te), "-".into(), "-".into(), format!("Jain {jain:.4}; qemu-io has one drive, no group")],
        json!({ "case": "group total", "configured": GROUP_IOPS, "ours_achieved": total.map(|t| round(t, 2)), "ours_error_pct": te.map(|e| round(e, 3)), "jain": round(jain, 5) }),
    );
    report.summary("group_jain_index", round(jain, 5));
    report.summary("group_error_pct", te.map(|e| Value::from(round(e.abs(), 3))).unwrap_or(Value::Null));
    Ok(())
}

// ---- our side --------------------------------------------------------------

/// Run `qd` reads of `bs` bytes in flight per file, each file its own
/// backend, for `dur` on real time, all backends in throttle group "g0"
/// under `cfg` (None = unthrottled). Returns per file the completion times
/// in seconds since the first submission.
fn run_ours(
    files: &[PathBuf],
    cfg: Option<&ThrottleConfig>,
    bs: u64,
    qd: usize,
    dur: Duration,
) -> std::io::Result<Vec<Vec<f64>>> {
    let err = |e: ironide_block::layer::LayerError| std::io::Error::other(e.to_string());
    let mut layer = BlockLayer::new(Arc::new(RealClock::new()))?;
    let mut ids: Vec<BackendId> = Vec::new();
    for (i, f) in files.iter().enumerate() {
        let be = layer.create_backend(&format!("tb{i}"), true);
        layer.open_medium(be, &NodeSpec::raw_over_file(f, true, false, true, AioMode::Auto)).map_err(err)?;
        if let Some(c) = cfg {
            layer.set_throttle(be, c.clone(), Some("g0")).map_err(err)?;
        }
        ids.push(be);
    }
    let blocks = FILE_SIZE / bs;
    let mut next = vec![0u64; files.len()];
    let mut times: Vec<Vec<f64>> = vec![Vec::new(); files.len()];
    let mut submit = |layer: &mut BlockLayer, i: usize, buf: AlignedBuf| {
        let off = (next[i] % blocks) * bs;
        next[i] += 1;
        layer.submit(ids[i], Request::read_owned(off, buf, 0));
    };
    let start = Instant::now();
    layer.plug();
    for i in 0..files.len() {
        for _ in 0..qd {
            submit(&mut layer, i, AlignedBuf::new(bs as usize));
        }
    }
    layer.unplug();
    let mut done = Vec::new();
    loop {
        layer.wait(Duration::from_millis(100));
        layer.process_completions(|id, c| done.push((id, c)));
        let t = start.elapsed();
        if t >= dur {
            break;
        }
        let ts = t.as_secs_f64();
        layer.plug();
        for (id, c) in done.drain(..) {
            if let Err(e) = c.result {
                return Err(std::io::Error::other(format!("I/O error in benchmark: {e:?}")));
            }
            let Some(i) = ids.iter().position(|&b| b == id) else { continue };
            times[i].push(ts);
            if let Some(buf) = c.buf {
                submit(&mut layer, i, buf);
            }
        }
        layer.unplug();
    }
    // Lift the limits so the queued requests finish at once.
    for &id in &ids {
        let _ = layer.set_throttle(id, ThrottleConfig::default(), None);
    }
    layer.drain_all();
    Ok(times)
}

// ---- QEMU's side -------------------------------------------------------------

struct Qemu {
    stdbuf: String,
    qemu_io: String,
    stderr_path: PathBuf,
}

impl Qemu {
    fn find(dir: &Path) -> Result<Qemu, String> {
        let qemu_io = which("qemu-io").ok_or("qemu-io not found (qemu-utils)")?;
        // Without line-buffered stdout the completion lines would sit in
        // qemu-io's stdio buffer and the closed loop would stall.
        let stdbuf = which("stdbuf").ok_or("stdbuf (coreutils) not found")?;
        Ok(Qemu { stdbuf, qemu_io, stderr_path: dir.join("throttle-qemu-stderr.txt") })
    }

    /// Same closed loop as [`run_ours`] on qemu-io: `qd` `aio_read`s of `bs`
    /// in flight for `dur`, throttled by a throttle-group with `props`
    /// (empty = no throttle node). Returns completion times in seconds
    /// since the first command was written.
    fn run(&self, file: &Path, props: &str, bs: u64, qd: usize, dur: Duration) -> Result<Vec<f64>, String> {
        let stderr = std::fs::File::create(&self.stderr_path).map_err(|e| e.to_string())?;
        let mut cmd = Command::new(&self.stdbuf);
        cmd.args(["-oL", &self.qemu_io, "-r"]);
        if props.is_empty() {
            cmd.args(["--image-opts", &format!("driver=file,filename={}", file.display())]);
        } else {
            cmd.args(["--object", &format!("throttle-group,id=tg0,{props}")]);
            cmd.args([
                "--image-opts",
                &format!("driver=throttle,throttle-group=tg0,file.driver=file,file.filename={}", file.display()),
            ]);
        }
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(stderr))
            .spawn()
            .map_err(|e| format!("cannot start qemu-io: {e}"))?;
        let (Some(mut stdin), Some(mut stdout)) = (child.stdin.take(), child.stdout.take()) else {
            let _ = child.kill();
            let _ = child.wait();
            return Err("qemu-io pipes missing".into());
        };
        // Watchdog: a qemu-io that stops talking is killed, so the blocking
        // reads below always end.
        let finished = Arc::new(AtomicBool::new(false));
        let pid = child.id() as libc::pid_t;
        let watchdog = {
            let finished = finished.clone();
            let limit = dur + Duration::from_secs(20);
            std::thread::spawn(move || {
                let t0 = Instant::now();
                while !finished.load(Ordering::Relaxed) {
                    if t0.elapsed() > limit {
                        // SAFETY: plain kill(2) of our own child.
                        unsafe { libc::kill(pid, libc::SIGKILL) };
                        return;
                    }
                    std::thread::sleep(Duration::from_millis(50));
                }
            })
        };
        let blocks = FILE_SIZE / bs;
        let mut n = 0u64;
        let mut cmds = |k: usize| {
            let mut s = String::new();
            for _ in 0..k {
                s.push_str(&format!("aio_read {} {bs}\n", (n % blocks) * bs));
                n += 1;
            }
            s
        };
        let start = Instant::now();
        let mut times = Vec::new();
        let mut failure: Option<String> = None;
        let mut pending = String::new();
        let mut buf = vec![0u8; 1 << 16];
        if let Err(e) = stdin.write_all(cmds(qd).as_bytes()) {
            failure = Some(format!("write to qemu-io: {e}"));
        }
        while failure.is_none() {
            let got = match stdout.read(&mut buf) {
                Ok(0) => {
                    failure = Some("qemu-io exited early".into());
                    break;
                }
                Ok(k) => k,
                Err(e) => {
                    failure = Some(format!("read from qemu-io: {e}"));
                    break;
                }
            };
            let now = start.elapsed();
            pending.push_str(&String::from_utf8_lossy(&buf[..got]));
            let mut completed = 0;
            while let Some(nl) = pending.find('\n') {
                let line: String = pending.drain(..=nl).collect();
                if line.contains("bytes at offset") {
                    completed += 1;
                } else if line.contains("failed") || line.contains("rror") {
                    failure = Some(line.replace("qemu-io> ", "").trim().to_string());
                }
            }
            if now >= dur {
                break;
            }
            times.extend(std::iter::repeat_n(now.as_secs_f64(), completed));
            if completed > 0 {
                if let Err(e) = stdin.write_all(cmds(completed).as_bytes()) {
                    failure = Some(format!("write to qemu-io: {e}"));
                }
            }
        }
        // Kill rather than quit: quitting drains, which lifts the limits.
        let _ = child.kill();
        let _ = child.wait();
        finished.store(true, Ordering::Relaxed);
        let _ = watchdog.join();
        match failure {
            Some(f) if times.is_empty() => {
                let err = std::fs::read_to_string(&self.stderr_path).unwrap_or_default();
                let first = err.lines().next().unwrap_or("").to_string();
                Err(if first.is_empty() { f } else { format!("{f}: {first}") })
            }
            Some(f) => Err(f),
            None => Ok(times),
        }
    }
}

// ---- helpers -----------------------------------------------------------------

/// Completions per second over [from, to]: (n-1) / (t_last - t_first).
fn steady_rate(times: &[f64], from: f64, to: f64) -> Option<f64> {
    let w: Vec<f64> = times.iter().copied().filter(|&t| t >= from && t <= to).collect();
    let (first, last) = (*w.first()?, *w.last()?);
    (w.len() >= 2 && last > first).then(|| (w.len() - 1) as f64 / (last - first))
}

fn max_abs(cur: Option<f64>, e: Option<f64>) -> Option<f64> {
    match (cur, e) {
        (Some(a), Some(b)) => Some(a.max(b.abs())),
        (a, b) => a.or(b.map(f64::abs)),
    }
}

fn fmt_rate(unit: Unit, r: Option<f64>) -> String {
    match (unit, r) {
        (_, None) => "-".into(),
        (Unit::Bps, Some(r)) => format!("{:.3} MB/s", r / 1e6),
        (Unit::Iops, Some(r)) => format!("{r:.1} IOPS"),
    }
}

fn fmt_err(e: Option<f64>) -> String {
    e.map(|e| format!("{e:+.3}")).unwrap_or("-".into())
}

/// A `FILE_SIZE` file of non-zero data, read once so it sits in the page cache.
fn prepare(path: &Path) -> std::io::Result<()> {
    data_file(path, FILE_SIZE)?;
    let mut f = std::fs::File::open(path)?;
    let mut buf = vec![0u8; 1 << 20];
    while f.read(&mut buf)? > 0 {}
    Ok(())
}
