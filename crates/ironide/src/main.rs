//! The ironide binary: a QEMU-compatible command line, then the machine.
//! Exit status: isa-debug-exit's (v << 1) | 1, 0 on quit/shutdown or a
//! reset under -no-reboot, 1 on errors.

use ironide_vmm::config::MachineConfig;

// TODO(integration): replace with `ironide_vmm::cmdline::parse(&args)`
// (and its CmdlineError's Display) once the command-line parser lands;
// declare `mod demo;` and call it when cfg.demo once demo.rs is on main.
fn parse(_args: &[String]) -> Result<MachineConfig, String> {
    Err("the command-line parser is not merged yet".into())
}

fn main() {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_writer(std::io::stderr)
        .init();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let cfg = match parse(&args) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("ironide: {e}");
            std::process::exit(1);
        }
    };
    let code = match ironide_vmm::run(&cfg) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("ironide: {e}");
            1
        }
    };
    std::process::exit(code);
}
