//! Engine tests through the public API: both engines (io_uring and the
//! thread pool), buffered and O_DIRECT files, random workloads against an
//! in-memory model, discard, end of file, long and odd scatter lists, short
//! transfers, SQ-full backlog, errors, the notification eventfd and flush
//! durability across SIGKILL.
//!
//! Helper child processes run this very test binary with
//! `IRONIDE_ENGINE_HELPER` set, selecting the `helper_child` test.
//!
//! The throughput sanity check is `#[ignore]`d; run it with
//! `cargo test --release -p ironide-block --test engines -- --ignored --nocapture`.

use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Read};
use std::os::fd::AsRawFd;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ironide_block::engine::{
    create, AioMode, Engine, EngineCompletion, EngineConfig, EngineKind, EngineOp, EngineRequest,
};
use ironide_block::{AlignedBuf, IoVec};
use proptest::prelude::*;
use vmm_sys_util::eventfd::{EventFd, EFD_NONBLOCK};

const MODES: [AioMode; 2] = [AioMode::IoUring, AioMode::Threads];

/// Generous bound for anything to complete; reaching it is a hang.
const TIMEOUT: Duration = Duration::from_secs(60);

// ---------------------------------------------------------------------------
// Helpers

/// Wait until `fd` is readable or `timeout` passes; true if readable.
pub fn poll_readable(fd: i32, timeout: Duration) -> bool {
    let mut pfd = libc::pollfd { fd, events: libc::POLLIN, revents: 0 };
    let ms = timeout.as_millis().min(i32::MAX as u128) as i32;
    loop {
        // SAFETY: one valid pollfd.
        let r = unsafe { libc::poll(&mut pfd, 1, ms) };
        if r >= 0 {
            return r > 0 && pfd.revents & libc::POLLIN != 0;
        }
        if std::io::Error::last_os_error().raw_os_error() != Some(libc::EINTR) {
            panic!("poll: {}", std::io::Error::last_os_error());
        }
    }
}

/// Collect at least `n` completions from `engine`, sleeping in `poll` on the
/// notification eventfd between reaps. Panics (rather than hanging) if they
/// do not arrive within a minute.
pub fn wait_completions(engine: &mut dyn Engine, notify: &EventFd, n: usize) -> Vec<EngineCompletion> {
    let deadline = Instant::now() + TIMEOUT;
    let mut out = Vec::with_capacity(n);
    loop {
        engine.reap(&mut out);
        if out.len() >= n {
            return out;
        }
        let now = Instant::now();
        if now >= deadline {
            panic!(
                "timed out waiting for {n} completions: got {}, engine reports {} in flight",
                out.len(),
                engine.in_flight()
            );
        }
        if poll_readable(notify.as_raw_fd(), (deadline - now).min(Duration::from_secs(1))) {
            let _ = notify.read();
        }
    }
}

fn tmpdir() -> tempfile::TempDir {
    // Not /tmp: it may be tmpfs, which has no O_DIRECT.
    tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).expect("temp dir")
}

fn open_file(path: &Path, direct: bool, read: bool, write: bool) -> File {
    let mut o = OpenOptions::new();
    o.read(read).write(write);
    if direct {
        o.custom_flags(libc::O_DIRECT);
    }
    o.open(path).unwrap_or_else(|e| panic!("open {}: {e}", path.display()))
}

fn notifier() -> EventFd {
    EventFd::new(EFD_NONBLOCK).expect("eventfd")
}

fn engine_for(mode: AioMode, file: File, notify: &EventFd, cfg: &EngineConfig) -> Box<dyn Engine> {
    let e = create(mode, Arc::new(file), notify, cfg).expect("create engine");
    let want = match mode {
        AioMode::Threads => EngineKind::Threads,
        _ => EngineKind::IoUring,
    };
    assert_eq!(e.kind(), want);
    e
}

/// An IoVec over `buf[off..off + len]`.
fn iov(buf: &mut AlignedBuf, off: usize, len: usize) -> IoVec {
    assert!(off + len <= buf.len());
    // SAFETY: the buffer outlives every request using it in these tests
    // (each test waits for its completions before dropping buffers).
    unsafe { IoVec::from_raw(buf.as_mut_ptr().add(off), len) }
}

/// Split `buf[..len]` into iovecs of the given piece lengths (the last one
/// takes the remainder).
fn split(buf: &mut AlignedBuf, len: usize, pieces: &[usize]) -> Vec<IoVec> {
    let mut v = Vec::new();
    let mut off = 0;
    for &p in pieces {
        if off + p >= len {
            break;
        }
        v.push(iov(buf, off, p));
        off += p;
    }
    v.push(iov(buf, off, len - off));
    v
}

