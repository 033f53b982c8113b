//! A small libqtest-like client: starts `ironide -accel qtest`, speaks the
//! qtest line protocol over the socket ironide connects to, and tracks the
//! interrupt lines it reports. Device sequences live in `ide.rs` / `fdc.rs`.
//!
//! Test helpers panic on protocol errors on purpose: a failed test is the
//! right answer to a malformed reply.
#![allow(dead_code)]

pub mod fdc;
pub mod ide;

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::process::{Child, Command};
use std::time::Duration;

/// One running ironide under qtest.
pub struct Qtest {
    child: Child,
    rd: BufReader<UnixStream>,
    wr: UnixStream,
    /// Every `IRQ raise|lower N` line seen, in order.
    pub irq_log: Vec<String>,
    levels: [bool; 24],
    _dir: tempfile::TempDir,
}

impl Qtest {
    /// `ironide -machine pc,accel=qtest -qtest unix:SOCK -nodefaults -display none ARGS`.
    pub fn start(extra: &[&str]) -> Qtest {
        let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).expect("tempdir");
        let sock = dir.path().join("qtest.sock");
        let listener = UnixListener::bind(&sock).expect("bind");
        let mut args = vec!["-machine".to_string(), "pc,accel=qtest".into(), "-qtest".into()];
        args.push(format!("unix:{}", sock.display()));
        args.extend(["-nodefaults", "-display", "none"].iter().map(|s| s.to_string()));
        args.extend(extra.iter().map(|s| s.to_string()));
        let mut child = Command::new(env!("CARGO_BIN_EXE_ironide")).args(&args).spawn().expect("spawn ironide");
        // Don't block forever when ironide rejects the command line.
        listener.set_nonblocking(true).expect("nonblocking");
        let stream = loop {
            match listener.accept() {
                Ok((s, _)) => break s,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                    if let Ok(Some(st)) = child.try_wait() {
                        panic!("ironide exited before connecting ({st}); args {args:?}");
                    }
                    std::thread::sleep(Duration::from_millis(5));
                }
                Err(e) => panic!("accept: {e}"),
            }
        };
        stream.set_nonblocking(false).expect("blocking");
        stream.set_read_timeout(Some(Duration::from_secs(30))).ok();
        let wr = stream.try_clone().expect("clone");
        let mut q =
            Qtest { child, rd: BufReader::new(stream), wr, irq_log: Vec::new(), levels: [false; 24], _dir: dir };
        assert_eq!(q.cmd("irq_intercept_in ioapic"), "OK");
        q
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
        let _ = self.wr.shutdown(std::net::Shutdown::Both);
        // ironide exits when the qtest peer goes away; don't leave it behind.
        for _ in 0..100 {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
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
