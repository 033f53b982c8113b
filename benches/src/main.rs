//! ironide's benchmarks: `cargo run --release -p benches -- NAME [--quick]`.
//! Each prints a table and writes target/bench/NAME.json whose `summary`
//! object holds the headline figures. Benchmarks measure; they never fail a
//! build on a number.

mod backend;
mod boot;
mod devices;
mod guest_io;
mod guest_throttle;
mod harness;
mod histogram;
mod qmp;
mod throttle;

use harness::Opts;

const BENCHES: &[(&str, &str)] = &[
    ("backend", "block layer + io_uring vs fio: 4k QD1/QD32 random read, 1M sequential read/write"),
    ("boot", "time from process start to a boot sector's serial marker (disk, floppy) vs QEMU 7.2; VM exits per boot"),
    ("devices", "ns of IDE device work per 4 KiB DMA read and per PIO sector (null backend)"),
    ("guest-io", "GRUB testspeed (biosdisk, pata) and the kit's DMA loop: MiB/s and exits/MiB vs QEMU 7.2"),
    ("guest-throttle", "a guest's achieved read rate under -drive throttling.* changed live vs QEMU 7.2"),
    ("histogram", "ns per latency recorded into stats + histogram"),
    ("qmp", "QMP round-trip latency p50/p99 and commands/s (query-status, query-blockstats) vs QEMU 7.2"),
    ("throttle", "configured vs achieved throttle rate (bps, iops, burst, group) vs QEMU's throttle"),
];

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let quick = args.iter().any(|a| a == "--quick");
    let names: Vec<&str> = args.iter().filter(|a| !a.starts_with("--")).map(|s| s.as_str()).collect();
    if names.is_empty() || args.iter().any(|a| a == "--help" || a == "-h") {
        eprintln!("usage: benches NAME [--quick]\n");
        for (n, d) in BENCHES {
            eprintln!("  {n:12} {d}");
        }
        std::process::exit(if names.is_empty() { 2 } else { 0 });
    }
    let opts = Opts { quick };
    for name in names {
        let r = match name {
            "backend" => backend::run(&opts),
            "boot" => boot::run(&opts),
            "devices" => devices::run(&opts),
            "guest-io" => guest_io::run(&opts),
            "guest-throttle" => guest_throttle::run(&opts),
            "histogram" => histogram::run(&opts),
            "qmp" => qmp::run(&opts),
            "throttle" => throttle::run(&opts),
            other => {
                eprintln!("benches: unknown benchmark '{other}'");
                std::process::exit(2);
            }
        };
        if let Err(e) = r {
            eprintln!("benches: {name} failed: {e}");
            std::process::exit(1);
        }
    }
}
