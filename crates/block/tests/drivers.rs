//! Integration tests of the node drivers: real files on the target
//! directory's filesystem (O_DIRECT needs a real filesystem, not tmpfs),
//! and cross-checks of the image locking against QEMU's own tools.

use std::io::Write;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use ironide_block::driver::{
    check_node_name, file, AutoNames, CacheMode, FaultAction, FaultRule, FaultRules, FileOptions, LockMode, RawWindow,
};
use ironide_block::error::OpenError;
use ironide_block::{AlignedBuf, BlockError, Op};

fn tempdir() -> tempfile::TempDir {
    tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).expect("tempdir")
}

fn image(dir: &Path, len: usize) -> PathBuf {
    let p = dir.join("disk.img");
    std::fs::write(&p, vec![0x5au8; len]).expect("write image");
    p
}

fn opts(p: &Path, read_only: bool, cache: CacheMode) -> FileOptions {
    FileOptions { filename: p.to_path_buf(), read_only, cache: cache.flags(), locking: LockMode::On }
}

/// The `flags:` field of /proc/self/fdinfo/FD (octal).
fn fd_flags(fd: i32) -> i32 {
    let info = std::fs::read_to_string(format!("/proc/self/fdinfo/{fd}")).expect("fdinfo");
    let line = info.lines().find_map(|l| l.strip_prefix("flags:")).expect("flags line");
    i32::from_str_radix(line.trim(), 8).expect("octal flags")
}

#[test]
fn missing_file_has_qemu_text() {
    let e = file::open(&FileOptions::new("/nonexistent")).unwrap_err();
    assert_eq!(e.to_string(), "Could not open '/nonexistent': No such file or directory");
    assert!(matches!(e, OpenError::Open { .. }));
}

#[test]
fn cache_modes_become_open_flags() {
    let dir = tempdir();
    let p = image(dir.path(), 65536);
    for mode in CacheMode::ALL {
        let mut o = opts(&p, false, mode);
        o.locking = LockMode::Off;
        let n = file::open(&o).unwrap_or_else(|e| panic!("{}: {e}", mode.name()));
        let flags = fd_flags(n.file.as_raw_fd());
        let f = mode.flags();
        assert_eq!(flags & libc::O_DIRECT != 0, f.direct, "O_DIRECT for {}", mode.name());
        assert_eq!(flags & libc::O_DSYNC != 0, !f.writeback, "O_DSYNC for {}", mode.name());
        assert_eq!(flags & libc::O_ACCMODE, libc::O_RDWR);
        assert!(flags & libc::O_CLOEXEC != 0);
        assert_eq!(n.direct, f.direct);
        if f.direct {
            assert!(n.align == 512 || n.align == 4096, "align {}", n.align);
            // A read honouring the probed alignment must work.
            let mut buf = AlignedBuf::new(n.align);
            // SAFETY: buf is valid for align bytes.
            let r = unsafe { libc::pread(n.file.as_raw_fd(), buf.as_mut_ptr().cast(), n.align, 0) };
            assert_eq!(r, n.align as isize);
            assert!(buf.as_slice().iter().all(|&b| b == 0x5a));
        } else {
            assert_eq!(n.align, 1);
        }
    }
}

#[test]
fn read_only_fd_refuses_writes() {
    let dir = tempdir();
    let p = image(dir.path(), 4096);
    let n = file::open(&opts(&p, true, CacheMode::Writeback)).unwrap();
    assert_eq!(fd_flags(n.file.as_raw_fd()) & libc::O_ACCMODE, libc::O_RDONLY);
    let data = [0u8; 512];
    // SAFETY: data is valid for 512 bytes.
    let r = unsafe { libc::pwrite(n.file.as_raw_fd(), data.as_ptr().cast(), 512, 0) };
    assert_eq!(r, -1);
    assert_eq!(std::io::Error::last_os_error().raw_os_error(), Some(libc::EBADF));
    assert!(n.read_only);
    assert_eq!(n.size, 4096);
}

#[test]
fn direct_on_tmpfs_fails_clearly_if_refused() {
    // Recent kernels give tmpfs O_DIRECT; older ones refuse it. Either the
    // open works, or the error says why.
    let shm = Path::new("/dev/shm");
    if !shm.is_dir() {
        eprintln!("skipped: no /dev/shm");
        return;
    }
    let dir = tempfile::tempdir_in(shm).unwrap();
    let p = image(dir.path(), 4096);
    match file::open(&opts(&p, false, CacheMode::None)) {
        Ok(n) => assert!(n.direct),
        Err(e) => {
            let t = e.to_string();
            assert!(t.contains("O_DIRECT") && t.contains("cache=none"), "{t}");
        }
    }
}

#[test]
fn non_file_is_refused() {
    let dir = tempdir();
    let mut o = opts(dir.path(), true, CacheMode::Writeback);
    o.locking = LockMode::Off;
    let e = file::open(&o).unwrap_err();
    assert!(e.to_string().contains("neither a regular file nor a block device"), "{e}");
}

