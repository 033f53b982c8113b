//! The qtest server over a real Unix socket against a fake machine: framing,
//! ordering, long lines, asynchronous interrupts, the log and disconnects.

use std::io::{Read, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::thread;
use std::time::{Duration, Instant};

use ironide_vmm::qtest::{connect, execute_line, QtestMachine, QtestServer, MAX_LINE};

/// 1 MiB of RAM at address 0. Writing port 0x10 raises IRQ `val` at once;
/// writing port 0x11 starts a "block request" whose completion raises IRQ
/// `val` when the machine settles; reading port 0x10 lowers IRQ 14.
#[derive(Default)]
struct Fake {
    mem: Vec<u8>,
    calls: Vec<String>,
    now: u64,
    intercepting: bool,
    changes: Vec<(u32, bool)>,
    completions: Vec<u32>,
    settles: usize,
}

impl Fake {
    fn new() -> Self {
        Fake { mem: vec![0; 1 << 20], ..Default::default() }
    }
}

impl QtestMachine for Fake {
    fn pio_read(&mut self, port: u16, size: u8) -> u32 {
        self.calls.push(format!("in{size} {port:#x}"));
        if port == 0x10 && self.intercepting {
            self.changes.push((14, false));
        }
        0x50
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
        let Some(src) = self.mem.get(addr as usize..addr as usize + buf.len()) else { return false };
        buf.copy_from_slice(src);
        true
    }
    fn mem_write(&mut self, addr: u64, data: &[u8]) -> bool {
        let Some(dst) = self.mem.get_mut(addr as usize..addr as usize + data.len()) else { return false };
        dst.copy_from_slice(data);
        true
    }
    fn clock_now(&self) -> u64 {
        self.now
    }
    fn clock_step(&mut self, ns: Option<u64>) -> u64 {
        self.now += ns.unwrap_or(0);
        self.now
    }
    fn clock_set(&mut self, ns: u64) -> u64 {
        self.now = self.now.max(ns);
        self.now
    }
    fn irq_intercept(&mut self, enable: bool) -> bool {
        self.intercepting = enable;
        true
    }
    fn take_irq_changes(&mut self) -> Vec<(u32, bool)> {
        std::mem::take(&mut self.changes)
    }
    fn settle(&mut self) {
        self.settles += 1;
        for irq in std::mem::take(&mut self.completions) {
            if self.intercepting {
                self.changes.push((irq, true));
            }
        }
    }
}

/// Server and client ends of one connection, driven from one thread.
struct Harness {
    server: QtestServer,
    client: UnixStream,
    m: Fake,
}

impl Harness {
    fn new() -> Self {
        Self::with_log(None)
    }

    fn with_log(log: Option<std::fs::File>) -> Self {
        let (ours, theirs) = UnixStream::pair().unwrap();
        theirs.set_nonblocking(true).unwrap();
        Harness { server: QtestServer::new(ours, log), client: theirs, m: Fake::new() }
    }

    /// Sends `bytes`, lets the server serve them, returns what it answered.
    fn exchange(&mut self, bytes: &[u8]) -> String {
        self.send(bytes);
        assert!(self.server.on_readable(&mut self.m).unwrap());
        self.received()
    }

    fn send(&mut self, bytes: &[u8]) {
        self.client.set_nonblocking(false).unwrap();
        self.client.write_all(bytes).unwrap();
        self.client.set_nonblocking(true).unwrap();
    }

    fn received(&mut self) -> String {
        let mut got = Vec::new();
        let mut buf = [0u8; 65536];
        loop {
            match self.client.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => got.extend_from_slice(&buf[..n]),
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                Err(e) => panic!("{e}"),
            }
        }
        String::from_utf8(got).unwrap()
    }
}

/// Serves until the peer closes, polling (the client runs in a thread).
fn serve_until_closed(server: &mut QtestServer, m: &mut Fake) {
    let deadline = Instant::now() + Duration::from_secs(120);
    while server.on_readable(m).unwrap() {
        assert!(Instant::now() < deadline, "client never finished");
        thread::sleep(Duration::from_millis(1));
    }
}

