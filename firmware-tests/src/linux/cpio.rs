//! "newc" cpio archives, the format the kernel unpacks an initramfs from: writing one (parent
//! directories are added before their first entry, as the kernel creates none) and reading one
//! back for the structure test.

use std::collections::BTreeSet;

const MAGIC: &[u8; 6] = b"070701";
const TRAILER: &str = "TRAILER!!!";
pub const S_IFDIR: u32 = 0o040_000;
pub const S_IFREG: u32 = 0o100_000;
pub const S_IFLNK: u32 = 0o120_000;
pub const S_IFCHR: u32 = 0o020_000;
const S_IFMT: u32 = 0o170_000;

/// An archive being written.
#[derive(Debug, Default)]
pub struct Writer {
    buf: Vec<u8>,
    next_ino: u32,
    dirs: BTreeSet<String>,
}

impl Writer {
    pub fn new() -> Writer {
        Writer::default()
    }

    pub fn dir(&mut self, name: &str) {
        let name = name.trim_matches('/');
        if !name.is_empty() && !self.dirs.contains(name) {
            self.entry(name, S_IFDIR | 0o755, (0, 0), &[]);
        }
    }

    pub fn file(&mut self, name: &str, perm: u32, data: &[u8]) {
        self.entry(name.trim_matches('/'), S_IFREG | perm, (0, 0), data);
    }

    pub fn symlink(&mut self, name: &str, target: &str) {
        self.entry(name.trim_matches('/'), S_IFLNK | 0o777, (0, 0), target.as_bytes());
    }

    pub fn char_dev(&mut self, name: &str, major: u32, minor: u32) {
        self.entry(name.trim_matches('/'), S_IFCHR | 0o600, (major, minor), &[]);
    }

    fn entry(&mut self, name: &str, mode: u32, rdev: (u32, u32), data: &[u8]) {
        if name != TRAILER {
            if let Some((parent, _)) = name.rsplit_once('/') {
                self.dir(parent);
            }
            if mode & S_IFMT == S_IFDIR {
                self.dirs.insert(name.to_string());
            }
        }
        self.next_ino += 1;
        let nlink = if mode & S_IFMT == S_IFDIR { 2 } else { 1 };
        // ino mode uid gid nlink mtime filesize devmajor devminor rdevmajor rdevminor namesize check
        let fields =
            [self.next_ino, mode, 0, 0, nlink, 0, data.len() as u32, 0, 0, rdev.0, rdev.1, name.len() as u32 + 1, 0];
        self.buf.extend_from_slice(MAGIC);
        for f in fields {
            self.buf.extend_from_slice(format!("{f:08x}").as_bytes());
        }
        self.buf.extend_from_slice(name.as_bytes());
        self.buf.push(0);
        self.pad();
        self.buf.extend_from_slice(data);
        self.pad();
    }

    fn pad(&mut self) {
        self.buf.resize(self.buf.len().next_multiple_of(4), 0);
    }

    pub fn finish(mut self) -> Vec<u8> {
        self.entry(TRAILER, 0, (0, 0), &[]);
        self.buf
    }
}

/// One member of an archive read back.
#[derive(Debug, Clone)]
pub struct Entry {
    pub name: String,
    pub mode: u32,
    pub data: Vec<u8>,
}

impl Entry {
    pub fn is_file(&self) -> bool {
        self.mode & S_IFMT == S_IFREG
    }
    pub fn is_dir(&self) -> bool {
        self.mode & S_IFMT == S_IFDIR
    }
    pub fn is_symlink(&self) -> bool {
        self.mode & S_IFMT == S_IFLNK
    }
    pub fn is_char_dev(&self) -> bool {
        self.mode & S_IFMT == S_IFCHR
    }
}

/// The members of a newc archive, up to its trailer.
pub fn read(archive: &[u8]) -> Result<Vec<Entry>, String> {
    let mut out = Vec::new();
    let mut pos = 0usize;
    loop {
        let header = archive.get(pos..pos + 110).ok_or(format!("truncated header at {pos}"))?;
        if &header[..6] != MAGIC {
            return Err(format!("bad magic at {pos}"));
        }
        let field = |i: usize| -> Result<usize, String> {
            let hex = std::str::from_utf8(&header[6 + 8 * i..14 + 8 * i]).map_err(|e| e.to_string())?;
            usize::from_str_radix(hex, 16).map_err(|e| format!("field {i} at {pos}: {e}"))
        };
        let (mode, size, namesize) = (field(1)? as u32, field(6)?, field(11)?);
        let name_start = pos + 110;
        let name_bytes = archive.get(name_start..name_start + namesize).ok_or("truncated name")?;
        let name = String::from_utf8_lossy(name_bytes.strip_suffix(&[0]).unwrap_or(name_bytes)).into_owned();
        let data_start = (name_start + namesize).next_multiple_of(4);
        let data = archive.get(data_start..data_start + size).ok_or(format!("truncated data of {name}"))?;
        pos = (data_start + size).next_multiple_of(4);
        if name == TRAILER {
            return Ok(out);
        }
        out.push(Entry { name, mode, data: data.to_vec() });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_adds_parents_once() {
        let mut w = Writer::new();
        w.file("lib/modules/a.ko", 0o644, b"abc");
        w.file("lib/modules/b.ko", 0o644, b"defgh");
        w.symlink("bin/sh", "busybox");
        w.char_dev("dev/console", 5, 1);
        let entries = read(&w.finish()).expect("archive reads back");
        let names: Vec<&str> = entries.iter().map(|e| e.name.as_str()).collect();
        assert_eq!(
            names,
            ["lib", "lib/modules", "lib/modules/a.ko", "lib/modules/b.ko", "bin", "bin/sh", "dev", "dev/console"]
        );
        assert_eq!(entries[3].data, b"defgh");
        assert!(entries[0].is_dir() && entries[2].is_file() && entries[5].is_symlink() && entries[7].is_char_dev());
    }
}
