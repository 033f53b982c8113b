//! The device-facing block layer end to end: engines x cache modes against an
//! in-memory model, statistics and histograms, throttling on virtual time,
//! fault injection, read-only media, the node graph, and flush durability.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ironide_block::driver::{CacheMode, FaultRule, LockMode};
use ironide_block::engine::AioMode;
use ironide_block::layer::{BackendId, BlockLayer, ChildSpec, DriverSpec, LayerError, NodeSpec};
use ironide_block::stats::AcctKind;
use ironide_block::throttle::{BucketKind, ThrottleConfig};
use ironide_block::{AlignedBuf, BlockError, Clock, Completion, IoVec, Op, RealClock, Request, VirtualClock};

fn tempdir() -> tempfile::TempDir {
    // Under target/: a real disk file system (O_DIRECT works there).
    tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).expect("tempdir")
}

fn image(dir: &Path, name: &str, data: &[u8]) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, data).expect("write image");
    p
}

fn pattern(len: usize, seed: u8) -> Vec<u8> {
    (0..len).map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed)).collect()
}

fn spec(path: &Path, mode: CacheMode, aio: AioMode, read_only: bool) -> NodeSpec {
    let f = mode.flags();
    NodeSpec::raw_over_file(path, read_only, f.direct, f.no_flush, aio)
}

/// Collect `n` completions, failing loudly instead of hanging.
fn collect(layer: &mut BlockLayer, n: usize) -> Vec<(BackendId, Completion)> {
    let mut out = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    while out.len() < n {
        assert!(Instant::now() < deadline, "timed out waiting for {n} completions (got {})", out.len());
        layer.wait(Duration::from_millis(200));
        layer.process_completions(|id, c| out.push((id, c)));
    }
    out
}

fn one(layer: &mut BlockLayer, id: BackendId, req: Request) -> Completion {
    layer.submit(id, req);
    collect(layer, 1).pop().expect("one completion").1
}

fn read(layer: &mut BlockLayer, id: BackendId, off: u64, len: usize) -> Result<Vec<u8>, BlockError> {
    let c = one(layer, id, Request::read_owned(off, AlignedBuf::new(len), 0));
    c.result.map(|_| c.buf.expect("owned buffer back").as_slice().to_vec())
}

fn write(layer: &mut BlockLayer, id: BackendId, off: u64, data: &[u8]) -> Result<u64, BlockError> {
    one(layer, id, Request::write_owned(off, AlignedBuf::from_slice(data), 0)).result
}

fn open(clock: Arc<dyn Clock>, path: &Path, mode: CacheMode, aio: AioMode, ro: bool) -> (BlockLayer, BackendId) {
    let mut layer = BlockLayer::new(clock).expect("layer");
    let id = layer.create_backend("drive0", mode.flags().writeback);
    layer.open_medium(id, &spec(path, mode, aio, ro)).expect("open medium");
    (layer, id)
}

/// Deterministic xorshift for workloads.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

