//! `guest-throttle`: a real guest's reads under `-drive throttling.*` limits that are changed
//! live with `block_set_io_throttle`, ironide against QEMU 7.2 in the same run.
//!
//! Two workloads, each on both emulators:
//! - `kit-dma`: the guest test kit's READ DMA loop (firmware-tests/src/kit.rs), 128 KiB per
//!   command as fast as the device allows: the throttle is the only limit, so this is the one
//!   the summary reports (max_error_pct, qemu_max_error_pct).
//! - `grub-bios`: GRUB's `testspeed` through the BIOS on a file too big to finish
//!   (firmware-tests/src/testspeed.rs): a steady stream of INT 13h reads, slow and bursty.
//!
//! The disk starts with
//! a bps-read limit; once GRUB begins reading, the limit is raised, then replaced by an
//! iops-read limit that is raised in turn. `query-blockstats` is sampled over QMP every
//! `SAMPLE`; each phase's achieved rate is the slope of rd_bytes (or rd_operations) over the
//! phase minus its first `SETTLE`. Limits sit well below the unthrottled rate: PIO READ
//! SECTORS is one block request per 512-byte sector on both emulators, about 60-180 KiB/s
//! (120-350 reads/s) here, with GRUB under the nested KVM's instruction emulation as the
//! bottleneck. The guest also stalls briefly about every 32 KiB (GRUB's own work between
//! reads); the default bucket (a tenth of a second of burst) cannot make that up, so both
//! emulators land somewhat below a limit, the more so the higher it is.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use firmware_tests::{kit, testspeed};
use firmware_tests::{Emulator, Session};
use serde_json::{json, Value};

use crate::boot::{ironide_side, qemu_side};
use crate::harness::{bench_dir, round, Opts, Report};

type Error = Box<dyn std::error::Error>;

/// The throttled drive's id (query-blockstats `device`, block_set_io_throttle `device`).
const DRIVE: &str = "hd0";
/// Blockstats sampling interval.
const SAMPLE: Duration = Duration::from_millis(200);
/// The start of each phase left out of its rate (the bucket drains or fills first).
const SETTLE: f64 = 1.5;
/// GRUB's start-up on the nested development KVM, loaded machine included.
const START_TIMEOUT: Duration = Duration::from_secs(180);

/// What one phase limits.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Limit {
    /// bytes per second
    Bps(u64),
    /// reads per second
    Iops(u64),
}

impl Limit {
    fn configured(self) -> f64 {
        match self {
            Limit::Bps(v) | Limit::Iops(v) => v as f64,
        }
    }

    fn label(self) -> String {
        match self {
            Limit::Bps(v) => format!("bps-read {} KiB/s", v >> 10),
            Limit::Iops(v) => format!("iops-read {v}/s"),
        }
    }

    /// block_set_io_throttle arguments (every rate member is mandatory).
    fn qmp_args(self) -> Value {
        let (bps_rd, iops_rd) = match self {
            Limit::Bps(v) => (v, 0),
            Limit::Iops(v) => (0, v),
        };
        json!({ "device": DRIVE, "bps": 0, "bps_rd": bps_rd, "bps_wr": 0, "iops": 0, "iops_rd": iops_rd, "iops_wr": 0 })
    }
}

/// A guest workload.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Workload {
    KitDma,
    GrubBios,
}

impl Workload {
    fn name(self) -> &'static str {
        match self {
            Workload::KitDma => "kit-dma",
            Workload::GrubBios => "grub-bios",
        }
    }

    /// The phases in order: the first is set on the command line, the rest live. Limits sit
    /// well below what the workload reaches unthrottled.
    fn phases(self) -> [Limit; 4] {
        match self {
            Workload::KitDma => [Limit::Bps(4 << 20), Limit::Bps(8 << 20), Limit::Iops(32), Limit::Iops(64)],
            Workload::GrubBios => [Limit::Bps(8 << 10), Limit::Bps(16 << 10), Limit::Iops(16), Limit::Iops(32)],
        }
    }

    fn describe(self) -> &'static str {
        match self {
            Workload::KitDma => "kit READ DMA loop, 128 KiB per command",
            Workload::GrubBios => "GRUB testspeed via INT 13h",
        }
    }

    /// The serial markers: reading has begun / the workload ran out (too short for the phases).
    fn markers(self) -> (&'static str, &'static str) {
        match self {
            Workload::KitDma => ("DMA-BEGIN", "DMA-END"),
            Workload::GrubBios => (testspeed::BIOS_BEGIN, testspeed::BIOS_END),
        }
    }
}