fn rw(op: EngineOp, offset: u64, iov: Vec<IoVec>, tag: u64) -> EngineRequest {
    let len = iov.iter().map(|v| v.len() as u64).sum();
    EngineRequest { op, offset, len, iov, tag }
}

fn discard(offset: u64, len: u64, tag: u64) -> EngineRequest {
    EngineRequest { op: EngineOp::Discard, offset, len, iov: Vec::new(), tag }
}

fn sync(datasync: bool, tag: u64) -> EngineRequest {
    EngineRequest { op: EngineOp::Sync { datasync }, offset: 0, len: 0, iov: Vec::new(), tag }
}

/// Run `reqs` all at once and return their results indexed by tag
/// (tags must be 0..n).
fn run_batch(engine: &mut dyn Engine, notify: &EventFd, reqs: Vec<EngineRequest>) -> Vec<Result<u64, i32>> {
    let n = reqs.len();
    let base = engine.in_flight();
    for r in reqs {
        engine.enqueue(r);
    }
    assert_eq!(engine.in_flight(), base + n);
    engine.submit();
    let got = wait_completions(engine, notify, n);
    assert_eq!(got.len(), n, "more completions than requests");
    assert_eq!(engine.in_flight(), base);
    let mut res = vec![None; n];
    for c in got {
        let slot = &mut res[c.tag as usize];
        assert!(slot.is_none(), "tag {} completed twice", c.tag);
        *slot = Some(c.result);
    }
    res.into_iter().map(|r| r.expect("every tag completes")).collect()
}

/// Deterministic bytes from a seed (xorshift).
fn pattern(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

fn mode_name(mode: AioMode) -> &'static str {
    match mode {
        AioMode::Threads => "threads",
        _ => "io_uring",
    }
}

// ---------------------------------------------------------------------------
// Random workloads against a model

#[derive(Clone, Debug)]
enum ModelOp {
    Read { off: u64, len: usize, pieces: Vec<usize> },
    Write { off: u64, len: usize, pieces: Vec<usize>, seed: u64 },
    Discard { off: u64, len: u64 },
    Sync { datasync: bool },
}

impl ModelOp {
    fn range(&self) -> Option<(u64, u64)> {
        match *self {
            ModelOp::Read { off, len, .. } | ModelOp::Write { off, len, .. } => Some((off, off + len as u64)),
            ModelOp::Discard { off, len } => Some((off, off + len)),
            ModelOp::Sync { .. } => None,
        }
    }
}

const MODEL_SIZE: u64 = 1 << 20;

/// Ops on a 1 MiB file; with `direct`, offsets, lengths and iovec pieces are
/// multiples of 4096.
fn model_ops(direct: bool) -> impl Strategy<Value = Vec<ModelOp>> {
    let unit: u64 = if direct { 4096 } else { 1 };
    let max_units = MODEL_SIZE / unit;
    let max_len_units: u64 = if direct { 16 } else { 65536 };
    let pieces = prop::collection::vec(1usize..(if direct { 4 } else { 9000 }), 0..8)
        .prop_map(move |p| p.into_iter().map(|x| x * unit as usize).collect::<Vec<_>>());
    let range = (0..max_units, 1..=max_len_units).prop_map(move |(start, n)| {
        let n = n.min(max_units - start);
        (start * unit, n * unit)
    });
    let op = prop_oneof![
        4 => (range.clone(), pieces.clone()).prop_map(|((off, len), pieces)| ModelOp::Read { off, len: len as usize, pieces }),
        4 => (range.clone(), pieces, any::<u64>())
            .prop_map(|((off, len), pieces, seed)| ModelOp::Write { off, len: len as usize, pieces, seed }),
        1 => range.prop_map(|(off, len)| ModelOp::Discard { off, len }),
        1 => any::<bool>().prop_map(|datasync| ModelOp::Sync { datasync }),
    ];
    prop::collection::vec(op, 1..100)
}