/// Random reads, writes (guest-style scatter lists, some deliberately
/// misaligned), discards and flushes, many in flight, against a model.
fn model_workload(aio: AioMode, mode: CacheMode) {
    const SIZE: usize = 1 << 20;
    let dir = tempdir();
    let init = pattern(SIZE, 7);
    let path = image(dir.path(), "disk.img", &init);
    let (mut layer, id) = open(Arc::new(RealClock::new()), &path, mode, aio, false);
    let mut model = init.clone();
    let mut rng = Rng(0x1234_5678 ^ mode as u64 ^ ((aio as u64) << 8));
    // Guest memory stand-in: one big buffer, sliced into scatter lists.
    let mut guest = vec![0u8; 256 * 1024 + 64];
    for round in 0..40 {
        // A batch of non-overlapping requests in flight at once.
        let mut batch: Vec<(Op, u64, usize, usize)> = Vec::new(); // op, offset, len, guest offset
        let mut used: Vec<(u64, u64)> = Vec::new();
        let mut gpos = 0usize;
        for _ in 0..8 {
            let sectors = 1 + (rng.next() % 16) as usize;
            let len = sectors * 512;
            let off = (rng.next() % (SIZE / 512 - sectors) as u64) * 512;
            if used.iter().any(|&(a, b)| off < b && a < off + len as u64) {
                continue;
            }
            // Odd guest offsets exercise the O_DIRECT bounce path.
            let misalign = if rng.next().is_multiple_of(3) { 8 } else { 0 };
            if gpos + misalign + len > guest.len() {
                break;
            }
            let op = match rng.next() % 10 {
                0..=4 => Op::Read,
                5..=8 => Op::Write,
                _ => Op::Discard,
            };
            used.push((off, off + len as u64));
            batch.push((op, off, len, gpos + misalign));
            gpos += misalign + len;
            gpos = gpos.div_ceil(512) * 512;
        }
        for (i, &(op, _, len, g)) in batch.iter().enumerate() {
            if op == Op::Write {
                let data = pattern(len, (round * 8 + i) as u8);
                guest[g..g + len].copy_from_slice(&data);
            }
        }
        layer.plug();
        for (i, &(op, off, len, g)) in batch.iter().enumerate() {
            // Two pieces per request: the device hands scatter lists.
            let half = (len / 2 / 512) * 512;
            let base = guest.as_mut_ptr();
            // SAFETY: `guest` outlives the requests (we wait for them below)
            // and the batch's guest ranges do not overlap.
            let iov = unsafe {
                if half > 0 {
                    vec![IoVec::from_raw(base.add(g), half), IoVec::from_raw(base.add(g + half), len - half)]
                } else {
                    vec![IoVec::from_raw(base.add(g), len)]
                }
            };
            let req = match op {
                Op::Read => Request::read(off, iov, i as u64),
                Op::Write => Request::write(off, iov, i as u64),
                _ => Request::discard(off, len as u64, i as u64),
            };
            layer.submit(id, req);
        }
        layer.unplug();
        let done = collect(&mut layer, batch.len());
        for (_, c) in done {
            let (op, off, len, g) = batch[c.tag as usize];
            assert!(c.result.is_ok(), "{aio:?}/{mode:?}: {op:?} at {off} failed: {:?}", c.result);
            let off = off as usize;
            match op {
                Op::Read => assert_eq!(&guest[g..g + len], &model[off..off + len], "{aio:?}/{mode:?} read at {off}"),
                Op::Write => model[off..off + len].copy_from_slice(&guest[g..g + len]),
                _ => model[off..off + len].fill(0),
            }
        }
        if round % 10 == 9 {
            assert!(one(&mut layer, id, Request::flush(99)).result.is_ok());
        }
    }
    drop(layer);
    assert_eq!(std::fs::read(&path).expect("read back"), model, "{aio:?}/{mode:?}: file differs from the model");
}

#[test]
fn model_io_uring_every_cache_mode() {
    for mode in CacheMode::ALL {
        model_workload(AioMode::IoUring, mode);
    }
}

#[test]
fn model_threads_every_cache_mode() {
    for mode in CacheMode::ALL {
        model_workload(AioMode::Threads, mode);
    }
}

