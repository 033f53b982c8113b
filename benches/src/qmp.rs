//! `qmp`: QMP round-trip latency (p50/p99) and commands per second for
//! `query-status` and `query-blockstats` on one connection, ironide against
//! QEMU 7.2 in the same run.
//!
//! Both emulators get the identical command line: KVM, SeaBIOS, `-nodefaults`,
//! a small blank IDE disk (not bootable, so the guest idles in the BIOS) and
//! an empty CD-ROM, QMP as a listening socket (`server=on,wait=off`). The
//! client sends one command, waits for its reply and repeats (no pipelining),
//! after a warm-up, so the figure is the monitor's per-command cost plus one
//! socket round trip. Replies are recognised by their first key rather than
//! parsed, so the client's own JSON work does not dilute the comparison.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use firmware_tests::emulator::BIOS;
use serde_json::{json, Value};

use crate::boot::{ironide_side, qemu_side, Side};
use crate::harness::{bench_dir, round, Opts, Report};

type Error = Box<dyn std::error::Error>;

/// The commands measured, as sent on the wire.
const COMMANDS: &[(&str, &str)] = &[
    ("query-status", "{\"execute\":\"query-status\"}\r\n"),
    ("query-blockstats", "{\"execute\":\"query-blockstats\"}\r\n"),
];
/// Longest wait for the socket, a reply or the process's exit.
const TIMEOUT: Duration = Duration::from_secs(20);
/// Time for SeaBIOS to give up on the boot devices and idle before measuring.
const SETTLE: Duration = Duration::from_millis(1500);

/// The round trips of one command on one emulator.
struct Series {
    command: &'static str,
    /// Round-trip times in microseconds, in the order taken.
    us: Vec<f64>,
    /// Wall time of the whole series.
    wall: Duration,
    /// Size of one reply (CRLF included), to show both answered alike.
    reply_bytes: usize,
}

impl Series {
    fn percentile(&self, p: f64) -> f64 {
        percentile(&self.us, p)
    }

    fn per_second(&self) -> f64 {
        self.us.len() as f64 / self.wall.as_secs_f64().max(1e-9)
    }
}

pub fn run(opts: &Opts) -> std::io::Result<()> {
    bench(opts).map_err(|e| std::io::Error::other(e.to_string()))
}

fn bench(opts: &Opts) -> Result<(), Error> {
    let (n, warmup) = if opts.quick { (2000, 200) } else { (20000, 2000) };
    let dir = bench_dir().join("qmp");
    std::fs::create_dir_all(&dir)?;
    let disk = dir.join("blank-disk.img");
    // Zeros: no boot signature, so SeaBIOS finds nothing to boot and idles.
    std::fs::write(&disk, vec![0u8; 1 << 20])?;
    let mut report = Report::new(
        "qmp",
        &["emulator", "command", "n", "p50 us", "p99 us", "mean us", "max us", "cmds/s", "reply bytes"],
    );
    let ironide = ironide_side()?;
    let qemu = match qemu_side() {
        Ok(q) => Some(q),
        Err(e) => {
            report.note(format!("QEMU 7.2 not available ({e}): ironide only"));
            None
        }
    };
    let mut results: Vec<(&Side, Vec<Series>)> = Vec::new();
    for side in std::iter::once(&ironide).chain(qemu.as_ref()) {
        let series = measure(side, &dir, &disk, n, warmup).map_err(|e| format!("{}: {e}", side.name))?;
        results.push((side, series));
    }
    for (side, set) in &results {
        for s in set {
            report.row(
                vec![
                    side.name.to_string(),
                    s.command.to_string(),
                    s.us.len().to_string(),
                    format!("{:.1}", s.percentile(50.0)),
                    format!("{:.1}", s.percentile(99.0)),
                    format!("{:.1}", mean(&s.us)),
                    format!("{:.1}", s.us.iter().copied().fold(0.0, f64::max)),
                    format!("{:.0}", s.per_second()),
                    s.reply_bytes.to_string(),
                ],
                json!({
                    "emulator": side.name, "command": s.command, "n": s.us.len(),
                    "p50_us": round(s.percentile(50.0), 2), "p90_us": round(s.percentile(90.0), 2),
                    "p99_us": round(s.percentile(99.0), 2), "p999_us": round(s.percentile(99.9), 2),
                    "mean_us": round(mean(&s.us), 2), "cmds_per_s": round(s.per_second(), 0),
                    "reply_bytes": s.reply_bytes,
                }),
            );
        }
    }
    for (k, v) in summary(&results) {
        report.summary(&k, v);
    }
    report.note(format!(
        "{n} sequential round trips per command after {warmup} warm-up ones, one connection; both emulators: \
         -machine pc,accel=kvm -m 128 -bios {BIOS} -nodefaults, a blank 1 MiB IDE disk and an empty CD-ROM, \
         guest idling in SeaBIOS; QMP via -qmp unix:SOCK,server=on,wait=off"
    ));
    report.note(format!("load average (1/5/15 min) at the end: {}", loadavg()));
    report.finish(opts)?;
    Ok(())
}