#[test]
fn every_command_over_the_socket() {
    let mut h = Harness::new();
    let script = [
        ("outb 0x70 0x0e", "OK"),
        ("outw 0x1f0 0x1234", "OK"),
        ("outl 0xcf8 0x80000000", "OK"),
        ("inb 0x71", "OK 0x0050"),
        ("inw 0x1f0", "OK 0x0050"),
        ("inl 0xcfc", "OK 0x0050"),
        ("writeb 0x1000 0x12", "OK"),
        ("writew 0x1002 0x3456", "OK"),
        ("writel 0x1004 0x789abcde", "OK"),
        ("writeq 0x1008 0x0011223344556677", "OK"),
        ("readb 0x1000", "OK 0x0000000000000012"),
        ("readw 0x1002", "OK 0x0000000000003456"),
        ("readl 0x1004", "OK 0x00000000789abcde"),
        ("readq 0x1008", "OK 0x0011223344556677"),
        ("read 0x1000 4", "OK 0x12005634"),
        ("write 0x2000 3 0xa1b2c3", "OK"),
        ("read 0x2000 3", "OK 0xa1b2c3"),
        ("b64write 0x3000 3 AQID", "OK"),
        ("b64read 0x3000 3", "OK AQID"),
        ("memset 0x4000 16 0x5a", "OK"),
        ("read 0x400e 2", "OK 0x5a5a"),
        ("clock_step 100", "OK 100"),
        ("clock_step", "OK 100"),
        ("clock_set 1000000", "OK 1000000"),
        ("endianness", "OK little"),
        ("irq_intercept_in ioapic", "OK"),
        ("irq_intercept_out ioapic", "OK"),
        ("nonsense 1", "FAIL Unknown command 'nonsense'"),
    ];
    for (request, reply) in script {
        assert_eq!(h.exchange(format!("{request}\n").as_bytes()), format!("{reply}\n"), "{request}");
    }
}

#[test]
fn several_commands_in_one_read_answer_in_order() {
    let mut h = Harness::new();
    let got = h.exchange(b"outb 0x70 1\ninb 0x71\nbogus\nclock_step 5\n");
    assert_eq!(got, "OK\nOK 0x0050\nFAIL Unknown command 'bogus'\nOK 5\n");
    assert_eq!(h.m.calls, ["out1 0x70 0x1", "in1 0x71"]);
}

#[test]
fn lines_split_across_reads() {
    let mut h = Harness::new();
    assert_eq!(h.exchange(b"outb 0x7"), "");
    assert_eq!(h.exchange(b"0 0x0"), "");
    assert_eq!(h.exchange(b"e\ninb 0x71\nend"), "OK\nOK 0x0050\n");
    assert_eq!(h.exchange(b"ianness\n"), "OK little\n");
    assert_eq!(h.m.calls, ["out1 0x70 0xe", "in1 0x71"]);
}

#[test]
fn long_write_and_read_in_pieces() {
    let mut h = Harness::new();
    let data: Vec<u8> = (0..16384u32).map(|i| (i * 7 + i / 256) as u8).collect();
    let hex: String = data.iter().map(|b| format!("{b:02x}")).collect();
    let line = format!("write 0x10000 {} 0x{hex}\n", data.len());
    // Three uneven pieces, each served before the next arrives.
    let (a, rest) = line.as_bytes().split_at(5000);
    let (b, c) = rest.split_at(20000);
    assert_eq!(h.exchange(a), "");
    assert_eq!(h.exchange(b), "");
    assert_eq!(h.exchange(c), "OK\n");
    assert_eq!(&h.m.mem[0x10000..0x14000], &data[..]);
    assert_eq!(h.exchange(b"read 0x10000 0x4000\n"), format!("OK 0x{hex}\n"));
}

#[test]
fn megabyte_transfers_with_a_concurrent_client() {
    let (ours, mut theirs) = UnixStream::pair().unwrap();
    let mut server = QtestServer::new(ours, None);
    let mut m = Fake::new();
    let data: Vec<u8> = (0..1u32 << 20).map(|i| (i ^ (i >> 11)) as u8).collect();
    let expect = data.clone();
    let client = thread::spawn(move || {
        let hex: String = data.iter().map(|b| format!("{b:02x}")).collect();
        theirs
            .write_all(format!("write 0 0x100000 0x{hex}\nread 0 0x100000\nb64read 0 0x100000\n").as_bytes())
            .unwrap();
        theirs.shutdown(std::net::Shutdown::Write).unwrap();
        let mut replies = String::new();
        theirs.read_to_string(&mut replies).unwrap();
        (replies, hex)
    });
    serve_until_closed(&mut server, &mut m);
    drop(server); // the client reads to EOF
    let (replies, hex) = client.join().unwrap();
    let lines: Vec<&str> = replies.lines().collect();
    assert_eq!(lines.len(), 3);
    assert_eq!(lines[0], "OK");
    assert_eq!(lines[1].strip_prefix("OK 0x"), Some(hex.as_str()));
    assert!(lines[2].starts_with("OK ") && lines[2].len() == 3 + (1 << 20) / 3 * 4 + 4);
    assert_eq!(m.mem, expect);
}

