//! `boot`: wall time from process start to a boot sector's marker on COM1,
//! ironide against QEMU 7.2 in the same run: same SeaBIOS, same images (the
//! firmware tests' `hello` guest on a hard disk and on a 1.44M floppy), the
//! same command line (`-boot menu=off` on both so neither waits in a boot
//! menu). Runs are interleaved and alternate which emulator goes first.
//!
//! Time-to-marker is taken by polling the serial file, not from process exit;
//! the process's total time (until isa-debug-exit) is reported too. VM exits
//! to user space per boot: ours from IRONIDE_EXIT_STATS, QEMU's from the
//! `kvm:kvm_userspace_exit` tracepoint under `perf stat` (one extra, untimed
//! run), when perf can read it.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use firmware_tests::emulator::{unpacked_qemu, BIOS};
use firmware_tests::image;
use serde_json::{json, Value};

use crate::harness::{bench_dir, round, which, Opts, Report};

/// What the hello guest prints once the BIOS has handed it control.
const MARKER: &str = "BOOT OK";
/// A boot that takes longer is killed and counted as failed.
const TIMEOUT: Duration = Duration::from_secs(30);
/// Serial file polling interval: the resolution of time-to-marker.
const POLL: Duration = Duration::from_millis(1);

type Error = Box<dyn std::error::Error>;

/// One boot medium: the guest image and the options that boot from it.
struct Medium {
    name: &'static str,
    args: Vec<String>,
}

/// One emulator: binary, environment and its extra arguments.
pub(crate) struct Side {
    pub(crate) name: &'static str,
    pub(crate) bin: PathBuf,
    pub(crate) env: Vec<(String, String)>,
    pub(crate) extra: Vec<String>,
    pub(crate) qemu: bool,
}

/// One timed boot.
#[derive(Clone, Debug, Default)]
struct Sample {
    marker_ms: Option<f64>,
    total_ms: Option<f64>,
    exits: Option<u64>,
}

pub fn run(opts: &Opts) -> std::io::Result<()> {
    bench(opts).map_err(|e| std::io::Error::other(e.to_string()))
}

