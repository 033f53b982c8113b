//! The qtest mode over its real socket, the way libqtest drives QEMU: the
//! test listens, `ironide -accel qtest -qtest unix:PATH` connects, commands
//! go one per line.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::process::{Child, Command};
use std::time::Duration;

struct Qtest {
    child: Child,
    rd: BufReader<UnixStream>,
    wr: UnixStream,
    irqs: Vec<String>,
    _dir: tempfile::TempDir,
}

impl Qtest {
    fn start(extra: &[&str]) -> Qtest {
        let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).expect("tempdir");
        let sock = dir.path().join("qtest.sock");
        let listener = UnixListener::bind(&sock).expect("bind");
        let mut args = vec!["-machine".to_string(), "pc,accel=qtest".into(), "-qtest".into()];
        args.push(format!("unix:{}", sock.display()));
        args.extend(["-nodefaults", "-display", "none"].iter().map(|s| s.to_string()));
        args.extend(extra.iter().map(|s| s.to_string()));
        let child = Command::new(env!("CARGO_BIN_EXE_ironide")).args(&args).spawn().expect("spawn ironide");
        let (stream, _) = listener.accept().expect("ironide connects");
        stream.set_read_timeout(Some(Duration::from_secs(20))).ok();
        let wr = stream.try_clone().expect("clone");
        Qtest { child, rd: BufReader::new(stream), wr, irqs: Vec::new(), _dir: dir }
    }

    /// Send one command; return its reply, collecting IRQ lines before it.
    fn cmd(&mut self, line: &str) -> String {
        writeln!(self.wr, "{line}").expect("send");
        loop {
            let mut r = String::new();
            self.rd.read_line(&mut r).expect("reply");
            assert!(!r.is_empty(), "ironide closed the qtest socket after '{line}'");
            let r = r.trim_end().to_string();
            if r.starts_with("IRQ ") {
                self.irqs.push(r);
            } else {
                return r;
            }
        }
    }

    fn num(&mut self, line: &str) -> u64 {
        let r = self.cmd(line);
        let v = r.strip_prefix("OK ").unwrap_or_else(|| panic!("'{line}' -> '{r}'"));
        match v.strip_prefix("0x") {
            Some(h) => u64::from_str_radix(h, 16).expect("hex"),
            None => v.parse().expect("decimal"),
        }
    }
}

impl Drop for Qtest {
    fn drop(&mut self) {
        let _ = self.wr.shutdown(std::net::Shutdown::Both);
        // ironide exits when the qtest peer goes away; don't leave it behind.
        for _ in 0..50 {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn disk(dir_hint: &str) -> (tempfile::NamedTempFile, String) {
    let mut f = tempfile::Builder::new().prefix(dir_hint).tempfile_in(env!("CARGO_TARGET_TMPDIR")).expect("img");
    let data: Vec<u8> = (0..(1u32 << 20)).map(|i| (i % 251) as u8).collect();
    f.write_all(&data).expect("write");
    let p = f.path().display().to_string();
    (f, p)
}

#[test]
fn basic_protocol_and_clock() {
    let mut q = Qtest::start(&[]);
    assert_eq!(q.cmd("endianness"), "OK little");
    assert_eq!(q.cmd("clock_step 1000"), "OK 1000");
    assert_eq!(q.cmd("clock_set 5000"), "OK 5000");
    assert!(q.cmd("frobnicate 1").starts_with("FAIL Unknown command 'frobnicate'"));
    assert_eq!(q.cmd("writel 0x1000 0x12345678"), "OK");
    assert_eq!(q.num("readl 0x1000"), 0x12345678);
    assert_eq!(q.cmd("write 0x2000 4 0xdeadbeef"), "OK");
    assert_eq!(q.cmd("read 0x2000 4"), "OK 0xdeadbeef");
    // A 16 KiB write in one line (32 KiB of hex).
    let hex: String = (0..16384).map(|i| format!("{:02x}", i % 256)).collect();
    assert_eq!(q.cmd(&format!("write 0x10000 16384 0x{hex}")), "OK");
    assert_eq!(q.cmd("read 0x10000 16384"), format!("OK 0x{hex}"));
}

#[test]
fn pci_and_cmos_through_ports() {
    let mut q = Qtest::start(&[]);
    // 00:01.1 vendor/device: PIIX3 IDE.
    assert_eq!(q.cmd(&format!("outl 0xcf8 {:#x}", 0x8000_0000u32 | (1 << 11) | (1 << 8))), "OK");
    assert_eq!(q.num("inl 0xcfc"), 0x7010_8086);
    // CMOS status register D: valid RAM and time.
    assert_eq!(q.cmd("outb 0x70 0x0d"), "OK");
    assert_eq!(q.num("inb 0x71"), 0x80);
}

#[test]
fn ide_identify_raises_irq_14_before_ok() {
    let (_img, path) = disk("qt-ident");
    let drive = format!("file={path},if=ide,index=0,format=raw");
    let mut q = Qtest::start(&["-drive", &drive]);
    assert_eq!(q.cmd("irq_intercept_in ioapic"), "OK");
    assert_eq!(q.cmd("outb 0x1f6 0xa0"), "OK");
    assert_eq!(q.cmd("outb 0x1f7 0xec"), "OK");
    assert_eq!(q.irqs, vec!["IRQ raise 14".to_string()], "the IRQ line comes before the OK of the command");
    // DRDY|DSC|DRQ... at least DRDY and DRQ, no BSY.
    let st = q.num("inb 0x3f6");
    assert_eq!(st & 0x88, 0x08, "status {st:#x}");
    let words: Vec<u16> = (0..256).map(|_| q.num("inw 0x1f0") as u16).collect();
    assert_eq!(words[0], 0x0040);
    let serial: String = words[10..20].iter().flat_map(|w| [(w >> 8) as u8 as char, (*w & 0xff) as u8 as char]).collect();
    assert_eq!(serial.trim_end(), "QM00001");
    // Status read lowers the line.
    q.irqs.clear();
    q.num("inb 0x1f7");
    assert_eq!(q.irqs, vec!["IRQ lower 14".to_string()]);
}

#[test]
fn peer_close_ends_the_process() {
    let mut q = Qtest::start(&[]);
    assert_eq!(q.cmd("endianness"), "OK little");
    let _ = q.wr.shutdown(std::net::Shutdown::Both);
    let mut status = None;
    for _ in 0..250 {
        if let Ok(Some(s)) = q.child.try_wait() {
            status = Some(s);
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(status.and_then(|s| s.code()), Some(0), "ironide exits 0 when the qtest peer closes");
}
