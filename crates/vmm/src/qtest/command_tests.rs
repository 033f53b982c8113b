//! execute_line against a recording fake machine.

use super::*;

/// RAM at [0, mem.len()); port reads answer `port_value`; writing port 0x10
/// raises IRQ `val` and writing 0x11 queues a "completion" raising IRQ `val`
/// that only `settle` delivers.
#[derive(Default)]
struct Fake {
    mem: Vec<u8>,
    port_value: u32,
    calls: Vec<String>,
    now: u64,
    deadline: Option<u64>,
    intercepting: bool,
    refuse_intercept: bool,
    changes: Vec<(u32, bool)>,
    completions: Vec<u32>,
}

impl Fake {
    fn new() -> Self {
        Fake { mem: vec![0; 0x1000], ..Default::default() }
    }

    fn run(&mut self, line: &str) -> String {
        let mut out = Vec::new();
        execute_line(line, self, &mut out);
        String::from_utf8(out).expect("replies are ASCII")
    }
}

impl QtestMachine for Fake {
    fn pio_read(&mut self, port: u16, size: u8) -> u32 {
        self.calls.push(format!("in{size} {port:#x}"));
        self.port_value
    }
    fn pio_write(&mut self, port: u16, size: u8, val: u32) {
        self.calls.push(format!("out{size} {port:#x} {val:#x}"));
        match port {
            0x10 if self.intercepting => self.changes.push((val, true)),
            0x11 => self.completions.push(val),
            _ => {}
        }
    }
    fn mem_read(&mut self, addr: u64, buf: &mut [u8]) -> bool {
        self.calls.push(format!("mem_read {addr:#x} {}", buf.len()));
        let mut all = true;
        for (i, b) in buf.iter_mut().enumerate() {
            match self.mem.get(addr as usize + i) {
                Some(v) => *b = *v,
                None => all = false,
            }
        }
        all
    }
    fn mem_write(&mut self, addr: u64, data: &[u8]) -> bool {
        self.calls.push(format!("mem_write {addr:#x} {}", data.len()));
        let mut all = true;
        for (i, v) in data.iter().enumerate() {
            match self.mem.get_mut(addr as usize + i) {
                Some(b) => *b = *v,
                None => all = false,
            }
        }
        all
    }
    fn clock_now(&self) -> u64 {
        self.now
    }
    fn clock_step(&mut self, ns: Option<u64>) -> u64 {
        self.calls.push(format!("clock_step {ns:?}"));
        match ns {
            Some(ns) => self.now += ns,
            None => {
                if let Some(d) = self.deadline.take() {
                    self.now = d;
                }
            }
        }
        self.now
    }
    fn clock_set(&mut self, ns: u64) -> u64 {
        self.calls.push(format!("clock_set {ns}"));
        self.now = self.now.max(ns);
        self.now
    }
    fn irq_intercept(&mut self, enable: bool) -> bool {
        self.calls.push(format!("irq_intercept {enable}"));
        if self.refuse_intercept {
            return false;
        }
        self.intercepting = enable;
        true
    }
    fn take_irq_changes(&mut self) -> Vec<(u32, bool)> {
        std::mem::take(&mut self.changes)
    }
    fn settle(&mut self) {
        for irq in std::mem::take(&mut self.completions) {
            if self.intercepting {
                self.changes.push((irq, true));
            }
        }
    }
}

#[test]
fn port_io() {
    let mut m = Fake::new();
    assert_eq!(m.run("outb 0x70 0x0e"), "OK\n");
    assert_eq!(m.run("outw 0x1f0 0x12345"), "OK\n");
    assert_eq!(m.run("outl 0xcf8 0x80000000"), "OK\n");
    m.port_value = 0x1234_5678;
    assert_eq!(m.run("inb 0x71"), "OK 0x0078\n");
    assert_eq!(m.run("inw 0x1f0"), "OK 0x5678\n");
    assert_eq!(m.run("inl 0xcfc"), "OK 0x12345678\n");
    m.port_value = 0x5;
    assert_eq!(m.run("inb 0x71"), "OK 0x0005\n");
    assert_eq!(
        m.calls,
        [
            "out1 0x70 0xe",
            "out2 0x1f0 0x2345",
            "out4 0xcf8 0x80000000",
            "in1 0x71",
            "in2 0x1f0",
            "in4 0xcfc",
            "in1 0x71"
        ]
    );
}

#[test]
fn port_arguments_checked() {
    let mut m = Fake::new();
    assert_eq!(m.run("outb 0x10000 1"), "FAIL port 0x10000 out of range\n");
    assert_eq!(m.run("inb"), "FAIL missing argument ADDR\n");
    assert_eq!(m.run("outb 0x70"), "FAIL missing argument VALUE\n");
    assert_eq!(m.run("outb 0x70 zz"), "FAIL invalid number 'zz'\n");
    assert_eq!(m.run("inw 0x1f0junk"), "FAIL invalid number '0x1f0junk'\n");
    assert!(m.calls.is_empty());
}

