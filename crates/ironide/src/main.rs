//! The ironide binary. The machine (KVM, devices, qtest, QMP) is not built
//! yet; until it is, the binary says so instead of pretending.

fn main() {
    eprintln!("ironide: the machine is not implemented yet; only the block layer and its benchmarks exist (see README.md)");
    std::process::exit(1);
}