#[test]
fn direct_io_bounces_misaligned_guest_buffers_only() {
    let dir = tempdir();
    let path = image(dir.path(), "d.img", &pattern(64 * 1024, 3));
    let (mut layer, id) = open(Arc::new(RealClock::new()), &path, CacheMode::None, AioMode::IoUring, false);
    // 512-byte read at an odd sector from a misaligned buffer.
    let mut mem = vec![0u8; 1024 + 1];
    // SAFETY: mem outlives the request.
    let iov = unsafe { vec![IoVec::from_raw(mem.as_mut_ptr().add(1), 512)] };
    let c = one(&mut layer, id, Request::read(1536, iov, 1));
    assert!(c.result.is_ok());
    assert_eq!(&mem[1..513], &pattern(64 * 1024, 3)[1536..2048]);
    // Sub-block write through the read-modify-write path keeps neighbours.
    let data = [0xAB; 512];
    assert_eq!(write(&mut layer, id, 3 * 512, &data), Ok(512));
    let all = read(&mut layer, id, 0, 8192).expect("read back");
    let mut want = pattern(64 * 1024, 3)[..8192].to_vec();
    want[1536..2048].copy_from_slice(&data);
    assert_eq!(all, want);
}

#[test]
fn statistics_count_exactly() {
    let dir = tempdir();
    let path = image(dir.path(), "s.img", &vec![0u8; 64 * 1024]);
    let clock = VirtualClock::new();
    let (mut layer, id) = open(clock.clone(), &path, CacheMode::Writeback, AioMode::IoUring, false);
    let st = layer.stats(id).expect("stats");
    assert_eq!(st.idle_time_ns(0), None, "no idle time before the first I/O");
    assert_eq!(write(&mut layer, id, 4096, &[1u8; 1024]), Ok(1024));
    assert_eq!(write(&mut layer, id, 0, &[1u8; 512]), Ok(512));
    assert!(read(&mut layer, id, 0, 2048).is_ok());
    assert!(one(&mut layer, id, Request::flush(0)).result.is_ok());
    assert!(one(&mut layer, id, Request::discard(8192, 4096, 0)).result.is_ok());
    // Past the end: invalid, never reaches the file.
    let e = read(&mut layer, id, 64 * 1024 - 512, 1024).unwrap_err();
    assert!(matches!(e, BlockError::OutOfRange { .. }), "{e:?}");
    clock.advance(5_000);
    let st = layer.stats(id).expect("stats");
    let r = st.get(AcctKind::Read);
    let w = st.get(AcctKind::Write);
    assert_eq!((r.operations, r.bytes, r.invalid, r.failed), (1, 2048, 1, 0));
    assert_eq!((w.operations, w.bytes), (2, 1536));
    assert_eq!(st.get(AcctKind::Flush).operations, 1);
    assert_eq!((st.get(AcctKind::Unmap).operations, st.get(AcctKind::Unmap).bytes), (1, 4096));
    assert_eq!(st.wr_highest_offset, 5120);
    assert_eq!(st.idle_time_ns(clock.now_ns()), Some(5_000));
}

#[test]
fn throttle_wait_counts_as_latency_and_fills_histograms() {
    let dir = tempdir();
    let path = image(dir.path(), "t.img", &vec![0u8; 64 * 1024]);
    let clock = VirtualClock::new();
    let (mut layer, id) = open(clock.clone(), &path, CacheMode::Writeback, AioMode::IoUring, false);
    layer.set_histogram(id, AcctKind::Read, Some(vec![1, 50_000_000, 150_000_000])).expect("histogram");
    let mut cfg = ThrottleConfig::default();
    cfg.limit_mut(BucketKind::IopsTotal).avg = 10;
    layer.set_throttle(id, cfg, None).expect("throttle");
    assert_eq!(layer.throttle_config(id).map(|(g, _)| g), Some("drive0".to_string()));
    for i in 0..4 {
        layer.submit(id, Request::read_owned(0, AlignedBuf::new(512), i));
    }
    // iops=10: one op of burst capacity, so two start at once.
    let first = collect(&mut layer, 2);
    assert_eq!(first.len(), 2);
    assert_eq!(layer.in_flight(id), 2);
    let d = layer.next_deadline().expect("a throttle timer is armed");
    assert_eq!(d, 100_000_000);
    // Nothing moves without virtual time.
    layer.wait(Duration::from_millis(20));
    layer.process_completions(|_, _| panic!("completed before its time"));
    clock.set(d);
    layer.run_timers();
    assert_eq!(collect(&mut layer, 1).len(), 1);
    clock.set(layer.next_deadline().expect("next timer"));
    layer.run_timers();
    assert_eq!(collect(&mut layer, 1).len(), 1);
    let h = layer.stats(id).and_then(|s| s.histogram(AcctKind::Read).cloned()).expect("histogram");
    // Latencies 0, 0, 100 ms, 200 ms: bins [0,1) [1,50ms) [50ms,150ms) [150ms,inf)
    assert_eq!(h.bins(), &[2, 0, 1, 1]);
    assert_eq!(layer.stats(id).map(|s| s.get(AcctKind::Read).total_time_ns), Some(300_000_000));
    // Removing the limits lets everything through at once.
    for i in 0..3 {
        layer.submit(id, Request::read_owned(0, AlignedBuf::new(512), i));
    }
    layer.set_throttle(id, ThrottleConfig::default(), None).expect("unthrottle");
    assert_eq!(collect(&mut layer, 3).len(), 3);
    assert!(layer.throttle_config(id).is_none());
}