#[test]
fn number_forms() {
    let mut m = Fake::new();
    m.run("outb 0x70 14");
    m.run("outb 0160 016");
    m.run("outb 112 -1");
    assert_eq!(m.calls, ["out1 0x70 0xe", "out1 0x70 0xe", "out1 0x70 0xff"]);
}

#[test]
fn memory_words_little_endian() {
    let mut m = Fake::new();
    assert_eq!(m.run("writel 0x100 0x11223344"), "OK\n");
    assert_eq!(&m.mem[0x100..0x104], [0x44, 0x33, 0x22, 0x11]);
    assert_eq!(m.run("writeq 0x200 0x0102030405060708"), "OK\n");
    assert_eq!(&m.mem[0x200..0x208], [8, 7, 6, 5, 4, 3, 2, 1]);
    assert_eq!(m.run("writew 0x300 0xabcdef"), "OK\n");
    assert_eq!(&m.mem[0x300..0x303], [0xef, 0xcd, 0]);
    assert_eq!(m.run("writeb 0x400 0x1ff"), "OK\n");
    assert_eq!(&m.mem[0x400..0x402], [0xff, 0]);
    assert_eq!(m.run("readb 0x100"), "OK 0x0000000000000044\n");
    assert_eq!(m.run("readw 0x100"), "OK 0x0000000000003344\n");
    assert_eq!(m.run("readl 0x100"), "OK 0x0000000011223344\n");
    assert_eq!(m.run("readq 0x200"), "OK 0x0102030405060708\n");
}

#[test]
fn unassigned_memory_reads_zero() {
    let mut m = Fake::new();
    m.mem[0xfff] = 0xaa;
    assert_eq!(m.run("readl 0xfff"), "OK 0x00000000000000aa\n");
    assert_eq!(m.run("readq 0x100000"), "OK 0x0000000000000000\n");
    assert_eq!(m.run("read 0xffe 4"), "OK 0x00aa0000\n");
    assert_eq!(m.run("writel 0x100000 1"), "OK\n");
}

#[test]
fn ranges_may_not_wrap() {
    let mut m = Fake::new();
    assert_eq!(m.run("readq 0xfffffffffffffff8"), "OK 0x0000000000000000\n");
    assert!(m.run("readq 0xfffffffffffffff9").starts_with("FAIL address range"));
    assert!(m.run("writel 0xfffffffffffffffe 0").starts_with("FAIL address range"));
    assert!(m.run("memset 0xffffffffffffff00 0x101 0").starts_with("FAIL address range"));
    assert!(m.run("read 0xffffffffffffffff 2").starts_with("FAIL address range"));
}

#[test]
fn hex_read_write() {
    let mut m = Fake::new();
    assert_eq!(m.run("write 0x10 4 0xdeadBEEF"), "OK\n");
    assert_eq!(&m.mem[0x10..0x14], [0xde, 0xad, 0xbe, 0xef]);
    assert_eq!(m.run("read 0x10 4"), "OK 0xdeadbeef\n");
    // Short data pads with zeros; the size rules.
    m.mem[0x20..0x24].fill(0x55);
    assert_eq!(m.run("write 0x20 4 0x12"), "OK\n");
    assert_eq!(&m.mem[0x20..0x24], [0x12, 0, 0, 0]);
    assert_eq!(m.run("write 0x20 1 0x3456"), "OK\n");
    assert_eq!(&m.mem[0x20..0x22], [0x34, 0]);
    assert_eq!(m.run("write 0x20 0 0x00"), "OK\n");
    assert_eq!(m.run("write 0x20 1 0x"), "ERR invalid argument size\n");
    assert_eq!(m.run("write 0x20 1 0xzz"), "FAIL invalid hex digit 'z'\n");
    assert_eq!(m.run("write 0x20 1"), "FAIL missing argument DATA\n");
    assert_eq!(m.run("read 0x20 0"), "FAIL size must not be zero\n");
}

#[test]
fn transfer_limit() {
    let mut m = Fake::new();
    let big = MAX_TRANSFER + 1;
    assert_eq!(m.run(&format!("read 0 {big}")), format!("FAIL size {big:#x} too large (limit {MAX_TRANSFER:#x})\n"));
    assert!(m.run(&format!("b64read 0 {big}")).starts_with("FAIL size"));
    assert!(m.run(&format!("write 0 {big} 0x00")).starts_with("FAIL size"));
    assert!(m.calls.is_empty());
}

