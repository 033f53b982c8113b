//! The ironide binary: a QEMU-compatible command line, then the machine.
//! Exit status: isa-debug-exit's (v << 1) | 1, 0 on quit/shutdown or a
//! reset under -no-reboot, 1 on errors. With no disk options at all it runs
//! the built-in demo and exits 0 when every check of the demo passed.

mod demo;

use ironide_vmm::cmdline;

fn fail(e: impl std::fmt::Display) -> ! {
    eprintln!("ironide: {e}");
    exit(1);
}

/// Exit without waiting for the machine's threads, letting go of the image
/// locks first (process::exit runs no destructors, and io_uring would keep
/// the locked files alive for a moment after the process is gone).
fn exit(code: i32) -> ! {
    ironide_block::driver::lock::release_all_for_exit();
    std::process::exit(code);
}

fn main() {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_writer(std::io::stderr)
        .init();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let cfg = cmdline::parse(&args).unwrap_or_else(|e| fail(e));
    if cfg.demo {
        exit(run_demo(&args));
    }
    let code = ironide_vmm::run(&cfg).unwrap_or_else(|e| fail(e));
    exit(code);
}

/// Build the demo's floppy, disk and CD, boot the demo guest from the
/// floppy, print its report and say whether every check passed.
fn run_demo(user_args: &[String]) -> i32 {
    let dir = std::env::temp_dir().join(format!("ironide-demo-{}", std::process::id()));
    if let Err(e) = std::fs::create_dir_all(&dir) {
        fail(format!("cannot create {}: {e}", dir.display()));
    }
    let extra = demo::build_images(&dir).unwrap_or_else(|e| fail(format!("cannot build the demo images: {e}")));
    let mut args = user_args.to_vec();
    args.extend(extra);
    let cfg = cmdline::parse(&args).unwrap_or_else(|e| fail(e));
    let result = ironide_vmm::run(&cfg);
    let serial = std::fs::read_to_string(dir.join("serial.log")).unwrap_or_default();
    let _ = std::fs::remove_dir_all(&dir);
    print!("{serial}");
    match result {
        Err(e) => fail(e),
        Ok(_) if demo::report_passed(&serial) => 0,
        Ok(code) => {
            eprintln!("ironide: the demo did not pass (guest exit status {code})");
            1
        }
    }
}
