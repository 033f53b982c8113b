//! `backend`: our block layer + io_uring engine against fio (ioengine=io_uring)
//! on the same file in the same run: 4 KiB random reads at QD1 and QD32,
//! 1 MiB sequential reads and writes. Both sides use O_DIRECT so the page
//! cache does not decide the result.

use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ironide_block::engine::AioMode;
use ironide_block::layer::{BlockLayer, NodeSpec};
use ironide_block::{AlignedBuf, RealClock, Request};
use serde_json::{json, Value};

use crate::harness::{bench_dir, data_file, round, which, Opts, Report};

struct Workload {
    name: &'static str,
    bs: u64,
    qd: usize,
    write: bool,
    random: bool,
}

const WORKLOADS: &[Workload] = &[
    Workload { name: "4k-randread-qd1", bs: 4096, qd: 1, write: false, random: true },
    Workload { name: "4k-randread-qd32", bs: 4096, qd: 32, write: false, random: true },
    Workload { name: "1m-seqread-qd8", bs: 1 << 20, qd: 8, write: false, random: false },
    Workload { name: "1m-seqwrite-qd8", bs: 1 << 20, qd: 8, write: true, random: false },
];

/// ops/s and bytes/s.
struct Rate {
    iops: f64,
    bps: f64,
}

pub fn run(opts: &Opts) -> std::io::Result<()> {
    let size: u64 = if opts.quick { 256 << 20 } else { 1 << 30 };
    let secs = if opts.quick { 3 } else { 10 };
    let dir = bench_dir();
    std::fs::create_dir_all(&dir)?;
    let path = dir.join("backend.img");
    data_file(&path, size)?;
    let fio = which("fio");
    let mut report =
        Report::new("backend", &["workload", "ironide IOPS", "ironide MB/s", "fio IOPS", "fio MB/s", "ratio"]);
    let mut summary_keys = vec![];
    // Profiling aids: BENCH_ONLY=<workload> runs one workload, BENCH_NO_FIO=1 skips fio.
    let only = std::env::var("BENCH_ONLY").ok();
    let fio = if std::env::var_os("BENCH_NO_FIO").is_some() { None } else { fio };
    for w in WORKLOADS.iter().filter(|w| only.as_deref().is_none_or(|o| o == w.name)) {
        let ours = run_ours(&path, size, w, Duration::from_secs(secs))?;
        let theirs = match &fio {
            Some(f) => run_fio(f, &path, size, w, secs).ok(),
            None => None,
        };
        let ratio = theirs.as_ref().map(|t| ours.iops / t.iops);
        report.row(
            vec![
                w.name.to_string(),
                format!("{:.0}", ours.iops),
                format!("{:.1}", ours.bps / 1e6),
                theirs.as_ref().map(|t| format!("{:.0}", t.iops)).unwrap_or("-".into()),
                theirs.as_ref().map(|t| format!("{:.1}", t.bps / 1e6)).unwrap_or("-".into()),
                ratio.map(|r| format!("{r:.3}")).unwrap_or("-".into()),
            ],
            json!({
                "workload": w.name, "bs": w.bs, "qd": w.qd, "write": w.write, "random": w.random,
                "ironide_iops": round(ours.iops, 1), "ironide_bps": round(ours.bps, 0),
                "fio_iops": theirs.as_ref().map(|t| round(t.iops, 1)),
                "fio_bps": theirs.as_ref().map(|t| round(t.bps, 0)),
                "ratio": ratio.map(|r| round(r, 4)),
            }),
        );
        summary_keys.push((w.name, ratio));
    }
    let key = |n: &str| match n {
        "4k-randread-qd1" => "ratio_4k_qd1",
        "4k-randread-qd32" => "ratio_4k_qd32",
        "1m-seqread-qd8" => "ratio_1m_read",
        _ => "ratio_1m_write",
    };
    for (n, r) in summary_keys {
        report.summary(key(n), r.map(|r| Value::from(round(r, 4))).unwrap_or(Value::Null));
    }
    if fio.is_none() {
        report.note("fio not found: install it (scripts/install-deps.sh) for the ratios");
    }
    report
        .note(format!("file {} MiB, O_DIRECT on both sides, {secs} s per workload, ratio = ironide / fio", size >> 20));
    report.finish(opts)?;
    if std::env::var_os("BENCH_KEEP_FILE").is_none() {
        let _ = std::fs::remove_file(&path);
    }
    Ok(())
}