/// One blockstats sample: seconds since the workload began, rd_bytes, rd_operations.
type Point = (f64, u64, u64);

/// One emulator's run: samples plus the start time of each phase.
struct Trace {
    name: &'static str,
    points: Vec<Point>,
    phase_start: Vec<f64>,
    end: f64,
}

pub fn run(opts: &Opts) -> std::io::Result<()> {
    bench(opts).map_err(|e| std::io::Error::other(e.to_string()))
}

fn bench(opts: &Opts) -> Result<(), Error> {
    let phase_secs = if opts.quick { 8.0 } else { 15.0 };
    let dir = bench_dir().join("guest-throttle");
    std::fs::create_dir_all(&dir)?;
    let mut report = Report::new(
        "guest-throttle",
        &["workload", "emulator", "phase", "configured", "achieved", "error %", "window s"],
    );
    let mut emulators = vec![("ironide", ironide_side()?.bin)];
    match qemu_side() {
        Ok(q) => emulators.push(("qemu-7.2", q.bin)),
        Err(e) => report.note(format!("QEMU 7.2 not available ({e}): ironide only")),
    }
    for workload in [Workload::KitDma, Workload::GrubBios] {
        let wdir = dir.join(workload.name());
        std::fs::create_dir_all(&wdir)?;
        let media = match workload {
            Workload::GrubBios => match firmware_tests::grub::missing_tools() {
                Some(why) => {
                    report.note(format!("{}: skipped ({why})", workload.name()));
                    continue;
                }
                // Far more than the phases can read: the guest is stopped when they are over.
                None => Media::Grub(testspeed::media(8 << 20, 4096)?),
            },
            // 2 GiB: far more than the phases read at their limits (the guest's byte count is
            // 32 bits wide, so stay below 4 GiB).
            Workload::KitDma => Media::Kit(kit::dma_read_bench(&wdir, 2048)?),
        };
        let mut traces = Vec::new();
        for (name, bin) in &emulators {
            match trace(name, bin, workload, &media, &wdir, phase_secs) {
                Ok(t) => traces.push(t),
                Err(e) => report.note(format!("{} on {name}: no trace ({e})", workload.name())),
            }
        }
        let max_err = tabulate(&mut report, workload, &traces);
        let get = |n: &str| max_err.iter().find(|(m, _)| *m == n).and_then(|(_, e)| *e).map(|e| round(e, 2));
        let (ours, qemu) = match workload {
            Workload::KitDma => ("max_error_pct".to_string(), "qemu_max_error_pct".to_string()),
            w => (format!("{}_max_error_pct", w.name()), format!("{}_qemu_max_error_pct", w.name())),
        };
        report.summary(&ours, get("ironide"));
        report.summary(&qemu, get("qemu-7.2"));
        let file = match workload {
            Workload::KitDma => "guest-throttle.png".to_string(),
            w => format!("guest-throttle-{}.png", w.name()),
        };
        let png = if opts.quick {
            wdir.join(&file)
        } else {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..").join("docs").join("img").join(&file)
        };
        match plot(&traces, workload, &wdir, &png, phase_secs) {
            Ok(()) => report.note(format!("plot: {}", png.display())),
            Err(e) => report.note(format!("plot skipped: {e}")),
        }
        report.note(format!(
            "{}: {}; phases of {phase_secs} s: {}; first as -drive throttling.*, then block_set_io_throttle; \
             query-blockstats every {} ms; rate = slope after the first {SETTLE} s of a phase",
            workload.name(),
            workload.describe(),
            workload.phases().iter().map(|p| p.label()).collect::<Vec<_>>().join(" -> "),
            SAMPLE.as_millis()
        ));
    }
    report.finish(opts)?;
    Ok(())
}