fn run_model(mode: AioMode, direct: bool, ops: Vec<ModelOp>) {
    let dir = tmpdir();
    let path = dir.path().join("model.img");
    let mut model = pattern(0xfeed, MODEL_SIZE as usize);
    std::fs::write(&path, &model).unwrap();
    let notify = notifier();
    let cfg = EngineConfig { ring_entries: 16, threads: 4 };
    let mut engine = engine_for(mode, open_file(&path, direct, true, true), &notify, &cfg);

    // Greedy batches of pairwise non-overlapping requests, all in flight at
    // once; a conflicting request starts the next batch.
    let mut batch: Vec<ModelOp> = Vec::new();
    let mut flush = |batch: &mut Vec<ModelOp>, model: &mut Vec<u8>| {
        let mut bufs = Vec::new();
        let mut reqs = Vec::new();
        for (tag, op) in batch.iter().enumerate() {
            let tag = tag as u64;
            match op {
                ModelOp::Read { off, len, pieces } => {
                    let mut b = AlignedBuf::from_slice(&vec![0xa5; *len]);
                    reqs.push(rw(EngineOp::Read, *off, split(&mut b, *len, pieces), tag));
                    bufs.push(Some(b));
                }
                ModelOp::Write { off, len, pieces, seed } => {
                    let mut b = AlignedBuf::from_slice(&pattern(*seed, *len));
                    reqs.push(rw(EngineOp::Write, *off, split(&mut b, *len, pieces), tag));
                    bufs.push(Some(b));
                }
                ModelOp::Discard { off, len } => {
                    reqs.push(discard(*off, *len, tag));
                    bufs.push(None);
                }
                ModelOp::Sync { datasync } => {
                    reqs.push(sync(*datasync, tag));
                    bufs.push(None);
                }
            }
        }
        let results = run_batch(&mut *engine, &notify, reqs);
        for ((op, res), buf) in batch.iter().zip(&results).zip(&bufs) {
            match op {
                ModelOp::Read { off, len, .. } => {
                    assert_eq!(*res, Ok(*len as u64), "{op:?}");
                    let got = buf.as_ref().unwrap().as_slice();
                    let want = &model[*off as usize..*off as usize + len];
                    assert!(got == want, "read {off}+{len} differs from the model");
                }
                ModelOp::Write { len, .. } => assert_eq!(*res, Ok(*len as u64), "{op:?}"),
                ModelOp::Discard { len, .. } => assert_eq!(*res, Ok(*len), "{op:?}"),
                ModelOp::Sync { .. } => assert_eq!(*res, Ok(0), "{op:?}"),
            }
        }
        // Non-overlapping: applying in any order gives the same model.
        for op in batch.iter() {
            match op {
                ModelOp::Write { off, len, seed, .. } => {
                    model[*off as usize..*off as usize + len].copy_from_slice(&pattern(*seed, *len));
                }
                ModelOp::Discard { off, len } => model[*off as usize..(*off + *len) as usize].fill(0),
                _ => {}
            }
        }
        batch.clear();
    };
    for op in ops {
        let conflict =
            op.range().is_some_and(|(s, e)| batch.iter().filter_map(|b| b.range()).any(|(bs, be)| s < be && bs < e));
        if conflict || batch.len() == 64 {
            flush(&mut batch, &mut model);
        }
        batch.push(op);
    }
    flush(&mut batch, &mut model);
    assert_eq!(engine.in_flight(), 0);
    drop(engine);
    let on_disk = std::fs::read(&path).unwrap();
    assert_eq!(on_disk.len(), model.len(), "file size changed");
    assert!(on_disk == model, "file content differs from the model");
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 16, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn model_uring_buffered(ops in model_ops(false)) {
        run_model(AioMode::IoUring, false, ops);
    }

    #[test]
    fn model_uring_direct(ops in model_ops(true)) {
        run_model(AioMode::IoUring, true, ops);
    }

    #[test]
    fn model_threads_buffered(ops in model_ops(false)) {
        run_model(AioMode::Threads, false, ops);
    }

    #[test]
    fn model_threads_direct(ops in model_ops(true)) {
        run_model(AioMode::Threads, true, ops);
    }
}

// ---------------------------------------------------------------------------
// Targeted cases

#[test]
fn discard_reads_back_zeros() {
    for mode in MODES {
        for direct in [false, true] {
            let dir = tmpdir();
            let path = dir.path().join("d.img");
            let data = pattern(1, 256 * 1024);
            std::fs::write(&path, &data).unwrap();
            let notify = notifier();
            let mut e = engine_for(mode, open_file(&path, direct, true, true), &notify, &EngineConfig::default());
            let res = run_batch(&mut *e, &notify, vec![discard(64 * 1024, 128 * 1024, 0), discard(4096, 0, 1)]);
            assert_eq!(res, vec![Ok(128 * 1024), Ok(0)], "{mode:?} direct={direct}");
            let mut buf = AlignedBuf::new(256 * 1024);
            let res = run_batch(&mut *e, &notify, vec![rw(EngineOp::Read, 0, vec![iov(&mut buf, 0, 256 * 1024)], 0)]);
            assert_eq!(res, vec![Ok(256 * 1024)]);
            let got = buf.as_slice();
            assert_eq!(&got[..64 * 1024], &data[..64 * 1024]);
            assert!(got[64 * 1024..192 * 1024].iter().all(|&b| b == 0), "{mode:?}: punched range not zero");
            assert_eq!(&got[192 * 1024..], &data[192 * 1024..]);
            assert_eq!(std::fs::metadata(&path).unwrap().len(), 256 * 1024, "discard changed the size");
        }
    }
}

