//! `guest-io`: disk throughput seen by a real guest, ironide against QEMU 7.2 in the same run
//! (same SeaBIOS, same images, same KVM, `-cpu qemu64` on QEMU).
//!
//! - GRUB's `testspeed` (firmware-tests/src/testspeed.rs): one boot reads a file through the
//!   BIOS (biosdisk: SeaBIOS's ATA PIO, one `rep insw` exit per sector) and another through
//!   GRUB's own pata driver (one `inw` exit per 16-bit word). GRUB's own figures are used.
//! - The guest test kit's DMA read loop (firmware-tests/src/kit.rs, bus-master DMA), timed on
//!   the host between its `DMA-BEGIN` and `DMA-END <bytes>` serial markers.
//!
//! ironide runs twice per repetition, with the coalesced task-file writes of
//! crates/vmm/src/kvm/coalesced.rs on (the default) and off, so the table shows what they buy.
//! Runs are interleaved (A B C, then C B A, ...) to cancel drift from the shared machine.
//!
//! VM exits per MiB come from separate, untimed runs under `perf stat` (the
//! `kvm:kvm_userspace_exit` tracepoint, the same counter for both emulators): exits of a boot
//! with both files minus a boot with one file minus ..., so GRUB's start-up cancels out.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use firmware_tests::emulator::BIOS;
use firmware_tests::testspeed::{self, Media, Speed};
use serde_json::{json, Value};

use crate::boot::{ironide_side, qemu_side, Side};
use crate::harness::{bench_dir, round, which, Opts, Report};

type Error = Box<dyn std::error::Error>;

/// GRUB needs ~20 s to its first line here; the reads come on top.
const TIMEOUT: Duration = Duration::from_secs(240);
const MIB: f64 = 1024.0 * 1024.0;
/// The "empty" file of the exit-count baselines (one FAT cluster).
const TINY: usize = 4096;

/// What the benchmark needs from the guest test kit's DMA read loop: a command line (drives,
/// boot order) whose guest prints `begin`, reads, then prints `end` followed by the byte count.
pub struct KitWorkload {
    pub args: Vec<String>,
    pub begin: &'static str,
    pub end: &'static str,
}

/// The kit's DMA benchmark mode (firmware-tests/src/kit.rs): READ DMA of 128 KiB per command.
fn kit_workload(dir: &Path, quick: bool) -> Result<KitWorkload, String> {
    // Page-cached 32 MiB window read over and over: long enough (1-2 s) to time from the host.
    let mib = if quick { 256 } else { 1024 };
    let bench = firmware_tests::kit::dma_read_bench(dir, mib).map_err(|e| e.to_string())?;
    Ok(KitWorkload { args: bench.run.args, begin: bench.begin, end: bench.end })
}

/// One emulator configuration of the comparison.
struct Contender {
    side: Side,
    label: &'static str,
}

/// One timed boot.
#[derive(Default, Clone)]
struct Sample {
    bios: Option<Speed>,
    pata: Option<Speed>,
    kit_mib_s: Option<f64>,
}

pub fn run(opts: &Opts) -> std::io::Result<()> {
    bench(opts).map_err(|e| std::io::Error::other(e.to_string()))
}