/// A workload's images.
enum Media {
    Grub(testspeed::Media),
    Kit(kit::Bench),
}

/// One table row per phase and emulator; returns each emulator's worst |error| in percent.
fn tabulate(report: &mut Report, workload: Workload, traces: &[Trace]) -> Vec<(&'static str, Option<f64>)> {
    let phases = workload.phases();
    let mut max_err = Vec::new();
    for t in traces {
        let mut worst: Option<f64> = None;
        for (i, limit) in phases.iter().enumerate() {
            let from = t.phase_start[i] + SETTLE;
            let to = t.phase_start.get(i + 1).copied().unwrap_or(t.end);
            let achieved = rate(&t.points, from, to, matches!(limit, Limit::Iops(_)));
            let err = achieved.map(|a| (a - limit.configured()) / limit.configured() * 100.0);
            if let Some(e) = err {
                worst = Some(worst.map_or(e.abs(), |w: f64| w.max(e.abs())));
            }
            let show = |v: f64| match limit {
                Limit::Bps(_) => format!("{:.1} KiB/s", v / 1024.0),
                Limit::Iops(_) => format!("{v:.2}/s"),
            };
            report.row(
                vec![
                    workload.name().to_string(),
                    t.name.to_string(),
                    (i + 1).to_string(),
                    limit.label(),
                    achieved.map(show).unwrap_or("-".into()),
                    err.map(|e| format!("{e:+.1}")).unwrap_or("-".into()),
                    format!("{:.1}", to - from),
                ],
                json!({
                    "workload": workload.name(), "emulator": t.name, "phase": i + 1, "limit": limit.label(),
                    "configured": limit.configured(), "achieved": achieved.map(|a| round(a, 2)),
                    "error_pct": err.map(|e| round(e, 2)), "from_s": round(from, 2), "to_s": round(to, 2),
                }),
            );
        }
        max_err.push((t.name, worst));
    }
    max_err
}

/// The -drive option of the first phase, in QEMU's spelling (ironide takes the same).
fn throttling_opt(limit: Limit) -> String {
    match limit {
        Limit::Bps(v) => format!("throttling.bps-read={v}"),
        Limit::Iops(v) => format!("throttling.iops-read={v}"),
    }
}

/// Boot the workload on `bin`, walk through the phases and collect blockstats.
fn trace(
    name: &'static str,
    bin: &Path,
    workload: Workload,
    media: &Media,
    dir: &Path,
    phase_secs: f64,
) -> Result<Trace, Error> {
    let phases = workload.phases();
    let (begin, end_marker) = workload.markers();
    // The firmware tests' Emulator picks its binary (and QEMU's extra options) from this variable.
    std::env::set_var("IRONIDE_EMULATOR", bin);
    let emu = Emulator::from_env()?;
    let run_dir = dir.join(name);
    std::fs::create_dir_all(&run_dir)?;
    let throttle = throttling_opt(phases[0]);
    let args = match media {
        Media::Grub(m) => vec![
            "-drive".to_string(),
            format!("file={},if=ide,index=2,media=cdrom,format=raw", m.cd.display()),
            "-drive".to_string(),
            format!("file={},if=ide,index=0,format=raw,id={DRIVE},{throttle}", m.hd.display()),
            "-boot".to_string(),
            "order=d".to_string(),
        ],
        Media::Kit(b) => b.run_with(&format!(",id={DRIVE},{throttle}")).args,
    };
    let mut s = emu.spawn(&run_dir, &args)?;
    if !s.wait_serial(begin, START_TIMEOUT) {
        return Err(format!("the guest did not start reading ({begin}): {}", s.serial()).into());
    }
    let t0 = Instant::now();
    let mut points = Vec::new();
    let mut phase_start = vec![0.0];
    for (i, limit) in phases.iter().enumerate() {
        if i > 0 {
            s.execute("block_set_io_throttle", limit.qmp_args())?;
            phase_start.push(t0.elapsed().as_secs_f64());
        }
        let until = phase_start[i] + phase_secs;
        while t0.elapsed().as_secs_f64() < until {
            points.push(sample(&mut s, t0)?);
            std::thread::sleep(SAMPLE);
        }
    }
    let end = t0.elapsed().as_secs_f64();
    if firmware_tests::grub::flatten(&s.serial()).contains(end_marker) {
        return Err(format!("{end_marker}: the workload finished before the last phase ended").into());
    }
    drop(s); // kills the guest
    let dat = dir.join(format!("{name}.dat"));
    let text: String = points.iter().map(|(t, b, o)| format!("{t:.3} {b} {o}\n")).collect();
    std::fs::write(&dat, text)?;
    Ok(Trace { name, points, phase_start, end })
}

