//! `-qtest-log FILE`: every request and reply with the time since the
//! connection opened, in QEMU's format ("[R +0.000123] outb 0x70 0x0e",
//! "[S +0.000130] OK"). Logging is best effort: a failing log file is
//! dropped rather than disturbing the protocol.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::time::Instant;

pub struct QtestLog {
    out: Option<BufWriter<File>>,
    start: Instant,
}

impl QtestLog {
    pub fn new(file: Option<File>) -> Self {
        let mut log = QtestLog { out: file.map(BufWriter::new), start: Instant::now() };
        log.emit(|w, _| writeln!(w, "[I {:.6}] OPENED", 0.0));
        log
    }

    pub fn is_enabled(&self) -> bool {
        self.out.is_some()
    }

    pub fn closed(&mut self) {
        self.emit(|w, t| writeln!(w, "[I +{t:.6}] CLOSED"));
    }

    /// A request, words separated by single spaces.
    pub fn request(&mut self, words: &str) {
        self.emit(|w, t| writeln!(w, "[R +{t:.6}] {words}"));
    }

    /// Everything sent, one log line per protocol line.
    pub fn sent(&mut self, bytes: &[u8]) {
        self.emit(|w, t| {
            for line in bytes.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
                write!(w, "[S +{t:.6}] ")?;
                w.write_all(line)?;
                w.write_all(b"\n")?;
            }
            Ok(())
        });
    }

    fn emit(&mut self, f: impl FnOnce(&mut BufWriter<File>, f64) -> std::io::Result<()>) {
        let elapsed = self.start.elapsed().as_secs_f64();
        if let Some(w) = self.out.as_mut() {
            if f(w, elapsed).and_then(|()| w.flush()).is_err() {
                self.out = None;
            }
        }
    }
}