fn bench(opts: &Opts) -> Result<(), Error> {
    let (reps, bios_bytes, pata_bytes) = if opts.quick { (1, 512 << 10, 256 << 10) } else { (4, 1 << 20, 512 << 10) };
    let dir = bench_dir().join("guest-io");
    std::fs::create_dir_all(&dir)?;
    let mut report = Report::new(
        "guest-io",
        &["emulator", "bios MiB/s", "pata MiB/s", "kit MiB/s", "bios exits/MiB", "pata exits/MiB", "coalesced/MiB"],
    );
    if let Some(why) = firmware_tests::grub::missing_tools() {
        return Err(why.into());
    }
    let media = testspeed::media(bios_bytes, pata_bytes)?;
    let ironide = ironide_side()?;
    let mut plain = ironide_side()?;
    plain.name = "ironide-nocoalesce";
    plain.env.push(("IRONIDE_COALESCED_PIO".into(), "0".into()));
    let mut sides = vec![
        Contender { side: ironide, label: "ironide" },
        Contender { side: plain, label: "ironide (no coalescing)" },
    ];
    match qemu_side() {
        Ok(q) => sides.push(Contender { side: q, label: "qemu-7.2" }),
        Err(e) => report.note(format!("QEMU 7.2 not available ({e}): ironide only")),
    }
    let kit = kit_workload(&dir, opts.quick);
    if let Err(why) = &kit {
        report.note(format!("kit DMA read loop not measured: {why}"));
    }
    let load_before = loadavg();

    let mut samples: Vec<Vec<Sample>> = vec![Vec::new(); sides.len()];
    for rep in 0..reps {
        let order: Vec<usize> =
            if rep % 2 == 0 { (0..sides.len()).collect() } else { (0..sides.len()).rev().collect() };
        for s in order {
            let c = &sides[s];
            let mut sample = match boot(&c.side, &media.args(), &dir, None) {
                Ok(run) => {
                    let (bios, pata) = testspeed::parse_both(&run.serial);
                    Sample { bios, pata, kit_mib_s: None }
                }
                Err(e) => {
                    eprintln!("guest-io: {} run {rep}: {e}", c.label);
                    Sample::default()
                }
            };
            if let Ok(k) = &kit {
                sample.kit_mib_s =
                    kit_once(&c.side, k, &dir).map_err(|e| eprintln!("guest-io: kit {}: {e}", c.label)).ok();
            }
            eprintln!(
                "guest-io: {} run {rep}: bios {} pata {} MiB/s",
                c.label,
                fmt(sample.bios.map(|s| s.mib_per_sec())),
                fmt(sample.pata.map(|s| s.mib_per_sec()))
            );
            samples[s].push(sample);
        }
    }

    // Three extra boots per emulator: GUEST_IO_NO_EXITS=1 skips them when time is short.
    let perf = if std::env::var_os("GUEST_IO_NO_EXITS").is_some_and(|v| v != "0") {
        report.note("VM exits not measured: GUEST_IO_NO_EXITS is set");
        None
    } else {
        let p = perf_path();
        if p.is_none() {
            report.note("VM exits not measured: `perf stat -e kvm:kvm_userspace_exit` is not usable here");
        }
        p
    };
    let mut summary = serde_json::Map::new();
    let mut medians: Vec<(Option<f64>, Option<f64>, Option<f64>)> = Vec::new();
    for (s, c) in sides.iter().enumerate() {
        let set = &samples[s];
        let bios = median(set.iter().filter_map(|x| x.bios.map(|v| v.mib_per_sec())).collect());
        let pata = median(set.iter().filter_map(|x| x.pata.map(|v| v.mib_per_sec())).collect());
        let kit = median(set.iter().filter_map(|x| x.kit_mib_s).collect());
        let exits = match &perf {
            Some(p) => exits_per_mib(&c.side, &media, &dir, p).unwrap_or_else(|e| {
                eprintln!("guest-io: exit count {}: {e}", c.label);
                ExitRates::default()
            }),
            None => ExitRates::default(),
        };
        report.row(
            vec![
                c.label.to_string(),
                fmt(bios),
                fmt(pata),
                fmt(kit),
                fmt0(exits.bios),
                fmt0(exits.pata),
                fmt0(exits.coalesced),
            ],
            json!({
                "emulator": c.label,
                "runs": set.len(),
                "bios_mib_s": set.iter().map(|x| x.bios.map(|v| round(v.mib_per_sec(), 4))).collect::<Vec<_>>(),
                "pata_mib_s": set.iter().map(|x| x.pata.map(|v| round(v.mib_per_sec(), 4))).collect::<Vec<_>>(),
                "kit_mib_s": set.iter().map(|x| x.kit_mib_s.map(|v| round(v, 4))).collect::<Vec<_>>(),
                "bios_median_mib_s": bios.map(|x| round(x, 4)),
                "pata_median_mib_s": pata.map(|x| round(x, 4)),
                "kit_median_mib_s": kit.map(|x| round(x, 4)),
                "bios_exits_per_mib": exits.bios.map(|x| round(x, 0)),
                "pata_exits_per_mib": exits.pata.map(|x| round(x, 0)),
                "coalesced_writes_per_mib": exits.coalesced.map(|x| round(x, 0)),
                "kernel_exits_per_mib_bios": exits.kernel_bios.map(|x| round(x, 0)),
                "kernel_exits_per_mib_pata": exits.kernel_pata.map(|x| round(x, 0)),
            }),
        );
        let key = match c.label {
            "ironide" => "ironide",
            "qemu-7.2" => "qemu",
            _ => "ironide_nocoalesce",
        };
        summary.insert(format!("{key}_bios_mib_s"), bios.map(|x| round(x, 4)).into());
        summary.insert(format!("{key}_pata_mib_s"), pata.map(|x| round(x, 4)).into());
        summary.insert(format!("{key}_kit_mib_s"), kit.map(|x| round(x, 4)).into());
        summary.insert(format!("{key}_bios_exits_per_mib"), exits.bios.map(|x| round(x, 0)).into());
        summary.insert(format!("{key}_pata_exits_per_mib"), exits.pata.map(|x| round(x, 0)).into());
        medians.push((bios, pata, kit));
    }
    let ratio = |ours: Option<f64>, theirs: Option<f64>| match (ours, theirs) {
        (Some(o), Some(t)) if t > 0.0 => Some(round(o / t, 3)),
        _ => None,
    };
    let q = sides.iter().position(|c| c.label == "qemu-7.2").map(|i| medians[i]).unwrap_or((None, None, None));
    summary.insert("ratio_bios".into(), ratio(medians[0].0, q.0).into());
    summary.insert("ratio_pata".into(), ratio(medians[0].1, q.1).into());
    summary.insert("ratio_kit".into(), ratio(medians[0].2, q.2).into());
    summary.insert("coalescing_gain_bios".into(), ratio(medians[0].0, medians[1].0).into());
    summary.insert("coalescing_gain_pata".into(), ratio(medians[0].1, medians[1].1).into());
    for (k, v) in summary {
        report.summary(&k, v);
    }
    report.note(format!(
        "{reps} interleaved boot(s) per emulator; testspeed reads {} KiB through biosdisk and {} KiB through pata; \
         MiB/s as GRUB reports it (median); ratios = ironide / QEMU",
        bios_bytes >> 10,
        pata_bytes >> 10
    ));
    report.note(
        "exits/MiB = KVM_RUN returns to user space (perf kvm:kvm_userspace_exit), by difference of untimed boots \
         reading both files, the biosdisk file only and neither; coalesced/MiB = task-file writes KVM batched instead",
    );
    report.note(format!("load average (1/5/15 min) before: {load_before}, after: {}", loadavg()));
    report.finish(opts)?;
    Ok(())
}