#[test]
fn read_across_eof_zero_fills() {
    for mode in MODES {
        let dir = tmpdir();
        let path = dir.path().join("eof.img");
        let data = pattern(2, 10000);
        std::fs::write(&path, &data).unwrap();
        let notify = notifier();
        let mut e = engine_for(mode, open_file(&path, false, true, true), &notify, &EngineConfig::default());
        let mut a = AlignedBuf::from_slice(&[0xee; 16384]);
        let mut b = AlignedBuf::from_slice(&[0xee; 5000]);
        let reqs = vec![
            // Crosses EOF, scattered over pieces that straddle it.
            rw(EngineOp::Read, 8192, split(&mut a, 16384, &[1000, 808, 3000, 1]), 0),
            // Entirely past EOF.
            rw(EngineOp::Read, 20000, vec![iov(&mut b, 0, 5000)], 1),
        ];
        assert_eq!(run_batch(&mut *e, &notify, reqs), vec![Ok(16384), Ok(5000)], "{mode:?}");
        assert_eq!(&a.as_slice()[..1808], &data[8192..]);
        assert!(a.as_slice()[1808..].iter().all(|&x| x == 0), "{mode:?}: not zero-filled past EOF");
        assert!(b.as_slice().iter().all(|&x| x == 0));
        assert_eq!(std::fs::metadata(&path).unwrap().len(), 10000, "a read changed the size");
    }
}

#[test]
fn direct_read_across_unaligned_eof_zero_fills() {
    // The kernel returns the bytes up to EOF; the rest starts at an
    // unaligned offset, which O_DIRECT refuses: still zeros, not an error.
    for mode in MODES {
        let dir = tmpdir();
        let path = dir.path().join("eof-direct.img");
        let data = pattern(12, 10000);
        std::fs::write(&path, &data).unwrap();
        let notify = notifier();
        let mut e = engine_for(mode, open_file(&path, true, true, true), &notify, &EngineConfig::default());
        let mut a = AlignedBuf::from_slice(&[0xee; 16384]);
        let mut b = AlignedBuf::from_slice(&[0xee; 8192]);
        let reqs = vec![
            rw(EngineOp::Read, 8192, split(&mut a, 16384, &[4096, 4096]), 0),
            rw(EngineOp::Read, 16384, vec![iov(&mut b, 0, 8192)], 1),
        ];
        assert_eq!(run_batch(&mut *e, &notify, reqs), vec![Ok(16384), Ok(8192)], "{mode:?}");
        assert_eq!(&a.as_slice()[..1808], &data[8192..]);
        assert!(a.as_slice()[1808..].iter().all(|&x| x == 0), "{mode:?}: not zero-filled past EOF");
        assert!(b.as_slice().iter().all(|&x| x == 0));
    }
}

#[test]
fn many_small_and_odd_iovecs() {
    for mode in MODES {
        let dir = tmpdir();
        let path = dir.path().join("iov.img");
        std::fs::write(&path, vec![0u8; 4 << 20]).unwrap();
        let notify = notifier();
        let mut e = engine_for(mode, open_file(&path, false, true, true), &notify, &EngineConfig::default());

        // 64 x 512 plus odd sizes; and 3000 pieces (more than IOV_MAX in one
        // request, so it goes to the kernel in several steps).
        let mut small: Vec<usize> = vec![512; 64];
        small.extend([1, 3, 511, 1000, 7, 4097, 2]);
        let long: Vec<usize> = (0..3000).map(|i| 1 + (i * 37) % 700).collect();
        let cases = [(small, 5u64), (long, 1_000_001u64)];
        for (pieces, off) in cases {
            let len: usize = pieces.iter().sum();
            let data = pattern(off, len);
            let mut w = AlignedBuf::from_slice(&data);
            let mut pw = pieces.clone();
            pw.pop();
            let wv = split(&mut w, len, &pw);
            assert_eq!(wv.len(), pieces.len());
            assert_eq!(run_batch(&mut *e, &notify, vec![rw(EngineOp::Write, off, wv, 0)]), vec![Ok(len as u64)]);
            let mut r = AlignedBuf::new(len);
            let rv = split(&mut r, len, &pw);
            assert_eq!(run_batch(&mut *e, &notify, vec![rw(EngineOp::Read, off, rv, 0)]), vec![Ok(len as u64)]);
            assert!(r.as_slice() == data.as_slice(), "{mode:?}: {} iovecs read back wrong", pieces.len());
            let disk = std::fs::read(&path).unwrap();
            assert!(&disk[off as usize..off as usize + len] == data.as_slice());
        }
    }
}

