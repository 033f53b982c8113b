//! Kernel modules and their load order without depmod or modinfo: a Debian kernel package
//! ships no modules.dep (its postinst runs depmod), so the order comes from each module's
//! `.modinfo` section (`depends=`, and `softdep=pre:` where such a module file exists).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Module name as the kernel spells it: dashes become underscores (crc-t10dif.ko is crc_t10dif).
pub fn canonical(name: &str) -> String {
    name.replace('-', "_")
}

/// Every `*.ko` under `dir`, by canonical module name.
pub fn index(dir: &Path) -> Result<BTreeMap<String, PathBuf>, String> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let entries = std::fs::read_dir(&d).map_err(|e| format!("reading {}: {e}", d.display()))?;
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if let Some(stem) = path.file_name().and_then(|n| n.to_str()).and_then(|n| n.strip_suffix(".ko")) {
                out.insert(canonical(stem), path);
            }
        }
    }
    Ok(out)
}

fn le(bytes: &[u8], off: usize, len: usize) -> Option<u64> {
    bytes.get(off..off + len).map(|s| s.iter().rev().fold(0u64, |a, &b| a << 8 | u64::from(b)))
}

/// The NUL-separated `key=value` strings of an ELF64 module's `.modinfo` section.
pub fn modinfo(ko: &[u8]) -> Result<Vec<String>, String> {
    if ko.get(..5) != Some(b"\x7fELF\x02") {
        return Err("not an ELF64 file (compressed module?)".into());
    }
    let shoff = le(ko, 0x28, 8).ok_or("truncated ELF header")? as usize;
    let shentsize = le(ko, 0x3a, 2).ok_or("truncated ELF header")? as usize;
    let shnum = le(ko, 0x3c, 2).ok_or("truncated ELF header")? as usize;
    let shstrndx = le(ko, 0x3e, 2).ok_or("truncated ELF header")? as usize;
    let section = |i: usize| -> Option<(usize, usize, usize)> {
        let h = shoff + i * shentsize;
        Some((le(ko, h, 4)? as usize, le(ko, h + 0x18, 8)? as usize, le(ko, h + 0x20, 8)? as usize))
    };
    let (_, strtab, _) = section(shstrndx).ok_or("no section name table")?;
    for i in 0..shnum {
        let (name, off, size) = section(i).ok_or("truncated section table")?;
        let name_bytes = ko.get(strtab + name..).unwrap_or_default();
        let end = name_bytes.iter().position(|&b| b == 0).unwrap_or(name_bytes.len());
        if &name_bytes[..end] == b".modinfo" {
            let data = ko.get(off..off + size).ok_or(".modinfo past the end of the file")?;
            return Ok(data
                .split(|&b| b == 0)
                .filter(|s| !s.is_empty())
                .map(|s| String::from_utf8_lossy(s).into_owned())
                .collect());
        }
    }
    Err("no .modinfo section".into())
}

/// Hard dependencies (`depends=`) and soft pre-dependencies (`softdep=pre: a b post: c`).
pub fn dependencies(info: &[String]) -> (Vec<String>, Vec<String>) {
    let mut hard = Vec::new();
    let mut soft = Vec::new();
    for line in info {
        if let Some(list) = line.strip_prefix("depends=") {
            hard.extend(list.split(',').filter(|s| !s.is_empty()).map(canonical));
        } else if let Some(spec) = line.strip_prefix("softdep=") {
            let mut pre = false;
            for word in spec.split_whitespace() {
                match word {
                    "pre:" => pre = true,
                    "post:" => pre = false,
                    name if pre => soft.push(canonical(name)),
                    _ => {}
                }
            }
        }
    }
    (hard, soft)
}

/// `wanted` and everything they need, each after its dependencies. A missing hard dependency
/// is an error; a soft dependency without a module file (an alias such as `crct10dif`) is left
/// out, as the kernel falls back without it.
pub fn load_order(index: &BTreeMap<String, PathBuf>, wanted: &[&str]) -> Result<Vec<(String, PathBuf)>, String> {
    fn visit(
        name: &str,
        required: bool,
        index: &BTreeMap<String, PathBuf>,
        seen: &mut BTreeSet<String>,
        out: &mut Vec<(String, PathBuf)>,
    ) -> Result<(), String> {
        if !seen.insert(name.to_string()) {
            return Ok(());
        }
        let Some(path) = index.get(name) else {
            return if required { Err(format!("module {name} not found")) } else { Ok(()) };
        };
        let bytes = std::fs::read(path).map_err(|e| format!("reading {}: {e}", path.display()))?;
        let info = modinfo(&bytes).map_err(|e| format!("{}: {e}", path.display()))?;
        let (hard, soft) = dependencies(&info);
        for dep in &hard {
            visit(dep, true, index, seen, out)?;
        }
        for dep in &soft {
            visit(dep, false, index, seen, out)?;
        }
        out.push((name.to_string(), path.clone()));
        Ok(())
    }
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    for name in wanted {
        visit(&canonical(name), true, index, &mut seen, &mut out)?;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn softdep_pre_and_post() {
        let info = ["depends=crct10dif_common".to_string(), "softdep=pre: crct10dif post: x".to_string()];
        let (hard, soft) = dependencies(&info);
        assert_eq!(hard, ["crct10dif_common"]);
        assert_eq!(soft, ["crct10dif"]);
        assert_eq!(dependencies(&["depends=".to_string()]).0, Vec::<String>::new());
    }
}