/// The contract's command line plus `extra` (drives, boot order).
fn command_line(serial: &Path, extra: &[String], side: &Side) -> Vec<String> {
    let mut a: Vec<String> =
        ["-machine", "pc,accel=kvm", "-m", "128", "-bios", BIOS, "-nodefaults", "-display", "none", "-serial"]
            .iter()
            .map(|s| s.to_string())
            .collect();
    a.push(format!("file:{}", serial.display()));
    a.extend(["-device", "isa-debug-exit,iobase=0xf4,iosize=0x04", "-no-reboot"].map(String::from));
    a.extend(side.extra.iter().cloned());
    a.extend(extra.iter().cloned());
    a
}

/// A finished boot: the serial log and, under perf, (user-space exits, all exits).
struct Finished {
    serial: String,
    perf: Option<(u64, u64)>,
    coalesced: Option<u64>,
}

fn spawn(side: &Side, args: &[String], dir: &Path, perf: Option<&PathBuf>) -> Result<(Child, PathBuf), Error> {
    let perf_file = dir.join(format!("{}.perf", side.name));
    let _ = std::fs::remove_file(&perf_file);
    let mut cmd = match perf {
        Some(p) => {
            let mut c = Command::new(p);
            c.args(["stat", "-x,", "-e", "kvm:kvm_userspace_exit,kvm:kvm_exit", "-o"])
                .arg(&perf_file)
                .arg("--")
                .arg(&side.bin);
            c
        }
        None => Command::new(&side.bin),
    };
    cmd.args(args).envs(side.env.iter().cloned()).stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::null());
    Ok((cmd.spawn().map_err(|e| format!("starting {}: {e}", side.bin.display()))?, perf_file))
}