#[test]
fn zero_length_and_empty_iovecs() {
    for mode in MODES {
        let dir = tmpdir();
        let path = dir.path().join("z.img");
        std::fs::write(&path, pattern(3, 8192)).unwrap();
        let notify = notifier();
        let mut e = engine_for(mode, open_file(&path, false, true, true), &notify, &EngineConfig::default());
        let mut b = AlignedBuf::new(4096);
        let reqs = vec![
            rw(EngineOp::Read, 0, Vec::new(), 0),
            rw(EngineOp::Write, 0, vec![iov(&mut b, 0, 0)], 1),
            // Empty pieces inside a real request.
            rw(
                EngineOp::Read,
                100,
                vec![iov(&mut b, 0, 0), iov(&mut b, 0, 10), iov(&mut b, 10, 0), iov(&mut b, 10, 5)],
                2,
            ),
        ];
        assert_eq!(run_batch(&mut *e, &notify, reqs), vec![Ok(0), Ok(0), Ok(15)], "{mode:?}");
        assert_eq!(&b.as_slice()[..15], &pattern(3, 8192)[100..115]);
    }
}

#[test]
fn sq_full_backlog_completes_everything() {
    for mode in MODES {
        let dir = tmpdir();
        let path = dir.path().join("sq.img");
        std::fs::write(&path, vec![0u8; 1000 * 512]).unwrap();
        let notify = notifier();
        let cfg = EngineConfig { ring_entries: 4, threads: 2 };
        let mut e = engine_for(mode, open_file(&path, false, true, true), &notify, &cfg);
        let data = pattern(4, 1000 * 512);
        let mut w = AlignedBuf::from_slice(&data);
        let reqs =
            (0..1000).map(|i| rw(EngineOp::Write, i * 512, vec![iov(&mut w, i as usize * 512, 512)], i)).collect();
        let res = run_batch(&mut *e, &notify, reqs);
        assert!(res.iter().all(|r| *r == Ok(512)), "{mode:?}: {res:?}");
        let mut r = AlignedBuf::new(1000 * 512);
        // Reads in reverse order, two iovecs each.
        let reqs = (0..1000u64)
            .rev()
            .map(|i| {
                let o = i as usize * 512;
                rw(EngineOp::Read, i * 512, vec![iov(&mut r, o, 200), iov(&mut r, o + 200, 312)], i)
            })
            .collect();
        let res = run_batch(&mut *e, &notify, reqs);
        assert!(res.iter().all(|r| *r == Ok(512)), "{mode:?}: {res:?}");
        assert!(r.as_slice() == data.as_slice(), "{mode:?}: data mismatch");
    }
}

#[test]
fn backlog_waits_for_submit() {
    // Requests beyond the ring go only after submit(), and reap() keeps the
    // submitted backlog moving without further submit() calls.
    for mode in MODES {
        let dir = tmpdir();
        let path = dir.path().join("b.img");
        std::fs::write(&path, pattern(5, 64 * 512)).unwrap();
        let notify = notifier();
        let cfg = EngineConfig { ring_entries: 2, threads: 2 };
        let mut e = engine_for(mode, open_file(&path, false, true, true), &notify, &cfg);
        let mut r = AlignedBuf::new(64 * 512);
        for i in 0..64u64 {
            e.enqueue(rw(EngineOp::Read, i * 512, vec![iov(&mut r, i as usize * 512, 512)], i));
        }
        assert_eq!(e.in_flight(), 64);
        e.submit();
        let got = wait_completions(&mut *e, &notify, 64);
        assert!(got.iter().all(|c| c.result == Ok(512)));
        assert_eq!(e.in_flight(), 0);
        assert!(r.as_slice() == pattern(5, 64 * 512).as_slice());
    }
}