#[test]
fn b64_round_trip() {
    let mut h = Harness::new();
    for len in [1usize, 2, 3, 4, 5, 255, 4096] {
        let data: Vec<u8> = (0..len).map(|i| (i * 31 + len) as u8).collect();
        let hex: String = data.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(h.exchange(format!("write 0x8000 {len} 0x{hex}\n").as_bytes()), "OK\n");
        let b64 = h.exchange(format!("b64read 0x8000 {len}\n").as_bytes());
        let b64 = b64.strip_prefix("OK ").unwrap().trim_end().to_string();
        assert_eq!(h.exchange(format!("memset 0x8000 {len} 0\n").as_bytes()), "OK\n");
        assert_eq!(h.exchange(format!("b64write 0x9000 {len} {b64}\n").as_bytes()), "OK\n");
        assert_eq!(h.exchange(format!("read 0x9000 {len}\n").as_bytes()), format!("OK 0x{hex}\n"));
    }
}

#[test]
fn irq_changes_come_before_the_reply_that_caused_them() {
    let mut h = Harness::new();
    assert_eq!(h.exchange(b"outb 0x10 14\n"), "OK\n", "nothing before interception");
    assert_eq!(h.exchange(b"irq_intercept_in ioapic\n"), "OK\n");
    assert_eq!(h.exchange(b"outb 0x10 14\n"), "IRQ raise 14\nOK\n");
    assert_eq!(h.exchange(b"inb 0x10\n"), "IRQ lower 14\nOK 0x0050\n");
    // A completion ready by the time the command ends is settled first.
    assert_eq!(h.exchange(b"outb 0x11 15\ninb 0x71\n"), "IRQ raise 15\nOK\nOK 0x0050\n");
}

#[test]
fn completions_outside_commands_are_flushed_asynchronously() {
    let mut h = Harness::new();
    h.exchange(b"irq_intercept_in ioapic\n");
    h.server.flush_async(&mut h.m).unwrap();
    assert_eq!(h.received(), "", "nothing to report");
    h.m.completions.push(14);
    h.m.completions.push(15);
    h.server.flush_async(&mut h.m).unwrap();
    assert_eq!(h.received(), "IRQ raise 14\nIRQ raise 15\n");
    h.m.changes.push((14, false));
    h.server.flush_async(&mut h.m).unwrap();
    assert_eq!(h.received(), "IRQ lower 14\n");
}

#[test]
fn malformed_input_fails_and_the_server_carries_on() {
    let mut h = Harness::new();
    let got = h.exchange(b"\xff\xfe garbage\noutb\noutb 0x70 0xzz\nread 0 0\nwrite 0 1 0xqq\n\n   \noutb 0x70 1\n");
    let lines: Vec<&str> = got.lines().collect();
    assert_eq!(lines.len(), 6, "{got}");
    assert!(lines[0].starts_with("FAIL Unknown command"));
    assert_eq!(lines[1], "FAIL missing argument ADDR");
    assert_eq!(lines[2], "FAIL invalid number '0xzz'");
    assert_eq!(lines[3], "FAIL size must not be zero");
    assert_eq!(lines[4], "FAIL invalid hex digit 'q'");
    assert_eq!(lines[5], "OK");
    assert_eq!(h.m.calls, ["out1 0x70 0x1"]);
}

#[test]
fn overlong_line_is_discarded_with_a_fail() {
    let (ours, mut theirs) = UnixStream::pair().unwrap();
    let mut server = QtestServer::new(ours, None);
    let mut m = Fake::new();
    let client = thread::spawn(move || {
        theirs.write_all(b"outb 0x70 1\nwrite 0 1 0x").unwrap();
        let chunk = vec![b'0'; 1 << 20];
        for _ in 0..=MAX_LINE >> 20 {
            theirs.write_all(&chunk).unwrap();
        }
        theirs.write_all(b"\ninb 0x71\n").unwrap();
        theirs.shutdown(std::net::Shutdown::Write).unwrap();
        let mut replies = String::new();
        theirs.read_to_string(&mut replies).unwrap();
        replies
    });
    serve_until_closed(&mut server, &mut m);
    drop(server); // the client reads to EOF
    let replies = client.join().unwrap();
    assert_eq!(replies, format!("OK\nFAIL line too long (limit {MAX_LINE} bytes)\nOK 0x0050\n"));
    assert_eq!(m.calls, ["out1 0x70 0x1", "in1 0x71"]);
}