#[test]
fn throttle_validation_reaches_the_caller() {
    let dir = tempdir();
    let path = image(dir.path(), "v.img", &vec![0u8; 4096]);
    let (mut layer, id) = open(Arc::new(RealClock::new()), &path, CacheMode::Writeback, AioMode::IoUring, false);
    let mut cfg = ThrottleConfig::default();
    cfg.limit_mut(BucketKind::BpsTotal).avg = 100;
    cfg.limit_mut(BucketKind::BpsRead).avg = 100;
    let e = layer.set_throttle(id, cfg, None).unwrap_err();
    assert_eq!(e.to_string(), "bps/iops/max total values and read/write values cannot be used at the same time");
}

fn fault_layer(clock: Arc<dyn Clock>, path: &Path, rules: Vec<FaultRule>) -> (BlockLayer, BackendId) {
    let mut layer = BlockLayer::new(clock).expect("layer");
    let id = layer.create_backend("faulty", true);
    let file = NodeSpec::file(path);
    let s = NodeSpec {
        node_name: None,
        read_only: false,
        direct: false,
        no_flush: false,
        driver: DriverSpec::FaultInject { image: ChildSpec::Inline(Box::new(file)), rules },
    };
    layer.open_medium(id, &s).expect("open fault node");
    (layer, id)
}

#[test]
fn injected_errors_are_completions_and_counted() {
    let dir = tempdir();
    let path = image(dir.path(), "f.img", &pattern(16 * 1024, 1));
    let rules = vec![
        FaultRule { op: Op::Read, errno: Some(libc::EIO), offset: 4096, length: 4096, count: 1, delay_ns: 0 },
        FaultRule { op: Op::Write, errno: Some(libc::ENOSPC), offset: 0, length: 0, count: 0, delay_ns: 0 },
        FaultRule { op: Op::Flush, errno: Some(libc::EIO), offset: 0, length: 0, count: 1, delay_ns: 0 },
    ];
    let (mut layer, id) = fault_layer(Arc::new(RealClock::new()), &path, rules);
    assert!(read(&mut layer, id, 0, 4096).is_ok(), "outside the range");
    assert_eq!(read(&mut layer, id, 4096, 512), Err(BlockError::from_errno(libc::EIO)));
    assert!(read(&mut layer, id, 4096, 512).is_ok(), "count exhausted");
    let e = write(&mut layer, id, 0, &[0; 512]).unwrap_err();
    assert!(e.is_nospace());
    assert_eq!(one(&mut layer, id, Request::flush(0)).result, Err(BlockError::from_errno(libc::EIO)));
    assert!(one(&mut layer, id, Request::flush(0)).result.is_ok());
    let st = layer.stats(id).expect("stats");
    assert_eq!(st.get(AcctKind::Read).failed, 1);
    assert_eq!(st.get(AcctKind::Write).failed, 1);
    assert_eq!(st.get(AcctKind::Flush).failed, 1);
    assert_eq!(st.get(AcctKind::Read).operations, 2);
    assert_eq!(std::fs::read(&path).expect("file"), pattern(16 * 1024, 1), "failed write changed nothing");
}