fn run_ours(path: &Path, size: u64, w: &Workload, dur: Duration) -> std::io::Result<Rate> {
    let mut layer = BlockLayer::new(Arc::new(RealClock::new()))?;
    let be = layer.create_backend("bench0", true);
    let spec = NodeSpec::raw_over_file(path, false, true, false, AioMode::IoUring);
    layer.open_medium(be, &spec).map_err(|e| std::io::Error::other(e.to_string()))?;
    let blocks = size / w.bs;
    let mut rng = 0x2545F4914F6CDD1Du64;
    let mut seq = 0u64;
    let mut next_offset = |rng: &mut u64| {
        if w.random {
            *rng ^= *rng << 13;
            *rng ^= *rng >> 7;
            *rng ^= *rng << 17;
            (*rng % blocks) * w.bs
        } else {
            let o = (seq % blocks) * w.bs;
            seq += 1;
            o
        }
    };
    let mk = |off: u64, buf: AlignedBuf| {
        if w.write {
            Request::write_owned(off, buf, 0)
        } else {
            Request::read_owned(off, buf, 0)
        }
    };
    layer.plug();
    for _ in 0..w.qd {
        let off = next_offset(&mut rng);
        layer.submit(be, mk(off, AlignedBuf::new(w.bs as usize)));
    }
    layer.unplug();
    let start = Instant::now();
    let mut ops = 0u64;
    let mut done = Vec::with_capacity(w.qd);
    let mut stop = false;
    while layer.in_flight(be) > 0 || !done.is_empty() {
        layer.wait(Duration::from_secs(5));
        layer.process_completions(|_, c| done.push(c));
        if !stop && start.elapsed() >= dur {
            stop = true;
        }
        layer.plug();
        for c in done.drain(..) {
            if c.result.is_err() {
                return Err(std::io::Error::other(format!("I/O error in benchmark: {:?}", c.result)));
            }
            ops += 1;
            if !stop {
                let off = next_offset(&mut rng);
                if let Some(buf) = c.buf {
                    layer.submit(be, mk(off, buf));
                }
            }
        }
        layer.unplug();
    }
    let el = start.elapsed().as_secs_f64();
    Ok(Rate { iops: ops as f64 / el, bps: (ops * w.bs) as f64 / el })
}

fn run_fio(fio: &str, path: &Path, size: u64, w: &Workload, secs: u64) -> std::io::Result<Rate> {
    let rw = match (w.write, w.random) {
        (false, true) => "randread",
        (true, true) => "randwrite",
        (false, false) => "read",
        (true, false) => "write",
    };
    let out = Command::new(fio)
        .args([
            "--name=bench",
            &format!("--filename={}", path.display()),
            "--ioengine=io_uring",
            "--direct=1",
            &format!("--rw={rw}"),
            &format!("--bs={}", w.bs),
            &format!("--iodepth={}", w.qd),
            &format!("--size={size}"),
            &format!("--runtime={secs}"),
            "--time_based",
            "--output-format=json",
        ])
        .output()?;
    if !out.status.success() {
        return Err(std::io::Error::other(String::from_utf8_lossy(&out.stderr).to_string()));
    }
    let v: Value = serde_json::from_slice(&out.stdout).map_err(|e| std::io::Error::other(e.to_string()))?;
    let job = &v["jobs"][0][if w.write { "write" } else { "read" }];
    Ok(Rate { iops: job["iops"].as_f64().unwrap_or(0.0), bps: job["bw_bytes"].as_f64().unwrap_or(0.0) })
}