fn sample(s: &mut Session, t0: Instant) -> Result<Point, Error> {
    let stats = s.execute("query-blockstats", json!({}))?;
    let t = t0.elapsed().as_secs_f64();
    let dev = stats
        .as_array()
        .and_then(|a| a.iter().find(|d| d["device"] == DRIVE))
        .ok_or_else(|| format!("no {DRIVE} in query-blockstats: {stats}"))?;
    let rd = dev["stats"]["rd_bytes"].as_u64().unwrap_or(0);
    let ops = dev["stats"]["rd_operations"].as_u64().unwrap_or(0);
    Ok((t, rd, ops))
}

/// Least-squares slope of bytes (or operations) over time within [from, to].
fn rate(points: &[Point], from: f64, to: f64, ops: bool) -> Option<f64> {
    let xs: Vec<(f64, f64)> = points
        .iter()
        .filter(|p| p.0 >= from && p.0 <= to)
        .map(|p| (p.0, if ops { p.2 as f64 } else { p.1 as f64 }))
        .collect();
    if xs.len() < 3 {
        return None;
    }
    let n = xs.len() as f64;
    let (mx, my) = (xs.iter().map(|p| p.0).sum::<f64>() / n, xs.iter().map(|p| p.1).sum::<f64>() / n);
    let sxx: f64 = xs.iter().map(|p| (p.0 - mx).powi(2)).sum();
    let sxy: f64 = xs.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum();
    (sxx > 0.0).then(|| sxy / sxx)
}

/// Rate over 1 s windows, for the plot: (mid time, KiB/s, ops/s).
fn windows(points: &[Point]) -> Vec<(f64, f64, f64)> {
    let mut out = Vec::new();
    let mut i = 0;
    for j in 0..points.len() {
        while points[j].0 - points[i].0 > 1.0 {
            i += 1;
        }
        if j > i && points[j].0 - points[i].0 >= 0.8 {
            let dt = points[j].0 - points[i].0;
            let kib = (points[j].1 - points[i].1) as f64 / 1024.0 / dt;
            let ops = (points[j].2 - points[i].2) as f64 / dt;
            out.push((points[j].0, kib, ops));
        }
    }
    out
}