fn bench(opts: &Opts) -> Result<(), Error> {
    let runs = if opts.quick { 3 } else { 10 };
    let load_before = loadavg();
    let dir = bench_dir().join("boot");
    std::fs::create_dir_all(&dir)?;
    let mut report = Report::new(
        "boot",
        &["medium", "emulator", "ok", "marker med ms", "marker min ms", "total med ms", "total min ms", "vm exits"],
    );
    let media = media(&dir)?;
    let ironide = ironide_side()?;
    let qemu = match qemu_side() {
        Ok(q) => Some(q),
        Err(e) => {
            report.note(format!("QEMU 7.2 not available ({e}): ironide only"));
            None
        }
    };
    let sides: Vec<&Side> = std::iter::once(&ironide).chain(qemu.as_ref()).collect();

    // samples[medium][side]
    let mut samples: Vec<Vec<Vec<Sample>>> = vec![vec![Vec::new(); sides.len()]; media.len()];
    for i in 0..runs {
        for (m, medium) in media.iter().enumerate() {
            // Alternate who goes first so warm caches favour neither.
            let order: Vec<usize> =
                if i % 2 == 0 { (0..sides.len()).collect() } else { (0..sides.len()).rev().collect() };
            for s in order {
                let sample = boot_once(sides[s], medium, &dir, None).unwrap_or_else(|e| {
                    eprintln!("boot: {} {} run {i}: {e}", sides[s].name, medium.name);
                    Sample::default()
                });
                samples[m][s].push(sample);
            }
        }
    }

    let perf = perf_counts_exits();
    if perf.is_none() {
        report.note("QEMU's VM exits not measured: `perf stat -e kvm:kvm_userspace_exit` is not usable here");
    }
    let mut summary: Vec<(String, Value)> = Vec::new();
    for (m, medium) in media.iter().enumerate() {
        let mut medians = Vec::new();
        for (s, side) in sides.iter().enumerate() {
            let set = &samples[m][s];
            let marker: Vec<f64> = set.iter().filter_map(|x| x.marker_ms).collect();
            let total: Vec<f64> = set.iter().filter_map(|x| x.total_ms).collect();
            let exits = if side.qemu {
                perf.as_ref().and_then(|p| boot_once(side, medium, &dir, Some(p)).ok()).and_then(|x| x.exits)
            } else {
                median_u64(set.iter().filter_map(|x| x.exits).collect())
            };
            let (mmed, mmin) = (median(&marker), min(&marker));
            let (tmed, tmin) = (median(&total), min(&total));
            report.row(
                vec![
                    medium.name.to_string(),
                    side.name.to_string(),
                    format!("{}/{}", marker.len(), set.len()),
                    ms(mmed),
                    ms(mmin),
                    ms(tmed),
                    ms(tmin),
                    exits.map(|e| e.to_string()).unwrap_or("-".into()),
                ],
                json!({
                    "medium": medium.name, "emulator": side.name, "runs": set.len(), "ok": marker.len(),
                    "marker_ms": marker.iter().map(|x| round(*x, 1)).collect::<Vec<_>>(),
                    "total_ms": total.iter().map(|x| round(*x, 1)).collect::<Vec<_>>(),
                    "marker_median_ms": mmed.map(|x| round(x, 1)), "marker_min_ms": mmin.map(|x| round(x, 1)),
                    "total_median_ms": tmed.map(|x| round(x, 1)), "total_min_ms": tmin.map(|x| round(x, 1)),
                    "vm_exits": exits,
                }),
            );
            medians.push((mmed, exits));
        }
        let ours = medians[0];
        let theirs = medians.get(1).copied().unwrap_or((None, None));
        let ratio = match (ours.0, theirs.0) {
            (Some(o), Some(t)) if o > 0.0 => Some(t / o),
            _ => None,
        };
        // The hard-disk boot is the headline; every medium also gets prefixed keys.
        let prefixes: &[&str] = if medium.name == "disk" { &["", "disk_"] } else { &["floppy_"] };
        for p in prefixes {
            summary.push((format!("{p}ironide_ms"), ours.0.map(|x| round(x, 1)).into()));
            summary.push((format!("{p}qemu_ms"), theirs.0.map(|x| round(x, 1)).into()));
            summary.push((format!("{p}ratio"), ratio.map(|x| round(x, 3)).into()));
            summary.push((format!("{p}ironide_exits"), ours.1.into()));
            summary.push((format!("{p}qemu_exits"), theirs.1.into()));
        }
        if let Some(r) = ratio {
            report.note(format!("{}: ratio QEMU / ironide (median time-to-marker) = {r:.3}", medium.name));
        }
    }
    // Other work on the machine stretches every boot: say how busy it was.
    report.note(format!("load average (1/5/15 min) before: {load_before}, after: {}", loadavg()));
    for (k, v) in summary {
        report.summary(&k, v);
    }
    report.note(format!(
        "{runs} interleaved boots per emulator and medium; time from spawn to \"{MARKER}\" on the serial file \
         (polled every {} ms) and to process exit; vm exits = KVM_RUN returns to user space per boot",
        POLL.as_millis()
    ));
    report.finish(opts)?;
    Ok(())
}

/// The hello guest on a hard disk and on a floppy, with the options booting each.
fn media(dir: &Path) -> Result<Vec<Medium>, Error> {
    let boot = firmware_tests::guest::boot_sector("hello")?;
    let disk = dir.join("hello-disk.img");
    let floppy = dir.join("hello-floppy.img");
    image::disk(&disk, image::DISK_60_16_63_SECTORS, &boot)?;
    image::floppy(&floppy, &boot)?;
    let m = |name, path: &Path, iface: &str, order: &str| Medium {
        name,
        args: vec![
            "-drive".into(),
            format!("file={},format=raw,if={iface}", path.display()),
            "-boot".into(),
            format!("order={order},menu=off"),
        ],
    };
    Ok(vec![m("disk", &disk, "ide", "c"), m("floppy", &floppy, "floppy", "a")])
}

/// The workspace's release ironide, rebuilt first so a stale binary is never measured.
pub(crate) fn ironide_side() -> Result<Side, Error> {
    let root = firmware_tests::workspace_root();
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let status = Command::new(cargo).args(["build", "--release", "-p", "ironide"]).current_dir(&root).status()?;
    if !status.success() {
        return Err(format!("cargo build --release -p ironide failed ({status})").into());
    }
    let bin = firmware_tests::target_dir().join("release").join("ironide");
    Ok(Side { name: "ironide", bin, env: vec![], extra: vec![], qemu: false })
}