#[test]
fn peer_close_is_reported_after_serving_what_arrived() {
    let mut h = Harness::new();
    h.send(b"outb 0x70 1\noutb 0x70 2\noutb 0x70 3");
    h.client.shutdown(std::net::Shutdown::Both).unwrap();
    assert!(!h.server.on_readable(&mut h.m).unwrap());
    assert!(h.server.is_closed());
    // Complete lines ran (their replies had nowhere to go); the partial one did not.
    assert_eq!(h.m.calls, ["out1 0x70 0x1", "out1 0x70 0x2"]);
    assert!(!h.server.on_readable(&mut h.m).unwrap());
    h.m.completions.push(14);
    h.server.flush_async(&mut h.m).unwrap();
}

#[test]
fn dropped_client_is_a_close() {
    let mut h = Harness::new();
    assert_eq!(h.exchange(b"endianness\n"), "OK little\n");
    let Harness { mut server, client, mut m } = h;
    drop(client);
    assert!(!server.on_readable(&mut m).unwrap());
}

#[test]
fn log_records_requests_and_replies() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("qtest.log");
    let mut h = Harness::with_log(Some(std::fs::File::create(&path).unwrap()));
    h.exchange(b"irq_intercept_in ioapic\noutb  0x10   14\nfoo\n");
    h.m.completions.push(15);
    h.server.flush_async(&mut h.m).unwrap();
    drop(h.client);
    assert!(!h.server.on_readable(&mut h.m).unwrap());
    let log = std::fs::read_to_string(&path).unwrap();
    let shapes: Vec<String> = log.lines().map(strip_timestamp).collect();
    assert_eq!(
        shapes,
        [
            "[I T] OPENED",
            "[R +T] irq_intercept_in ioapic",
            "[S +T] OK",
            "[R +T] outb 0x10 14",
            "[S +T] IRQ raise 14",
            "[S +T] OK",
            "[R +T] foo",
            "[S +T] FAIL Unknown command 'foo'",
            "[S +T] IRQ raise 15",
            "[I +T] CLOSED",
        ]
    );
    assert!(log.starts_with("[I 0.000000] OPENED\n"));
}

/// "[R +0.000123] x" -> "[R +T] x", checking the timestamp's shape.
fn strip_timestamp(line: &str) -> String {
    let (head, rest) = line.split_once("] ").unwrap();
    let (tag, stamp) = head.split_once(' ').unwrap();
    let (plus, number) = stamp.strip_prefix('+').map_or(("", stamp), |n| ("+", n));
    let (secs, micros) = number.split_once('.').unwrap();
    assert!(secs.bytes().all(|b| b.is_ascii_digit()) && micros.len() == 6, "{line}");
    format!("{tag} {plus}T] {rest}")
}

#[test]
fn connect_reaches_a_listening_test() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("qtest.sock");
    let listener = UnixListener::bind(&path).unwrap();
    let stream = connect(&path).unwrap();
    let (mut test_side, _) = listener.accept().unwrap();
    let mut server = QtestServer::new(stream, None);
    let mut m = Fake::new();
    test_side.write_all(b"clock_step 42\n").unwrap();
    assert!(server.on_readable(&mut m).unwrap());
    let mut reply = [0u8; 6];
    test_side.read_exact(&mut reply).unwrap();
    assert_eq!(&reply, b"OK 42\n");
    assert!(connect(&dir.path().join("absent.sock")).is_err());
}

#[test]
fn execute_line_is_usable_without_a_socket() {
    let mut m = Fake::new();
    let mut out = Vec::new();
    execute_line("irq_intercept_in ioapic", &mut m, &mut out);
    execute_line("outb 0x10 3", &mut m, &mut out);
    assert_eq!(out, b"OK\nIRQ raise 3\nOK\n");
    assert_eq!(m.settles, 2);
}
