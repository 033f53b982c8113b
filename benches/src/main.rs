fn main() {
    eprintln!("benches: being written");
    std::process::exit(1);
}