#[test]
fn injected_delay_is_a_timer() {
    let dir = tempdir();
    let path = image(dir.path(), "dl.img", &pattern(8192, 1));
    let clock = VirtualClock::new();
    let rules = vec![FaultRule { op: Op::Read, errno: None, offset: 0, length: 0, count: 1, delay_ns: 7_000_000 }];
    let (mut layer, id) = fault_layer(clock.clone(), &path, rules);
    layer.submit(id, Request::read_owned(0, AlignedBuf::new(512), 5));
    assert_eq!(layer.next_deadline(), Some(7_000_000));
    layer.wait(Duration::from_millis(10));
    layer.process_completions(|_, _| panic!("delay ignored"));
    clock.set(7_000_000);
    layer.run_timers();
    let c = collect(&mut layer, 1).pop().expect("completion").1;
    assert_eq!((c.tag, c.result), (5, Ok(512)));
    assert_eq!(layer.stats(id).map(|s| s.get(AcctKind::Read).total_time_ns), Some(7_000_000));
}

#[test]
fn read_only_medium_refuses_writes_and_discards() {
    let dir = tempdir();
    let path = image(dir.path(), "ro.img", &pattern(8192, 9));
    let (mut layer, id) = open(Arc::new(RealClock::new()), &path, CacheMode::Writeback, AioMode::IoUring, true);
    assert!(layer.is_read_only(id));
    assert_eq!(write(&mut layer, id, 0, &[0; 512]), Err(BlockError::ReadOnly));
    assert_eq!(one(&mut layer, id, Request::discard(0, 512, 0)).result, Err(BlockError::ReadOnly));
    assert_eq!(BlockError::ReadOnly.to_string(), "Block node is read-only");
    assert_eq!(read(&mut layer, id, 0, 512).expect("reads work"), pattern(8192, 9)[..512]);
    assert_eq!(layer.stats(id).map(|s| s.get(AcctKind::Write).invalid), Some(1));
}

#[test]
fn no_medium_and_medium_changes() {
    let dir = tempdir();
    let a = image(dir.path(), "a.img", &pattern(4096, 1));
    let b = image(dir.path(), "b.img", &pattern(8192, 2));
    let mut layer = BlockLayer::new(Arc::new(RealClock::new())).expect("layer");
    let id = layer.create_backend("cd0", true);
    assert_eq!(read(&mut layer, id, 0, 512), Err(BlockError::NoMedium));
    assert_eq!(layer.remove_medium(id), Err(LayerError::NoMedium));
    let auto = layer.open_medium(id, &spec(&a, CacheMode::Writeback, AioMode::Auto, true)).expect("a");
    assert!(auto.starts_with("#block"), "{auto}");
    assert_eq!(layer.size(id), 4096);
    assert_eq!(read(&mut layer, id, 0, 512).expect("a"), pattern(4096, 1)[..512]);
    // A named node from blockdev-add, inserted and removed again.
    let mut s = spec(&b, CacheMode::Writeback, AioMode::Auto, true);
    s.node_name = Some("n1".into());
    assert_eq!(layer.add_node(&s, true).expect("add"), "n1");
    assert_eq!(layer.insert_medium(id, "n1"), Err(LayerError::HasMedium));
    layer.remove_medium(id).expect("remove");
    assert!(layer.node_info(&auto).is_none(), "auto-named medium closed on removal");
    layer.insert_medium(id, "n1").expect("insert");
    assert_eq!(layer.size(id), 8192);
    let other = layer.create_backend("cd1", true);
    assert_eq!(layer.insert_medium(other, "n1"), Err(LayerError::NodeInUse("n1".into())));
    assert_eq!(layer.delete_node("n1").unwrap_err().to_string(), "Node n1 is in use");
    layer.remove_medium(id).expect("remove");
    assert!(layer.node_info("n1").is_some(), "named nodes stay after removal");
    layer.delete_node("n1").expect("del");
    assert_eq!(layer.insert_medium(id, "n1"), Err(LayerError::NodeNotFound("n1".into())));
}