#[test]
fn errors_complete_with_errno() {
    for mode in MODES {
        let dir = tmpdir();
        let path = dir.path().join("ro.img");
        std::fs::write(&path, pattern(6, 8192)).unwrap();
        let notify = notifier();
        let mut b = AlignedBuf::new(4096);

        let mut ro = engine_for(mode, open_file(&path, false, true, false), &notify, &EngineConfig::default());
        let reqs = vec![
            rw(EngineOp::Write, 0, vec![iov(&mut b, 0, 4096)], 0),
            discard(0, 4096, 1),
            rw(EngineOp::Read, 0, vec![iov(&mut b, 0, 4096)], 2),
            // len disagreeing with the iovecs is refused, not guessed at.
            EngineRequest { op: EngineOp::Read, offset: 0, len: 10, iov: vec![iov(&mut b, 0, 5)], tag: 3 },
        ];
        let res = run_batch(&mut *ro, &notify, reqs);
        assert_eq!(res, vec![Err(libc::EBADF), Err(libc::EBADF), Ok(4096), Err(libc::EINVAL)], "{mode:?}");

        let mut wo = engine_for(mode, open_file(&path, false, false, true), &notify, &EngineConfig::default());
        let res = run_batch(&mut *wo, &notify, vec![rw(EngineOp::Read, 0, vec![iov(&mut b, 0, 4096)], 0)]);
        assert_eq!(res, vec![Err(libc::EBADF)], "{mode:?}");

        // O_DIRECT with a misaligned buffer: EINVAL from the kernel.
        let mut d = engine_for(mode, open_file(&path, true, true, true), &notify, &EngineConfig::default());
        let res = run_batch(&mut *d, &notify, vec![rw(EngineOp::Read, 0, vec![iov(&mut b, 1, 4095)], 0)]);
        assert_eq!(res, vec![Err(libc::EINVAL)], "{mode:?}");
        assert_eq!(std::fs::read(&path).unwrap(), pattern(6, 8192));
    }
}

#[test]
fn notify_eventfd_readable_after_submit() {
    for mode in MODES {
        let dir = tmpdir();
        let path = dir.path().join("n.img");
        std::fs::write(&path, pattern(7, 4096)).unwrap();
        let notify = notifier();
        let mut e = engine_for(mode, open_file(&path, false, true, true), &notify, &EngineConfig::default());
        let mut b = AlignedBuf::new(4096);
        for round in 0..3 {
            assert!(!poll_readable(notify.as_raw_fd(), Duration::ZERO), "{mode:?}: readable before any I/O");
            e.enqueue(rw(EngineOp::Read, 0, vec![iov(&mut b, 0, 4096)], round));
            e.submit();
            assert!(poll_readable(notify.as_raw_fd(), Duration::from_secs(10)), "{mode:?}: eventfd not signalled");
            notify.read().unwrap();
            let got = wait_completions(&mut *e, &notify, 1);
            assert_eq!(got, vec![EngineCompletion { tag: round, result: Ok(4096) }]);
            // Drain stray signals so the next round starts clean.
            let _ = notify.read();
        }
        // Completions made without the kernel signal too.
        e.enqueue(rw(EngineOp::Read, 0, Vec::new(), 9));
        e.submit();
        assert!(poll_readable(notify.as_raw_fd(), Duration::from_secs(10)), "{mode:?}: no signal for empty read");
        assert_eq!(wait_completions(&mut *e, &notify, 1)[0].tag, 9);
    }
}

#[test]
fn one_eventfd_serves_many_engines() {
    let dir = tmpdir();
    let notify = notifier();
    let mut engines = Vec::new();
    for (i, mode) in [AioMode::IoUring, AioMode::Threads, AioMode::IoUring, AioMode::Auto].into_iter().enumerate() {
        let path = dir.path().join(format!("m{i}.img"));
        std::fs::write(&path, pattern(i as u64, 4096)).unwrap();
        engines.push(
            create(mode, Arc::new(open_file(&path, false, true, true)), &notify, &EngineConfig::default()).unwrap(),
        );
    }
    let mut bufs: Vec<AlignedBuf> = (0..4).map(|_| AlignedBuf::new(4096)).collect();
    for (i, (e, b)) in engines.iter_mut().zip(bufs.iter_mut()).enumerate() {
        e.enqueue(rw(EngineOp::Read, 0, vec![iov(b, 0, 4096)], i as u64));
        e.submit();
    }
    let deadline = Instant::now() + TIMEOUT;
    let mut done = 0;
    while done < 4 {
        assert!(Instant::now() < deadline, "timed out");
        if poll_readable(notify.as_raw_fd(), Duration::from_secs(1)) {
            let _ = notify.read();
        }
        for e in engines.iter_mut() {
            let mut out = Vec::new();
            e.reap(&mut out);
            done += out.len();
        }
    }
    for (i, b) in bufs.iter().enumerate() {
        assert_eq!(b.as_slice(), pattern(i as u64, 4096).as_slice());
    }
}