#[test]
fn base64_read_write() {
    let mut m = Fake::new();
    assert_eq!(m.run("b64write 0x40 6 Zm9vYmFy"), "OK\n");
    assert_eq!(&m.mem[0x40..0x46], b"foobar");
    assert_eq!(m.run("b64read 0x40 6"), "OK Zm9vYmFy\n");
    assert_eq!(m.run("b64read 0x40 4"), "OK Zm9vYg==\n");
    assert_eq!(m.run("b64read 0x40 0"), "OK \n");
    // Mismatched sizes write the shorter.
    m.mem[0x80..0x88].fill(0x55);
    assert_eq!(m.run("b64write 0x80 8 Zm9v"), "OK\n");
    assert_eq!(&m.mem[0x80..0x88], [b'f', b'o', b'o', 0x55, 0x55, 0x55, 0x55, 0x55]);
    assert_eq!(m.run("b64write 0x80 2 Zm9v"), "OK\n");
    assert_eq!(m.calls.last().map(String::as_str), Some("mem_write 0x80 2"));
    assert_eq!(m.run("b64write 0x80 2 Zg"), "ERR invalid argument size\n");
    assert_eq!(m.run("b64write 0x80 3 Zm9*"), "FAIL invalid base64 character '*'\n");
}

#[test]
fn memset_chunks() {
    let mut m = Fake::new();
    assert_eq!(m.run("memset 0x10 0x20 0x1a5"), "OK\n");
    assert!(m.mem[0x10..0x30].iter().all(|&b| b == 0xa5));
    assert_eq!((m.mem[0xf], m.mem[0x30]), (0, 0));
    assert_eq!(m.run("memset 0x10 0 0xff"), "OK\n");
    m.calls.clear();
    assert_eq!(m.run("memset 0x100000 0x20000 0"), "OK\n");
    assert_eq!(m.calls, ["mem_write 0x100000 65536", "mem_write 0x110000 65536"]);
    assert_eq!(m.run("memset 0 1"), "FAIL missing argument VALUE\n");
}

#[test]
fn clock() {
    let mut m = Fake::new();
    assert_eq!(m.run("clock_step 1000"), "OK 1000\n");
    assert_eq!(m.run("clock_step 0x10"), "OK 1016\n");
    m.deadline = Some(5000);
    assert_eq!(m.run("clock_step"), "OK 5000\n");
    assert_eq!(m.run("clock_step"), "OK 5000\n");
    assert_eq!(m.run("clock_step -5"), "OK 5000\n");
    assert_eq!(m.run("clock_set 1000000"), "OK 1000000\n");
    assert_eq!(m.run("clock_set 10"), "OK 1000000\n");
    assert_eq!(m.run("clock_set -1"), "OK 1000000\n");
    assert_eq!(m.run("clock_set"), "FAIL missing argument NS\n");
    assert_eq!(m.run("clock_step 1x"), "FAIL invalid number '1x'\n");
    assert_eq!(
        m.calls,
        [
            "clock_step Some(1000)",
            "clock_step Some(16)",
            "clock_step None",
            "clock_step None",
            "clock_set 1000000",
            "clock_set 10"
        ]
    );
}

#[test]
fn irq_lines_precede_the_reply() {
    let mut m = Fake::new();
    // Not intercepting: nothing reported.
    assert_eq!(m.run("outb 0x10 14"), "OK\n");
    assert_eq!(m.run("irq_intercept_in ioapic"), "OK\n");
    assert_eq!(m.run("outb 0x10 14"), "IRQ raise 14\nOK\n");
    m.changes.push((14, false));
    m.port_value = 0x50;
    assert_eq!(m.run("inb 0x1f7"), "IRQ lower 14\nOK 0x0050\n");
    // A completion delivered by settle also comes before the reply.
    assert_eq!(m.run("outb 0x11 15"), "IRQ raise 15\nOK\n");
    // Even a failing command reports what settled meanwhile.
    m.completions.push(6);
    assert_eq!(m.run("bogus"), "IRQ raise 6\nFAIL Unknown command 'bogus'\n");
}

#[test]
fn irq_intercept_variants() {
    let mut m = Fake::new();
    assert_eq!(m.run("irq_intercept_in /machine/ioapic"), "OK\n");
    assert_eq!(m.run("irq_intercept_in ioapic"), "OK\n");
    assert_eq!(m.run("irq_intercept_out ioapic"), "OK\n");
    assert_eq!(m.run("irq_intercept_in /machine/i8259"), "FAIL Unknown device\n");
    assert_eq!(m.run("irq_intercept_in ioapic named"), "FAIL Interception of named in-GPIOs not yet supported\n");
    assert_eq!(m.run("irq_intercept_in"), "FAIL missing argument QOM-PATH\n");
    m.refuse_intercept = true;
    assert_eq!(m.run("irq_intercept_in ioapic"), "FAIL No intercepts installed\n");
}

#[test]
fn misc_commands() {
    let mut m = Fake::new();
    assert_eq!(m.run("endianness"), "OK little\n");
    assert_eq!(m.run("frobnicate 1 2"), "FAIL Unknown command 'frobnicate'\n");
    assert_eq!(m.run("OUTB 0x70 1"), "FAIL Unknown command 'OUTB'\n");
    assert_eq!(m.run(""), "");
    assert_eq!(m.run("   \r"), "");
    // Extra blanks and a CR before the newline are tolerated.
    assert_eq!(m.run("  outb   0x70  1 \r"), "OK\n");
}