#[test]
fn node_graph_rules_and_texts() {
    let dir = tempdir();
    let p = image(dir.path(), "g.img", &pattern(8192, 4));
    let mut layer = BlockLayer::new(Arc::new(RealClock::new())).expect("layer");
    let mut f = NodeSpec::file(&p);
    let e = layer.add_node(&f, true).unwrap_err();
    assert_eq!(e.to_string(), "'node-name' must be specified for the root node");
    f.node_name = Some("1abc".into());
    assert_eq!(layer.add_node(&f, true).unwrap_err().to_string(), "Invalid node-name: '1abc'");
    f.node_name = Some("file0".into());
    layer.add_node(&f, true).expect("file0");
    let mut dup = NodeSpec::file(&p);
    dup.node_name = Some("file0".into());
    if let DriverSpec::File { locking, .. } = &mut dup.driver {
        *locking = LockMode::Off;
    }
    assert_eq!(layer.add_node(&dup, true).unwrap_err().to_string(), "Duplicate nodes with node-name='file0'");
    // raw window over a referenced file node.
    let raw = |name: &str, child: &str, offset: u64, size: Option<u64>| NodeSpec {
        node_name: Some(name.into()),
        read_only: false,
        direct: false,
        no_flush: false,
        driver: DriverSpec::Raw { file: ChildSpec::Ref(child.into()), offset, size },
    };
    assert_eq!(
        layer.add_node(&raw("r0", "nosuch", 0, None), true).unwrap_err().to_string(),
        "Cannot find device='nosuch' nor node-name='nosuch'"
    );
    layer.add_node(&raw("r1", "file0", 1024, Some(2048)), true).expect("r1");
    assert_eq!(layer.delete_node("file0").unwrap_err().to_string(), "Node file0 is in use");
    let id = layer.create_backend("hd0", true);
    layer.insert_medium(id, "r1").expect("insert r1");
    assert_eq!(layer.size(id), 2048);
    assert_eq!(read(&mut layer, id, 0, 1024).expect("window"), pattern(8192, 4)[1024..2048]);
    assert!(matches!(read(&mut layer, id, 1536, 1024), Err(BlockError::OutOfRange { .. })));
    let info = layer.medium_info(id).expect("info");
    assert_eq!((info.node.node_name.as_str(), info.node.driver, info.size), ("r1", "raw", 2048));
    assert_eq!(info.node.child.as_deref(), Some("file0"));
    assert!(info.node.filename.ends_with("g.img"));
    assert_eq!(layer.delete_node("nosuch").unwrap_err().to_string(), "Failed to find node with node-name='nosuch'");
    let names: Vec<String> = layer.nodes().into_iter().map(|n| n.node_name).collect();
    assert!(names.contains(&"file0".to_string()) && names.contains(&"r1".to_string()), "{names:?}");
    layer.remove_medium(id).expect("remove");
    layer.delete_node("r1").expect("del r1");
    layer.delete_node("file0").expect("del file0 once unused");
    assert!(layer.nodes().is_empty());
}