/// Headline keys: query-status bare (p50_us, ...), query-blockstats prefixed.
fn summary(results: &[(&Side, Vec<Series>)]) -> Vec<(String, Value)> {
    let find = |qemu: bool, cmd: &str| {
        results.iter().find(|(s, _)| s.qemu == qemu).and_then(|(_, set)| set.iter().find(|x| x.command == cmd))
    };
    let mut out = Vec::new();
    for (prefix, cmd) in [("", "query-status"), ("blockstats_", "query-blockstats")] {
        for (side, qemu) in [("", false), ("qemu_", true)] {
            let s = find(qemu, cmd);
            for (key, p) in [("p50_us", 50.0), ("p99_us", 99.0)] {
                let v = s.map(|s| round(s.percentile(p), 1));
                out.push((format!("{prefix}{side}{key}"), v.into()));
            }
            out.push((format!("{prefix}{side}cmds_per_s"), s.map(|s| round(s.per_second(), 0)).into()));
        }
    }
    out
}

/// Start one emulator, time both commands, quit it.
fn measure(side: &Side, dir: &Path, disk: &Path, n: usize, warmup: usize) -> Result<Vec<Series>, Error> {
    let sock = dir.join(format!("{}.sock", side.name));
    let _ = std::fs::remove_file(&sock);
    let mut child = Command::new(&side.bin)
        .args(command_line(&sock, disk, side))
        .envs(side.env.iter().cloned())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("starting {}: {e}", side.bin.display()))?;
    let result = session(&mut child, &sock, n, warmup);
    stop(&mut child);
    result
}

/// The command line both emulators get; only `side.extra` (QEMU's own ROM
/// path and CPU model, as in the boot benchmark) differs.
fn command_line(sock: &Path, disk: &Path, side: &Side) -> Vec<String> {
    let mut a: Vec<String> =
        ["-machine", "pc,accel=kvm", "-m", "128", "-bios", BIOS, "-nodefaults", "-display", "none"]
            .iter()
            .map(|s| s.to_string())
            .collect();
    a.push("-drive".into());
    a.push(format!("file={},format=raw,if=ide,index=0", disk.display()));
    a.extend(["-drive", "if=ide,index=2,media=cdrom", "-qmp"].map(String::from));
    a.push(format!("unix:{},server=on,wait=off", sock.display()));
    a.extend(side.extra.iter().cloned());
    a
}

fn session(child: &mut Child, sock: &Path, n: usize, warmup: usize) -> Result<Vec<Series>, Error> {
    let mut qmp = Client::connect(child, sock)?;
    qmp.greeting()?;
    qmp.round_trip("{\"execute\":\"qmp_capabilities\"}\r\n")?;
    std::thread::sleep(SETTLE);
    let mut out = Vec::new();
    for (name, wire) in COMMANDS {
        let mut reply_bytes = 0;
        for _ in 0..warmup {
            reply_bytes = qmp.round_trip(wire)?;
        }
        let mut us = Vec::with_capacity(n);
        let start = Instant::now();
        for _ in 0..n {
            let t = Instant::now();
            qmp.round_trip(wire)?;
            us.push(t.elapsed().as_secs_f64() * 1e6);
        }
        out.push(Series { command: name, us, wall: start.elapsed(), reply_bytes });
    }
    // Best effort: stop() kills it if the quit goes unanswered.
    let _ = qmp.round_trip("{\"execute\":\"quit\"}\r\n");
    Ok(out)
}

/// A minimal QMP client: one line per message, events skipped.
struct Client {
    rd: BufReader<UnixStream>,
    wr: UnixStream,
    line: String,
}