/// target/qemu72's QEMU, unpacked by firmware-tests/scripts/unpack-qemu.sh when missing.
pub(crate) fn qemu_side() -> Result<Side, Error> {
    let bin = unpacked_qemu();
    if !bin.is_file() {
        let script = firmware_tests::workspace_root().join("firmware-tests/scripts/unpack-qemu.sh");
        eprintln!("boot: unpacking QEMU 7.2 with {}", script.display());
        let status = Command::new("bash").arg(&script).stdout(Stdio::null()).status()?;
        if !status.success() || !bin.is_file() {
            return Err(format!("{} failed ({status})", script.display()).into());
        }
    }
    // PREFIX/usr/bin/qemu-system-x86_64 -> PREFIX
    let prefix = bin.ancestors().nth(3).ok_or("unexpected QEMU path")?.to_path_buf();
    Ok(Side {
        name: "qemu-7.2",
        env: vec![("LD_LIBRARY_PATH".into(), prefix.join("lib").display().to_string())],
        // -L: its own option ROMs (kvmvapic.bin), as an installed QEMU has them.
        extra: ["-cpu", "qemu64", "-global", "kvm-pit.lost_tick_policy=discard", "-L"]
            .iter()
            .map(|s| s.to_string())
            .chain(std::iter::once(prefix.join("usr/share/qemu").display().to_string()))
            .collect(),
        bin,
        qemu: true,
    })
}

/// The contract's command line for one boot.
fn command_line(serial: &Path, medium: &Medium, side: &Side) -> Vec<String> {
    let mut a: Vec<String> =
        ["-machine", "pc,accel=kvm", "-m", "128", "-bios", BIOS, "-nodefaults", "-display", "none", "-serial"]
            .iter()
            .map(|s| s.to_string())
            .collect();
    a.push(format!("file:{}", serial.display()));
    a.extend(medium.args.iter().cloned());
    a.extend(["-device", "isa-debug-exit,iobase=0xf4,iosize=0x04", "-no-reboot"].map(String::from));
    a.extend(side.extra.iter().cloned());
    a
}

/// Boot once; with `perf`, under `perf stat` counting user-space exits (not timed).
fn boot_once(side: &Side, medium: &Medium, dir: &Path, perf: Option<&PathBuf>) -> Result<Sample, Error> {
    let tag = format!("{}-{}", side.name, medium.name);
    let serial = dir.join(format!("{tag}.serial"));
    let exits_file = dir.join(format!("{tag}.exits"));
    let perf_file = dir.join(format!("{tag}.perf"));
    for f in [&serial, &exits_file, &perf_file] {
        let _ = std::fs::remove_file(f);
    }
    let args = command_line(&serial, medium, side);
    let mut cmd = match perf {
        Some(p) => {
            let mut c = Command::new(p);
            c.args(["stat", "-x,", "-e", "kvm:kvm_userspace_exit", "-o"]).arg(&perf_file).arg("--").arg(&side.bin);
            c
        }
        None => Command::new(&side.bin),
    };
    cmd.args(&args).envs(side.env.iter().cloned()).stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::null());
    if !side.qemu {
        cmd.env("IRONIDE_EXIT_STATS", &exits_file);
    }
    let start = Instant::now();
    let mut child = cmd.spawn().map_err(|e| format!("starting {}: {e}", side.bin.display()))?;
    let result = watch(&mut child, &serial, start);
    if result.is_err() {
        let _ = child.kill();
        let _ = child.wait();
    }
    let (marker, total) = result?;
    let exits = if perf.is_some() { perf_exits(&perf_file) } else { ironide_exits(&exits_file) };
    Ok(Sample { marker_ms: Some(marker), total_ms: Some(total), exits })
}