// ---------------------------------------------------------------------------
// Child-process cases

const HELPER_ENV: &str = "IRONIDE_ENGINE_HELPER";

fn spawn_helper(what: &str, mode: AioMode, path: &Path) -> std::process::Child {
    Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "helper_child", "--nocapture", "--test-threads=1"])
        .env(HELPER_ENV, what)
        .env("IRONIDE_ENGINE_AIO", mode_name(mode))
        .env("IRONIDE_ENGINE_PATH", path)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn helper")
}

/// Read the helper's stdout until a line starting with `prefix`.
fn helper_line(child: &mut std::process::Child, prefix: &str) -> String {
    let out = child.stdout.take().unwrap();
    let mut lines = BufReader::new(out).lines();
    // The helper's waits are bounded; the pipe closes when it exits.
    for line in lines.by_ref() {
        let line = line.unwrap();
        // libtest may print "test helper_child ... " in front.
        if let Some(at) = line.find(prefix) {
            return line[at + prefix.len()..].trim().to_string();
        }
    }
    panic!("helper exited without printing {prefix}");
}

/// Not a test of its own: the body of helper child processes.
#[test]
fn helper_child() {
    let Ok(what) = std::env::var(HELPER_ENV) else { return };
    let mode: AioMode = std::env::var("IRONIDE_ENGINE_AIO").unwrap().parse().unwrap();
    let path = PathBuf::from(std::env::var("IRONIDE_ENGINE_PATH").unwrap());
    let notify = notifier();
    match what.as_str() {
        "durable" => {
            let mut e = engine_for(mode, open_file(&path, true, true, true), &notify, &EngineConfig::default());
            let mut b = AlignedBuf::from_slice(&pattern(8, 1 << 20));
            let reqs = vec![rw(EngineOp::Write, 0, split(&mut b, 1 << 20, &[4096, 8192, 65536]), 0)];
            assert_eq!(run_batch(&mut *e, &notify, reqs), vec![Ok(1 << 20)]);
            // And a buffered write, which only the sync makes durable.
            let mut eb = engine_for(mode, open_file(&path, false, true, true), &notify, &EngineConfig::default());
            let mut c = AlignedBuf::from_slice(&pattern(9, 12345));
            assert_eq!(
                run_batch(&mut *eb, &notify, vec![rw(EngineOp::Write, 1 << 20, vec![iov(&mut c, 0, 12345)], 0)]),
                vec![Ok(12345)]
            );
            assert_eq!(run_batch(&mut *eb, &notify, vec![sync(true, 0), sync(false, 1)]), vec![Ok(0), Ok(0)]);
            println!("HELPER-DONE");
            // Wait to be killed (bounded, should the parent be gone).
            std::thread::sleep(TIMEOUT);
            std::process::exit(1);
        }
        "fsize" => {
            // SAFETY: plain libc calls on this (child) process.
            unsafe {
                libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
                let lim = libc::rlimit { rlim_cur: 10000, rlim_max: 10000 };
                assert_eq!(libc::setrlimit(libc::RLIMIT_FSIZE, &lim), 0);
            }
            let mut e = engine_for(mode, open_file(&path, false, true, true), &notify, &EngineConfig::default());
            let mut b = AlignedBuf::from_slice(&pattern(10, 16384));
            // The kernel writes up to the limit (a short write); the engine
            // goes on with the remainder, which fails with EFBIG.
            let res =
                run_batch(&mut *e, &notify, vec![rw(EngineOp::Write, 0, split(&mut b, 16384, &[3000, 3000, 5000]), 0)]);
            match res[0] {
                Ok(n) => println!("HELPER-RESULT ok {n}"),
                Err(e) => println!("HELPER-RESULT err {e}"),
            }
        }
        other => panic!("unknown helper {other}"),
    }
}