/// Boot once to the end of grub.cfg (optionally under perf).
fn boot(side: &Side, extra: &[String], dir: &Path, perf: Option<&PathBuf>) -> Result<Finished, Error> {
    let serial = dir.join(format!("{}.serial", side.name));
    let stats = dir.join(format!("{}.exits", side.name));
    let _ = std::fs::remove_file(&serial);
    let _ = std::fs::remove_file(&stats);
    let mut side_env =
        Side { env: side.env.clone(), bin: side.bin.clone(), extra: vec![], name: side.name, qemu: side.qemu };
    if perf.is_some() && !side.qemu {
        side_env.env.push(("IRONIDE_EXIT_STATS".into(), stats.display().to_string()));
    }
    let args = command_line(&serial, extra, side);
    let (mut child, perf_file) = spawn(&side_env, &args, dir, perf)?;
    let start = Instant::now();
    let status = loop {
        if let Some(st) = child.try_wait()? {
            break st;
        }
        if start.elapsed() > TIMEOUT {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!("no exit after {TIMEOUT:?}").into());
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let text = std::fs::read_to_string(&serial).unwrap_or_default();
    if !firmware_tests::grub::flatten(&text).contains("GRUB-DONE") {
        return Err(format!("grub.cfg did not finish ({status})").into());
    }
    let perf = perf.and_then(|_| parse_perf(&std::fs::read_to_string(&perf_file).unwrap_or_default()));
    let coalesced = std::fs::read_to_string(&stats)
        .ok()
        .and_then(|t| serde_json::from_str::<Value>(t.lines().last()?).ok())
        .and_then(|v| v["coalesced_pio"].as_u64());
    Ok(Finished { serial: text, perf, coalesced })
}

/// (kvm_userspace_exit, kvm_exit) counts from `perf stat -x,` output.
fn parse_perf(text: &str) -> Option<(u64, u64)> {
    let count = |name: &str| -> Option<u64> {
        text.lines().find(|l| l.split(',').nth(2) == Some(name)).and_then(|l| l.split(',').next()?.trim().parse().ok())
    };
    Some((count("kvm:kvm_userspace_exit")?, count("kvm:kvm_exit")?))
}

fn perf_path() -> Option<PathBuf> {
    let perf = PathBuf::from(which("perf")?);
    let out = Command::new(&perf)
        .args(["stat", "-x,", "-e", "kvm:kvm_userspace_exit,kvm:kvm_exit", "--", "true"])
        .stdout(Stdio::null())
        .output()
        .ok()?;
    (out.status.success() && parse_perf(&String::from_utf8_lossy(&out.stderr)).is_some()).then_some(perf)
}

#[derive(Default)]
struct ExitRates {
    bios: Option<f64>,
    pata: Option<f64>,
    coalesced: Option<f64>,
    kernel_bios: Option<f64>,
    kernel_pata: Option<f64>,
}

/// Exits per MiB read through each path, by difference of three untimed boots.
fn exits_per_mib(side: &Side, media: &Media, dir: &Path, perf: &PathBuf) -> Result<ExitRates, Error> {
    let none = testspeed::media(TINY, TINY)?;
    let bios_only = testspeed::media(media.bios_bytes, TINY)?;
    let runs = [
        boot(side, &none.args(), dir, Some(perf))?,
        boot(side, &bios_only.args(), dir, Some(perf))?,
        boot(side, &media.args(), dir, Some(perf))?,
    ];
    let counts: Vec<(u64, u64)> = runs.iter().map(|r| r.perf.ok_or("no perf counts")).collect::<Result<_, _>>()?;
    let kernel = counts.iter().any(|c| c.1 > 0);
    let per = |a: u64, b: u64, bytes: usize| (a as f64 - b as f64) / ((bytes - TINY) as f64 / MIB);
    let coalesced = match (runs[2].coalesced, runs[0].coalesced) {
        (Some(all), Some(base)) => Some(per(all, base, media.bios_bytes + media.pata_bytes - TINY)),
        _ => None,
    };
    Ok(ExitRates {
        bios: Some(per(counts[1].0, counts[0].0, media.bios_bytes)),
        pata: Some(per(counts[2].0, counts[1].0, media.pata_bytes)),
        coalesced,
        // kvm:kvm_exit never fires under kvm_pvm (the development machines): null, not 0.
        kernel_bios: kernel.then(|| per(counts[1].1, counts[0].1, media.bios_bytes)),
        kernel_pata: kernel.then(|| per(counts[2].1, counts[1].1, media.pata_bytes)),
    })
}

/// The kit's DMA read loop once: host time between its markers.
fn kit_once(side: &Side, kit: &KitWorkload, dir: &Path) -> Result<f64, Error> {
    let serial = dir.join(format!("{}-kit.serial", side.name));
    let _ = std::fs::remove_file(&serial);
    let args = command_line(&serial, &kit.args, side);
    let (mut child, _) = spawn(side, &args, dir, None)?;
    let start = Instant::now();
    let mut began = None;
    let result = loop {
        let text = std::fs::read_to_string(&serial).unwrap_or_default();
        if began.is_none() && text.contains(kit.begin) {
            began = Some(Instant::now());
        }
        if let Some(t0) = began {
            if let Some(bytes) = end_bytes(&text, kit.end) {
                break Ok(bytes as f64 / MIB / t0.elapsed().as_secs_f64().max(1e-9));
            }
        }
        if start.elapsed() > TIMEOUT || child.try_wait()?.is_some() {
            break Err(format!("no `{}` within {TIMEOUT:?}", kit.end).into());
        }
        std::thread::sleep(Duration::from_millis(1));
    };
    let _ = child.kill();
    let _ = child.wait();
    result
}

/// The byte count after the end marker (`DMA-END 1048576`), once its line is complete.
fn end_bytes(serial: &str, end: &str) -> Option<u64> {
    let at = serial.find(end)? + end.len();
    let line = serial[at..].split_once('\n')?.0;
    line.trim().parse().ok()
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".into())
}

fn median(mut v: Vec<f64>) -> Option<f64> {
    v.sort_by(|a, b| a.total_cmp(b));
    match v.len() {
        0 => None,
        n if n % 2 == 1 => Some(v[n / 2]),
        n => Some((v[n / 2 - 1] + v[n / 2]) / 2.0),
    }
}

fn fmt(x: Option<f64>) -> String {
    x.map(|v| format!("{v:.4}")).unwrap_or("-".into())
}

fn fmt0(x: Option<f64>) -> String {
    x.map(|v| format!("{v:.0}")).unwrap_or("-".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn perf_counts_and_kit_markers() {
        let text = "# started\n\n120,,kvm:kvm_userspace_exit,1,100.00,,\n900,,kvm:kvm_exit,1,100.00,,\n";
        assert_eq!(parse_perf(text), Some((120, 900)));
        assert_eq!(parse_perf("<not counted>,,kvm:kvm_exit,0,0,,\n"), None);
        assert_eq!(end_bytes("DMA-BEGIN\r\nDMA-END 1048576\r\n", "DMA-END"), Some(1048576));
        assert_eq!(end_bytes("DMA-END 10485", "DMA-END"), None, "line not finished yet");
    }

    #[test]
    fn medians() {
        assert_eq!(median(vec![3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(vec![]), None);
    }
}