impl Client {
    /// Connect once the server socket is there (it appears after start-up).
    fn connect(child: &mut Child, sock: &Path) -> Result<Client, Error> {
        let start = Instant::now();
        let stream = loop {
            if let Ok(s) = UnixStream::connect(sock) {
                break s;
            }
            if let Some(st) = child.try_wait()? {
                return Err(format!("exited ({st}) before its QMP socket appeared").into());
            }
            if start.elapsed() > TIMEOUT {
                return Err("no QMP socket".into());
            }
            std::thread::sleep(Duration::from_millis(5));
        };
        stream.set_read_timeout(Some(TIMEOUT))?;
        let wr = stream.try_clone()?;
        Ok(Client { rd: BufReader::new(stream), wr, line: String::new() })
    }

    fn read_line(&mut self) -> Result<usize, Error> {
        self.line.clear();
        let len = self.rd.read_line(&mut self.line)?;
        if len == 0 {
            return Err("QMP connection closed".into());
        }
        Ok(len)
    }

    fn greeting(&mut self) -> Result<(), Error> {
        self.read_line()?;
        if !self.line.starts_with("{\"QMP\"") {
            return Err(format!("unexpected greeting {}", self.line.trim_end()).into());
        }
        Ok(())
    }

    /// Send one command and wait for its reply: the reply's size in bytes.
    fn round_trip(&mut self, wire: &str) -> Result<usize, Error> {
        self.wr.write_all(wire.as_bytes())?;
        loop {
            let len = self.read_line()?;
            match reply_kind(&self.line) {
                Reply::Return => return Ok(len),
                Reply::Error => return Err(format!("{} -> {}", wire.trim_end(), self.line.trim_end()).into()),
                Reply::Event => {}
            }
        }
    }
}

#[derive(Debug, PartialEq)]
enum Reply {
    Return,
    Error,
    Event,
}

/// Replies begin with their `return` or `error` key in both emulators; any
/// other message is an event (a guest reset, say) and is skipped.
fn reply_kind(line: &str) -> Reply {
    let l = line.trim_start();
    if l.starts_with("{\"return\"") {
        Reply::Return
    } else if l.starts_with("{\"error\"") {
        Reply::Error
    } else {
        Reply::Event
    }
}

/// Wait for the exit `quit` asked for; kill it if it lingers.
fn stop(child: &mut Child) {
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(5) {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let _ = child.kill();
    let _ = child.wait();
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".into())
}

/// Nearest-rank percentile; 0 for an empty set.
fn percentile(xs: &[f64], p: f64) -> f64 {
    if xs.is_empty() {
        return 0.0;
    }
    let mut v = xs.to_vec();
    v.sort_by(|a, b| a.total_cmp(b));
    let rank = ((p / 100.0) * v.len() as f64).ceil() as usize;
    v[rank.clamp(1, v.len()) - 1]
}

fn mean(xs: &[f64]) -> f64 {
    if xs.is_empty() {
        0.0
    } else {
        xs.iter().sum::<f64>() / xs.len() as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let xs: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(percentile(&xs, 50.0), 50.0);
        assert_eq!(percentile(&xs, 99.0), 99.0);
        assert_eq!(percentile(&xs, 100.0), 100.0);
        assert_eq!(percentile(&[7.0], 99.0), 7.0);
        assert_eq!(percentile(&[], 50.0), 0.0);
        assert_eq!(mean(&[1.0, 2.0, 6.0]), 3.0);
    }

    #[test]
    fn replies_are_told_from_events() {
        assert_eq!(reply_kind("{\"return\": {}}\r\n"), Reply::Return);
        assert_eq!(reply_kind("{\"error\": {\"class\": \"GenericError\"}}\r\n"), Reply::Error);
        assert_eq!(reply_kind("{\"timestamp\": {\"seconds\": 1}, \"event\": \"RESET\"}\r\n"), Reply::Event);
        assert_eq!(reply_kind("{\"event\": \"STOP\"}\r\n"), Reply::Event);
    }

    #[test]
    fn both_sides_get_the_same_command_line() {
        let side =
            Side { name: "q", bin: "q".into(), env: vec![], extra: vec!["-cpu".into(), "qemu64".into()], qemu: true };
        let a = command_line(Path::new("/s"), Path::new("/d"), &side).join(" ");
        assert!(a.starts_with("-machine pc,accel=kvm -m 128 -bios /usr/share/seabios/bios.bin -nodefaults"));
        assert!(a.contains("-drive file=/d,format=raw,if=ide,index=0 -drive if=ide,index=2,media=cdrom"));
        assert!(a.ends_with("-qmp unix:/s,server=on,wait=off -cpu qemu64"));
    }
}