fn plot(traces: &[Trace], workload: Workload, dir: &Path, png: &Path, phase_secs: f64) -> Result<(), String> {
    if traces.is_empty() {
        return Err("no traces".into());
    }
    if let Some(d) = png.parent() {
        std::fs::create_dir_all(d).map_err(|e| e.to_string())?;
    }
    let colors = ["#1f77b4", "#d62728"];
    let mut bps_plots = Vec::new();
    let mut iops_plots = Vec::new();
    for (k, t) in traces.iter().enumerate() {
        let f = dir.join(format!("{}-windows.dat", t.name));
        let text: String = windows(&t.points).iter().map(|(x, b, o)| format!("{x:.3} {b:.3} {o:.3}\n")).collect();
        std::fs::write(&f, text).map_err(|e| e.to_string())?;
        let c = colors[k % colors.len()];
        let w = if k == 0 { "3" } else { "1.5" };
        bps_plots.push(format!("'{}' using 1:2 with lines lw {w} lc rgb '{c}' title '{}'", f.display(), t.name));
        iops_plots.push(format!("'{}' using 1:3 with lines lw {w} lc rgb '{c}' title '{}'", f.display(), t.name));
    }
    // Configured limits as steps over the nominal phase boundaries.
    let limits = dir.join("limits.dat");
    let mut text = String::new();
    for (i, l) in workload.phases().iter().enumerate() {
        let (b, o) = match l {
            Limit::Bps(v) => ((*v as f64 / 1024.0).to_string(), "NaN".to_string()),
            Limit::Iops(v) => ("NaN".to_string(), v.to_string()),
        };
        for x in [i as f64 * phase_secs, (i + 1) as f64 * phase_secs] {
            text.push_str(&format!("{x} {b} {o}\n"));
        }
    }
    std::fs::write(&limits, text).map_err(|e| e.to_string())?;
    let l = limits.display();
    let script = format!(
        "set terminal png noenhanced size 900,700\nset output '{png}'\nset multiplot layout 2,1 title \
         'Guest reads ({what}) under live-changed throttling, 1 s windows'\n\
         set grid\nset key top left\nset xlabel 'time since the first read (s)'\nset yrange [0:*]\n\
         set ylabel 'read KiB/s'\nplot '{l}' using 1:2 with lines dt 2 lw 1.5 lc rgb '#555555' title 'configured bps-read', {}\n\
         set ylabel 'reads/s'\nplot '{l}' using 1:3 with lines dt 2 lw 1.5 lc rgb '#555555' title 'configured iops-read', {}\n\
         unset multiplot\n",
        bps_plots.join(", "),
        iops_plots.join(", "),
        png = png.display(),
        what = workload.describe(),
    );
    let gp = dir.join("guest-throttle.gp");
    std::fs::write(&gp, script).map_err(|e| e.to_string())?;
    let out = Command::new("gnuplot").arg(&gp).output().map_err(|e| format!("gnuplot not runnable: {e}"))?;
    if !out.status.success() {
        return Err(format!("gnuplot failed: {}", String::from_utf8_lossy(&out.stderr).lines().next().unwrap_or("")));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slope_of_a_straight_line() {
        let pts: Vec<Point> = (0..20).map(|i| (i as f64 * 0.2, i * 1000, i / 2)).collect();
        let r = rate(&pts, 0.0, 4.0, false).unwrap();
        assert!((r - 5000.0).abs() < 1e-6, "{r}");
        let o = rate(&pts, 0.0, 4.0, true).unwrap();
        assert!((o - 2.5).abs() < 0.2, "{o}");
        assert_eq!(rate(&pts, 10.0, 20.0, false), None);
    }

    #[test]
    fn live_limits_name_every_rate() {
        let a = Limit::Iops(2).qmp_args();
        for k in ["bps", "bps_rd", "bps_wr", "iops", "iops_rd", "iops_wr"] {
            assert!(a[k].is_u64(), "{k}");
        }
        assert_eq!((a["iops_rd"].as_u64(), a["bps_rd"].as_u64()), (Some(2), Some(0)));
        assert_eq!(throttling_opt(Limit::Bps(32768)), "throttling.bps-read=32768");
    }

    #[test]
    fn one_second_windows() {
        let pts: Vec<Point> = (0..11).map(|i| (i as f64 * 0.25, i * 256, i)).collect();
        let w = windows(&pts);
        assert!(!w.is_empty());
        for (_, kib, ops) in w {
            assert!((kib - 1.0).abs() < 1e-9 && (ops - 4.0).abs() < 1e-9);
        }
    }
}
