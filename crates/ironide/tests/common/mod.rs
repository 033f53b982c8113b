//! The one harness of the integration tests, libqtest-like: starts
//! `ironide -accel qtest`, speaks the qtest line protocol over the socket
//! ironide connects to, and tracks the interrupt lines it reports. QMP
//! (client, and ironide with qtest + QMP) lives in `qmp.rs`, device
//! sequences in `ide.rs` / `fdc.rs`.
//!
//! Test helpers panic on protocol errors on purpose: a failed test is the
//! right answer to a malformed reply.
#![allow(dead_code)]

pub mod fdc;
pub mod ide;
pub mod qmp;

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus};
use std::time::{Duration, Instant};

/// Longest wait for a connection, a QMP reply or event, or an exit (never
/// hang a test run).
pub const TIMEOUT: Duration = Duration::from_secs(20);

/// Longest wait for one qtest reply.
const QTEST_TIMEOUT: Duration = Duration::from_secs(30);

/// The binary under test.
pub fn ironide() -> Command {
    Command::new(env!("CARGO_BIN_EXE_ironide"))
}

/// A temporary directory under the target's tmpdir.
pub fn tempdir() -> tempfile::TempDir {
    tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).expect("tempdir")
}

/// Accept one connection from ironide, giving up if it exits first (it
/// rejected the command line) or does not connect within `TIMEOUT`.
pub fn accept(l: &UnixListener, child: &mut Child, what: &str) -> UnixStream {
    l.set_nonblocking(true).expect("nonblocking");
    let start = Instant::now();
    loop {
        match l.accept() {
            Ok((s, _)) => {
                s.set_nonblocking(false).expect("blocking");
                return s;
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(e) => panic!("accept {what}: {e}"),
        }
        if let Ok(Some(st)) = child.try_wait() {
            panic!("ironide exited ({st}) before connecting to {what}");
        }
        assert!(start.elapsed() < TIMEOUT, "ironide did not connect to {what}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// The exit status if the process ends within `within`.
pub fn exit_within(child: &mut Child, within: Duration) -> Option<ExitStatus> {
    let start = Instant::now();
    loop {
        if let Ok(Some(st)) = child.try_wait() {
            return Some(st);
        }
        if start.elapsed() >= within {
            return None;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// One running ironide under qtest.
pub struct Qtest {
    pub child: Child,
    rd: BufReader<UnixStream>,
    wr: UnixStream,
    /// Every `IRQ raise|lower N` line seen, in order.
    pub irq_log: Vec<String>,
    levels: [bool; 24],
    /// Holds the sockets; tests may keep their files here too.
    pub dir: tempfile::TempDir,
}

impl Qtest {
    /// `ironide -machine pc,accel=qtest -qtest unix:SOCK -nodefaults -display none ARGS`,
    /// with the ioapic's interrupt lines intercepted.
    pub fn start(extra: &[&str]) -> Qtest {
        let mut q = Qtest::start_raw(extra);
        assert_eq!(q.cmd("irq_intercept_in ioapic"), "OK");
        q
    }

    /// As `start`, without intercepting interrupts.
    pub fn start_raw(extra: &[&str]) -> Qtest {
        Qtest::start_in(tempdir(), extra)
    }

    /// As `start_raw`, with the qtest socket in `dir` (kept as `self.dir`).
    pub fn start_in(dir: tempfile::TempDir, extra: &[&str]) -> Qtest {
        let sock = dir.path().join("qtest.sock");
        let listener = UnixListener::bind(&sock).expect("bind");
        let mut args = vec!["-machine".to_string(), "pc,accel=qtest".into(), "-qtest".into()];
        args.push(format!("unix:{}", sock.display()));
        args.extend(["-nodefaults", "-display", "none"].iter().map(|s| s.to_string()));
        args.extend(extra.iter().map(|s| s.to_string()));
        let mut child = ironide().args(&args).spawn().expect("spawn ironide");
        let stream = accept(&listener, &mut child, "qtest");
        stream.set_read_timeout(Some(QTEST_TIMEOUT)).ok();
        let wr = stream.try_clone().expect("clone");
        Qtest { child, rd: BufReader::new(stream), wr, irq_log: Vec::new(), levels: [false; 24], dir }
    }

    /// `dir/name`.
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Close the qtest socket (ironide exits when its qtest peer goes away).
    pub fn close(&mut self) {
        let _ = self.wr.shutdown(std::net::Shutdown::Both);
    }

    /// Waits for the process to end.
    pub fn wait_exit(&mut self) -> ExitStatus {
        exit_within(&mut self.child, TIMEOUT).expect("ironide did not exit")
    }

    /// Send one request; return its reply, recording the IRQ lines before it.
    pub fn cmd(&mut self, line: &str) -> String {
        writeln!(self.wr, "{line}").expect("send");
        loop {
            let mut r = String::new();
            let got = self.rd.read_line(&mut r);
            if got.is_err() || r.is_empty() {
                std::thread::sleep(Duration::from_millis(50));
                let status = self.child.try_wait();
                panic!("no reply to '{line}' ({got:?}); ironide: {status:?} (its stderr is above)");
            }
            let r = r.trim_end();
            if let Some(rest) = r.strip_prefix("IRQ ") {
                self.note_irq(rest);
                self.irq_log.push(r.to_string());
            } else {
                return r.to_string();
            }
        }
    }

    fn note_irq(&mut self, rest: &str) {
        let (what, n) = rest.split_once(' ').unwrap_or_else(|| panic!("bad IRQ line '{rest}'"));
        let n: usize = n.parse().unwrap_or_else(|_| panic!("bad IRQ number '{rest}'"));
        let level = match what {
            "raise" => true,
            "lower" => false,
            _ => panic!("bad IRQ line '{rest}'"),
        };
        if let Some(l) = self.levels.get_mut(n) {
            *l = level;
        }
    }

    /// The level of interrupt line `n` as last reported.
    pub fn get_irq(&self, n: usize) -> bool {
        self.levels.get(n).copied().unwrap_or(false)
    }

    /// The IRQ lines seen since the last call.
    pub fn take_irq_log(&mut self) -> Vec<String> {
        std::mem::take(&mut self.irq_log)
    }

    /// A reply `OK <number>` (hex with 0x, else decimal).
    pub fn num(&mut self, line: &str) -> u64 {
        let r = self.cmd(line);
        let v = r.strip_prefix("OK ").unwrap_or_else(|| panic!("'{line}' -> '{r}'"));
        match v.strip_prefix("0x") {
            Some(h) => u64::from_str_radix(h, 16).unwrap_or_else(|_| panic!("'{line}' -> '{r}'")),
            None => v.parse().unwrap_or_else(|_| panic!("'{line}' -> '{r}'")),
        }
    }

    fn ok(&mut self, line: &str) {
        let r = self.cmd(line);
        assert_eq!(r, "OK", "'{line}'");
    }

    pub fn inb(&mut self, port: u16) -> u8 {
        self.num(&format!("inb {port:#x}")) as u8
    }
    pub fn inw(&mut self, port: u16) -> u16 {
        self.num(&format!("inw {port:#x}")) as u16
    }
    pub fn inl(&mut self, port: u16) -> u32 {
        self.num(&format!("inl {port:#x}")) as u32
    }
    pub fn outb(&mut self, port: u16, v: u8) {
        self.ok(&format!("outb {port:#x} {v:#x}"));
    }
    pub fn outw(&mut self, port: u16, v: u16) {
        self.ok(&format!("outw {port:#x} {v:#x}"));
    }
    pub fn outl(&mut self, port: u16, v: u32) {
        self.ok(&format!("outl {port:#x} {v:#x}"));
    }

    pub fn readb(&mut self, addr: u64) -> u8 {
        self.num(&format!("readb {addr:#x}")) as u8
    }
    pub fn readw(&mut self, addr: u64) -> u16 {
        self.num(&format!("readw {addr:#x}")) as u16
    }
    pub fn readl(&mut self, addr: u64) -> u32 {
        self.num(&format!("readl {addr:#x}")) as u32
    }
    pub fn readq(&mut self, addr: u64) -> u64 {
        self.num(&format!("readq {addr:#x}"))
    }
    pub fn writeb(&mut self, addr: u64, v: u8) {
        self.ok(&format!("writeb {addr:#x} {v:#x}"));
    }
    pub fn writew(&mut self, addr: u64, v: u16) {
        self.ok(&format!("writew {addr:#x} {v:#x}"));
    }
    pub fn writel(&mut self, addr: u64, v: u32) {
        self.ok(&format!("writel {addr:#x} {v:#x}"));
    }
    pub fn writeq(&mut self, addr: u64, v: u64) {
        self.ok(&format!("writeq {addr:#x} {v:#x}"));
    }

    /// `read ADDR SIZE` (hex).
    pub fn memread(&mut self, addr: u64, len: usize) -> Vec<u8> {
        let r = self.cmd(&format!("read {addr:#x} {len:#x}"));
        let hex = r.strip_prefix("OK 0x").unwrap_or_else(|| panic!("read -> '{r}'"));
        assert_eq!(hex.len(), 2 * len, "read reply length");
        (0..len).map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).expect("hex")).collect()
    }

    /// `write ADDR SIZE 0x..` (hex).
    pub fn memwrite(&mut self, addr: u64, data: &[u8]) {
        let hex: String = data.iter().map(|b| format!("{b:02x}")).collect();
        self.ok(&format!("write {addr:#x} {:#x} 0x{hex}", data.len()));
    }

    /// `b64read ADDR SIZE`.
    pub fn b64read(&mut self, addr: u64, len: usize) -> Vec<u8> {
        let r = self.cmd(&format!("b64read {addr:#x} {len:#x}"));
        let text = r.strip_prefix("OK ").unwrap_or_else(|| panic!("b64read -> '{r}'"));
        base64_decode(text)
    }

    /// `b64write ADDR SIZE B64`.
    pub fn b64write(&mut self, addr: u64, data: &[u8]) {
        self.ok(&format!("b64write {addr:#x} {:#x} {}", data.len(), base64_encode(data)));
    }

    pub fn memset(&mut self, addr: u64, len: usize, v: u8) {
        self.ok(&format!("memset {addr:#x} {len:#x} {v:#x}"));
    }

    /// `clock_step [NS]`: the new virtual time.
    pub fn clock_step(&mut self, ns: Option<u64>) -> u64 {
        match ns {
            Some(ns) => self.num(&format!("clock_step {ns}")),
            None => self.num("clock_step"),
        }
    }

    pub fn clock_set(&mut self, ns: u64) -> u64 {
        self.num(&format!("clock_set {ns}"))
    }

    /// CMOS/RTC byte through ports 0x70/0x71.
    pub fn cmos(&mut self, reg: u8) -> u8 {
        self.outb(0x70, reg);
        self.inb(0x71)
    }

    // PCI configuration mechanism #1.
    fn pci_addr(&mut self, devfn: u8, off: u8) {
        self.outl(0xCF8, 0x8000_0000 | (u32::from(devfn) << 8) | u32::from(off & 0xFC));
    }
    pub fn pci_readl(&mut self, devfn: u8, off: u8) -> u32 {
        self.pci_addr(devfn, off);
        self.inl(0xCFC)
    }
    pub fn pci_readw(&mut self, devfn: u8, off: u8) -> u16 {
        self.pci_addr(devfn, off);
        self.inw(0xCFC + u16::from(off & 2))
    }
    pub fn pci_writel(&mut self, devfn: u8, off: u8, v: u32) {
        self.pci_addr(devfn, off);
        self.outl(0xCFC, v);
    }
    pub fn pci_writew(&mut self, devfn: u8, off: u8, v: u16) {
        self.pci_addr(devfn, off);
        self.outw(0xCFC + u16::from(off & 2), v);
    }
}

impl Drop for Qtest {
    fn drop(&mut self) {
        self.close();
        // ironide exits when the qtest peer goes away; don't leave it behind.
        if exit_within(&mut self.child, Duration::from_secs(1)).is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// A raw image file of `len` bytes, filled by `byte(offset)`; with `sparse`
/// the file is only extended (reads as zeros) and `byte` covers the first MiB.
pub fn image(prefix: &str, len: u64, sparse: bool, byte: impl Fn(u64) -> u8) -> (tempfile::NamedTempFile, String) {
    let mut f = tempfile::Builder::new().prefix(prefix).tempfile_in(env!("CARGO_TARGET_TMPDIR")).expect("img");
    let written = if sparse { len.min(1 << 20) } else { len };
    let data: Vec<u8> = (0..written).map(&byte).collect();
    f.write_all(&data).expect("write image");
    f.as_file().set_len(len).expect("set_len");
    let p = f.path().display().to_string();
    (f, p)
}

/// A raw image `dir/name` of `len` bytes, byte i = i % 251.
pub fn image_in(dir: &Path, name: &str, len: usize) -> PathBuf {
    let p = dir.join(name);
    let data: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
    std::fs::write(&p, data).expect("write image");
    p
}

/// The bytes of an image file now.
pub fn file_bytes(path: &str, off: u64, len: usize) -> Vec<u8> {
    use std::io::{Read, Seek, SeekFrom};
    let mut f = std::fs::File::open(path).expect("open image");
    f.seek(SeekFrom::Start(off)).expect("seek");
    let mut v = vec![0u8; len];
    f.read_exact(&mut v).expect("read image");
    v
}

const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

pub fn base64_encode(data: &[u8]) -> String {
    let mut s = String::new();
    for c in data.chunks(3) {
        let n =
            (u32::from(c[0]) << 16) | (u32::from(*c.get(1).unwrap_or(&0)) << 8) | u32::from(*c.get(2).unwrap_or(&0));
        for i in 0..4 {
            if i <= c.len() {
                s.push(B64[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                s.push('=');
            }
        }
    }
    s
}

pub fn base64_decode(text: &str) -> Vec<u8> {
    let mut out = Vec::new();
    let mut acc = 0u32;
    let mut bits = 0;
    for ch in text.bytes().filter(|&c| c != b'=') {
        let v = B64.iter().position(|&b| b == ch).unwrap_or_else(|| panic!("bad base64 '{}'", ch as char));
        acc = (acc << 6) | v as u32;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    out
}