#[test]
fn sync_survives_sigkill() {
    for mode in MODES {
        let dir = tmpdir();
        let path = dir.path().join("durable.img");
        std::fs::write(&path, vec![0u8; 1 << 20]).unwrap();
        let mut child = spawn_helper("durable", mode, &path);
        assert_eq!(helper_line(&mut child, "HELPER-DONE"), "");
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        let mut disk = Vec::new();
        File::open(&path).unwrap().read_to_end(&mut disk).unwrap();
        assert_eq!(disk.len(), (1 << 20) + 12345);
        assert!(disk[..1 << 20] == pattern(8, 1 << 20)[..], "{mode:?}: direct write lost");
        assert!(disk[1 << 20..] == pattern(9, 12345)[..], "{mode:?}: synced write lost");
    }
}

#[test]
fn short_write_past_fsize_limit_fails_with_efbig() {
    for mode in MODES {
        let dir = tmpdir();
        let path = dir.path().join("fsize.img");
        File::create(&path).unwrap();
        let child = spawn_helper("fsize", mode, &path);
        // The helper's waits are bounded, so this returns.
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "{mode:?}: helper failed");
        let stdout = String::from_utf8_lossy(&out.stdout);
        let at = stdout.find("HELPER-RESULT").expect("helper printed no result") + "HELPER-RESULT".len();
        let result = stdout[at..].lines().next().unwrap().trim();
        assert_eq!(result, format!("err {}", libc::EFBIG), "{mode:?}");
        let disk = std::fs::read(&path).unwrap();
        assert_eq!(disk.len(), 10000, "{mode:?}: the short part was not written");
        assert!(disk[..] == pattern(10, 16384)[..10000]);
    }
}

// ---------------------------------------------------------------------------
// Throughput sanity (ignored: run in release, see the top of the file)

fn bench_randread(mode: AioMode, path: &Path, size: u64, bs: usize, qd: usize, secs: u64) -> (f64, f64) {
    let notify = notifier();
    let cfg = EngineConfig { ring_entries: 128, threads: qd.min(32) };
    let mut e = engine_for(mode, open_file(path, true, true, false), &notify, &cfg);
    let mut bufs: Vec<AlignedBuf> = (0..qd).map(|_| AlignedBuf::new(bs)).collect();
    let blocks = size / bs as u64;
    let mut x: u64 = 0x1234_5678_9abc_def1;
    let next = |x: &mut u64| {
        *x ^= *x << 13;
        *x ^= *x >> 7;
        *x ^= *x << 17;
        (*x % blocks) * bs as u64
    };
    for (i, b) in bufs.iter_mut().enumerate() {
        e.enqueue(rw(EngineOp::Read, next(&mut x), vec![iov(b, 0, bs)], i as u64));
    }
    e.submit();
    let start = Instant::now();
    let end = start + Duration::from_secs(secs);
    let mut ios = 0u64;
    let mut out = Vec::with_capacity(qd);
    loop {
        out.clear();
        e.reap(&mut out);
        if out.is_empty() {
            if poll_readable(notify.as_raw_fd(), Duration::from_secs(5)) {
                let _ = notify.read();
            }
            continue;
        }
        let now = Instant::now();
        for c in &out {
            assert_eq!(c.result, Ok(bs as u64));
            ios += 1;
            if now < end {
                let b = &mut bufs[c.tag as usize];
                e.enqueue(rw(EngineOp::Read, next(&mut x), vec![iov(b, 0, bs)], c.tag));
            }
        }
        e.submit();
        if now >= end && e.in_flight() == 0 {
            break;
        }
    }
    let t = start.elapsed().as_secs_f64();
    (ios as f64 / t, ios as f64 * bs as f64 / t / (1 << 20) as f64)
}

#[test]
#[ignore]
fn throughput_sanity() {
    let dir = tmpdir();
    let path = std::env::var("IRONIDE_BENCH_FILE").map(PathBuf::from).unwrap_or_else(|_| dir.path().join("bench.img"));
    let size: u64 = 256 << 20;
    if std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0) < size {
        std::fs::write(&path, pattern(11, size as usize)).unwrap();
    }
    // IRONIDE_BENCH_ENGINE=io_uring|threads picks one engine.
    let only = std::env::var("IRONIDE_BENCH_ENGINE").ok();
    for mode in MODES.into_iter().filter(|m| only.as_deref().is_none_or(|o| o == mode_name(*m))) {
        let (iops, _) = bench_randread(mode, &path, size, 4096, 32, 5);
        println!("{:9} 4KiB randread QD32 O_DIRECT: {iops:.0} IOPS", mode_name(mode));
        let (_, mbs) = bench_randread(mode, &path, size, 1 << 20, 8, 5);
        println!("{:9} 1MiB randread QD8  O_DIRECT: {mbs:.0} MiB/s", mode_name(mode));
    }
}