fn assert_locked_by_us(e: &OpenError, path: &Path) {
    let tail =
        format!("\"write\" lock on '{}': the image is in use by process {} (", path.display(), std::process::id());
    let text = e.to_string();
    // "shared" when the holder has a permission we refuse to share (QEMU's wording).
    let shared = matches!(e, OpenError::Locked { shared: true, .. });
    let want = if shared { format!("Failed to get shared {tail}") } else { format!("Failed to get {tail}") };
    assert!(text.starts_with(&want), "{e}");
    assert!(matches!(e, OpenError::Locked { perm: "write", .. }));
}

#[test]
fn locking_between_openers() {
    let dir = tempdir();
    let p = image(dir.path(), 4096);
    let rw = opts(&p, false, CacheMode::Writeback);
    let ro = opts(&p, true, CacheMode::Writeback);

    // RW then RW: OFD locks conflict even inside one process.
    let a = file::open(&rw).unwrap();
    assert_locked_by_us(&file::open(&rw).unwrap_err(), &p);
    // RW then RO.
    assert_locked_by_us(&file::open(&ro).unwrap_err(), &p);
    // locking=off ignores it all.
    let mut off = rw.clone();
    off.locking = LockMode::Off;
    let free = file::open(&off).unwrap();
    assert!(!free.is_locked());
    drop(free);
    drop(a);

    // Two readers coexist; a writer is then refused.
    let r1 = file::open(&ro).unwrap();
    let r2 = file::open(&ro).unwrap();
    assert_locked_by_us(&file::open(&rw).unwrap_err(), &p);
    drop(r1);
    assert_locked_by_us(&file::open(&rw).unwrap_err(), &p);
    drop(r2);

    // Released on drop, even while an engine still holds the fd.
    let w = file::open(&rw).unwrap();
    let engine_fd = std::sync::Arc::clone(&w.file);
    drop(w);
    let again = file::open(&rw).unwrap();
    assert!(again.is_locked());
    drop(engine_fd);
}

fn tool(name: &str) -> Option<PathBuf> {
    let out = Command::new("sh").arg("-c").arg(format!("command -v {name}")).output().ok()?;
    let s = String::from_utf8(out.stdout).ok()?;
    let s = s.trim();
    (out.status.success() && !s.is_empty()).then(|| PathBuf::from(s))
}

/// Runs a QEMU tool with `args` (`"IMG"` stands for the image); returns
/// (succeeded, stderr).
fn run_tool(tool: &Path, args: &[&str], img: &Path) -> (bool, String) {
    let args = args.iter().map(|&a| if a == "IMG" { img.as_os_str() } else { a.as_ref() });
    let out = Command::new(tool).args(args).output().expect("run QEMU tool");
    (out.status.success(), String::from_utf8_lossy(&out.stderr).into_owned())
}

#[test]
fn qemu_tools_see_our_lock() {
    let Some(qemu_io) = tool("qemu-io") else {
        eprintln!("skipped: qemu-io not installed");
        return;
    };
    let dir = tempdir();
    let p = image(dir.path(), 65536);
    let copy = dir.path().join("copy.img");
    let copy = copy.to_str().expect("utf-8 path");
    for read_only in [false, true] {
        let node = file::open(&opts(&p, read_only, CacheMode::Writeback)).unwrap();
        // qemu-io read-write wants "write", which we never share.
        let (ok, err) = run_tool(&qemu_io, &["-f", "raw", "-c", "read 0 512", "IMG"], &p);
        assert!(!ok, "qemu-io (rw) must be refused while we hold the image (ours ro={read_only})");
        assert!(err.contains("Failed to get \"write\" lock"), "{err}");
        // qemu-io -r holds consistent-read only and shares everything: QEMU
        // lets it read an image a guest uses, and so do we.
        let (ok, err) = run_tool(&qemu_io, &["-r", "-f", "raw", "-c", "read 0 512", "IMG"], &p);
        assert!(ok, "qemu-io -r must coexist (ours ro={read_only}): {err}");
        // qemu-img convert refuses to share "write": blocked by a writer only.
        if let Some(qemu_img) = tool("qemu-img") {
            let (ok, err) = run_tool(&qemu_img, &["convert", "-f", "raw", "-O", "raw", "IMG", copy], &p);
            if read_only {
                assert!(ok, "qemu-img convert must coexist with a reader: {err}");
            } else {
                assert!(!ok && err.contains("Failed to get shared \"write\" lock"), "{err}");
            }
        }
        drop(node);
    }
    // Free again: qemu-io may write.
    let (ok, err) = run_tool(&qemu_io, &["-f", "raw", "-c", "write 0 512", "IMG"], &p);
    assert!(ok, "{err}");
}