#[test]
fn write_cache_off_makes_writes_durable_before_completion() {
    let dir = tempdir();
    let path = image(dir.path(), "wt.img", &vec![0u8; 8192]);
    let (mut layer, id) = open(Arc::new(RealClock::new()), &path, CacheMode::Writethrough, AioMode::IoUring, false);
    assert!(!layer.write_cache(id));
    assert_eq!(write(&mut layer, id, 512, &[5u8; 512]), Ok(512));
    layer.set_write_cache(id, true);
    assert_eq!(write(&mut layer, id, 1024, &[6u8; 512]), Ok(512));
    let data = std::fs::read(&path).expect("read");
    assert!(data[512..1024].iter().all(|&b| b == 5) && data[1024..1536].iter().all(|&b| b == 6));
}

/// The child half of the durability test: write, flush, report, wait to die.
#[test]
fn flush_durability_child() {
    let Ok(path) = std::env::var("IRONIDE_FLUSH_CHILD") else { return };
    let aio = if std::env::var("IRONIDE_FLUSH_AIO").as_deref() == Ok("threads") {
        AioMode::Threads
    } else {
        AioMode::IoUring
    };
    let (mut layer, id) = open(Arc::new(RealClock::new()), Path::new(&path), CacheMode::Writeback, aio, false);
    assert_eq!(write(&mut layer, id, 4096, &pattern(8192, 42)), Ok(8192));
    assert!(one(&mut layer, id, Request::flush(0)).result.is_ok());
    println!("FLUSHED");
    use std::io::Write;
    std::io::stdout().flush().ok();
    std::thread::sleep(Duration::from_secs(60));
}

#[test]
fn flushed_data_survives_sigkill() {
    use std::io::{BufRead, BufReader};
    use std::process::{Command, Stdio};
    for aio in ["io_uring", "threads"] {
        let dir = tempdir();
        let path = image(dir.path(), "dur.img", &vec![0u8; 16384]);
        let mut child = Command::new(std::env::current_exe().expect("test binary"))
            .args(["--exact", "flush_durability_child", "--nocapture", "--test-threads=1"])
            .env("IRONIDE_FLUSH_CHILD", &path)
            .env("IRONIDE_FLUSH_AIO", aio)
            .stdout(Stdio::piped())
            .spawn()
            .expect("spawn child");
        let out = child.stdout.take().expect("stdout");
        let mut flushed = false;
        for line in BufReader::new(out).lines() {
            if line.expect("line").contains("FLUSHED") {
                flushed = true;
                break;
            }
        }
        assert!(flushed, "child never reported its flush");
        child.kill().expect("SIGKILL");
        child.wait().expect("reap");
        let data = std::fs::read(&path).expect("read");
        assert_eq!(&data[4096..4096 + 8192], &pattern(8192, 42)[..], "{aio}: flushed data lost");
    }
}

#[test]
fn null_co_completes_without_a_file() {
    let mut layer = BlockLayer::new(Arc::new(RealClock::new())).expect("layer");
    let id = layer.create_backend("null0", true);
    let s = NodeSpec {
        node_name: Some("nul".into()),
        read_only: false,
        direct: false,
        no_flush: false,
        driver: DriverSpec::Null { size: 1 << 30, read_zeroes: true },
    };
    layer.add_node(&s, true).expect("null node");
    layer.insert_medium(id, "nul").expect("insert");
    assert_eq!(layer.size(id), 1 << 30);
    let c = one(&mut layer, id, Request::read_owned(4096, AlignedBuf::from_slice(&[0xEE; 4096]), 1));
    assert_eq!(c.result, Ok(4096));
    assert!(c.buf.expect("buffer").as_slice().iter().all(|&b| b == 0), "read-zeroes");
    assert_eq!(write(&mut layer, id, 0, &[1; 512]), Ok(512));
    assert!(one(&mut layer, id, Request::flush(0)).result.is_ok());
    assert!(matches!(read(&mut layer, id, (1 << 30) - 512, 1024), Err(BlockError::OutOfRange { .. })));
    assert_eq!(layer.stats(id).map(|s| s.get(AcctKind::Read).operations), Some(1));
    assert_eq!(layer.medium_info(id).map(|m| m.node.driver), Some("null-co"));
}