/// Poll the serial file until the marker shows, then wait for the exit: (marker ms, total ms).
fn watch(child: &mut Child, serial: &Path, start: Instant) -> Result<(f64, f64), Error> {
    let mut marker = None;
    loop {
        if marker.is_none() && serial_has_marker(serial) {
            marker = Some(start.elapsed());
        }
        if let Some(status) = child.try_wait()? {
            let total = start.elapsed();
            // The last write may land between the poll and the exit.
            let marker = match marker {
                Some(m) => m,
                None if serial_has_marker(serial) => total,
                None => return Err(format!("exited ({status}) without the marker").into()),
            };
            return Ok((ms_of(marker), ms_of(total)));
        }
        if start.elapsed() > TIMEOUT {
            return Err(format!("no exit after {TIMEOUT:?} (marker seen: {})", marker.is_some()).into());
        }
        std::thread::sleep(POLL);
    }
}

fn serial_has_marker(serial: &Path) -> bool {
    std::fs::read(serial).map(|b| b.windows(MARKER.len()).any(|w| w == MARKER.as_bytes())).unwrap_or(false)
}

/// `exits` from the IRONIDE_EXIT_STATS line.
fn ironide_exits(path: &Path) -> Option<u64> {
    let text = std::fs::read_to_string(path).ok()?;
    let v: Value = serde_json::from_str(text.lines().last()?).ok()?;
    v["exits"].as_u64()
}

/// The count from `perf stat -x,` output (`COUNT,,kvm:kvm_userspace_exit,...`).
fn perf_exits(path: &Path) -> Option<u64> {
    parse_perf_csv(&std::fs::read_to_string(path).ok()?)
}

fn parse_perf_csv(text: &str) -> Option<u64> {
    text.lines().find(|l| l.contains("kvm:kvm_userspace_exit")).and_then(|l| l.split(',').next()?.trim().parse().ok())
}

/// perf, when it can count the kvm_userspace_exit tracepoint (checked on `true`).
fn perf_counts_exits() -> Option<PathBuf> {
    let perf = PathBuf::from(which("perf")?);
    let out = Command::new(&perf)
        .args(["stat", "-x,", "-e", "kvm:kvm_userspace_exit", "--", "true"])
        .stdout(Stdio::null())
        .output()
        .ok()?;
    (out.status.success() && parse_perf_csv(&String::from_utf8_lossy(&out.stderr)).is_some()).then_some(perf)
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".into())
}

fn ms_of(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn ms(x: Option<f64>) -> String {
    x.map(|v| format!("{v:.1}")).unwrap_or("-".into())
}

fn median(xs: &[f64]) -> Option<f64> {
    let mut v = xs.to_vec();
    v.sort_by(|a, b| a.total_cmp(b));
    match v.len() {
        0 => None,
        n if n % 2 == 1 => Some(v[n / 2]),
        n => Some((v[n / 2 - 1] + v[n / 2]) / 2.0),
    }
}

fn median_u64(mut v: Vec<u64>) -> Option<u64> {
    v.sort_unstable();
    v.get(v.len() / 2).copied()
}

fn min(xs: &[f64]) -> Option<f64> {
    xs.iter().copied().min_by(|a, b| a.total_cmp(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn medians_and_minima() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), Some(2.5));
        assert_eq!(median(&[]), None);
        assert_eq!(min(&[3.0, 1.0]), Some(1.0));
        assert_eq!(median_u64(vec![5, 1, 9]), Some(5));
    }

    #[test]
    fn perf_csv_count() {
        let text = "# started on x\n\n1093,,kvm:kvm_userspace_exit,1877430077,100.00,,\n";
        assert_eq!(parse_perf_csv(text), Some(1093));
        assert_eq!(parse_perf_csv("<not supported>,,kvm:kvm_userspace_exit,0,100.00,,\n"), None);
    }

    #[test]
    fn both_sides_get_the_contract_command_line() {
        let medium = Medium { name: "disk", args: vec!["-drive".into(), "file=x,if=ide".into()] };
        let side =
            Side { name: "q", bin: "q".into(), env: vec![], extra: vec!["-cpu".into(), "qemu64".into()], qemu: true };
        let a = command_line(Path::new("/s"), &medium, &side).join(" ");
        assert!(a.starts_with("-machine pc,accel=kvm -m 128 -bios /usr/share/seabios/bios.bin -nodefaults"));
        assert!(a.contains("-serial file:/s -drive file=x,if=ide"));
        assert!(a.ends_with("-no-reboot -cpu qemu64"));
    }
}