#[test]
fn we_are_refused_while_qemu_io_holds_the_image() {
    let Some(qemu_io) = tool("qemu-io") else {
        eprintln!("skipped: qemu-io not installed");
        return;
    };
    let dir = tempdir();
    let p = image(dir.path(), 65536);
    // Interactive qemu-io keeps the image open (read-write) until stdin says quit.
    let mut child = Command::new(&qemu_io)
        .args(["-f", "raw"])
        .arg(&p)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let pid = child.id();
    let deadline = Instant::now() + Duration::from_secs(20);
    let err = loop {
        match file::open(&opts(&p, true, CacheMode::Writeback)) {
            Err(e) => break e,
            Ok(n) => drop(n),
        }
        assert!(Instant::now() < deadline, "qemu-io never locked the image");
        std::thread::sleep(Duration::from_millis(50));
    };
    let text = err.to_string();
    assert!(text.contains("lock"), "{text}");
    assert!(text.contains(&format!("process {pid} (qemu-io)")), "{text}");
    assert!(file::open(&opts(&p, false, CacheMode::Writeback)).is_err());

    if let Some(mut stdin) = child.stdin.take() {
        let _ = stdin.write_all(b"quit\n");
    }
    let _ = child.wait();
    assert!(file::open(&opts(&p, false, CacheMode::Writeback)).is_ok());
}

#[test]
fn raw_windows() {
    let w = RawWindow::new(1 << 20, 4096, Some(8192)).unwrap();
    assert_eq!(w.map(0, 8192), Ok(4096));
    assert_eq!(w.map(8192, 1), Err(BlockError::OutOfRange { offset: 8192, len: 1, size: 8192 }));
    assert!(w.map(u64::MAX, 1).is_err());
    assert!(w.map(512, u64::MAX).is_err());
    assert_eq!(
        RawWindow::new(1 << 20, u64::MAX, Some(512)).unwrap_err().to_string(),
        format!(
            "The sum of offset ({}) and size (512) has to be smaller or equal to the  actual size of the \
             containing file (1048576)",
            u64::MAX
        )
    );
    assert_eq!(
        RawWindow::new(100, 101, None).unwrap_err().to_string(),
        "Offset (101) cannot be greater than size of the containing file (100)"
    );
    assert_eq!(RawWindow::identity(1 << 20).map(0, 1 << 20), Ok(0));
}

#[test]
fn fault_rules_from_json() {
    let rules: Vec<FaultRule> = serde_json::from_str(
        r#"[{"iotype": "write", "errno": "ENOSPC", "offset": 4096, "length": 4096, "count": 1},
            {"iotype": "read", "errno": 5},
            {"iotype": "flush", "delay-ns": 1000},
            {"iotype": "discard"}]"#,
    )
    .unwrap();
    assert_eq!(
        rules[0],
        FaultRule { op: Op::Write, errno: Some(libc::ENOSPC), offset: 4096, length: 4096, count: 1, delay_ns: 0 }
    );
    assert_eq!(rules[1].errno, Some(libc::EIO));
    assert_eq!((rules[2].errno, rules[2].delay_ns), (None, 1000));
    assert_eq!(rules[3].errno, Some(libc::EIO));

    let mut r = FaultRules::new(rules);
    assert_eq!(r.check(Op::Write, 4096, 512).errno, Some(libc::ENOSPC));
    assert_eq!(r.check(Op::Write, 4096, 512), FaultAction::default());
    assert_eq!(r.check(Op::Read, 1 << 30, 512).errno, Some(libc::EIO));
    assert_eq!(r.check(Op::Flush, 0, 0), FaultAction { errno: None, delay_ns: 1000 });

    for bad in [
        r#"{"iotype": "trim"}"#,
        r#"{"iotype": "read", "errno": "EWHAT"}"#,
        r#"{"iotype": "read", "errno": -1}"#,
        r#"{"iotype": "read", "sector": 1}"#,
        r#"{"errno": "EIO"}"#,
    ] {
        assert!(serde_json::from_str::<FaultRule>(bad).is_err(), "{bad}");
    }
    let e = serde_json::from_str::<FaultRule>(r#"{"iotype": "read", "errno": "EWHAT"}"#).unwrap_err();
    assert!(e.to_string().contains("Invalid errno 'EWHAT'"), "{e}");
}

#[test]
fn node_names() {
    assert!(check_node_name("disk0").is_ok());
    assert_eq!(check_node_name("1abc").unwrap_err().to_string(), "Invalid node-name: '1abc'");
    assert_eq!(check_node_name(&"a".repeat(32)).unwrap_err().to_string(), "Node name too long");
    assert!(check_node_name(&"a".repeat(31)).is_ok());
    let names: Vec<String> = AutoNames::new().take(2).collect();
    assert_eq!(names, ["#block100", "#block101"]);
    assert!(names.iter().all(|n| check_node_name(n).is_err()));
}
