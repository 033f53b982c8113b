//! Reading what GRUB's diagnostic commands print: `cmosdump`, `lspci -i` and `hexdump` (the
//! format `hdparm -I` uses), taken from the serial log between two `echo` markers.

use super::flatten;

/// The serial lines between the line `from` and the line `to` (each line flattened: escape
/// sequences removed, blank lines dropped). None when a marker is missing.
pub fn lines_between(serial: &str, from: &str, to: &str) -> Option<Vec<String>> {
    let lines: Vec<String> =
        serial.split(['\r', '\n']).map(|l| flatten(l).trim().to_string()).filter(|l| !l.is_empty()).collect();
    let start = lines.iter().position(|l| l == from)? + 1;
    let len = lines[start..].iter().position(|l| l == to)?;
    Some(lines[start..start + len].to_vec())
}

fn hex_byte(token: &str) -> Option<u8> {
    (token.len() == 2).then(|| u8::from_str_radix(token, 16).ok()).flatten()
}

/// `cmosdump`: rows of `OO: b0 b1 ... b15`. Every row must start where the previous one
/// ended; returns the bytes in order (256 for GRUB 2.06: both CMOS banks).
pub fn cmos_dump(lines: &[String]) -> Result<Vec<u8>, String> {
    let mut bytes = Vec::new();
    for line in lines {
        let mut tokens = line.split_whitespace();
        let label = tokens.next().unwrap_or_default();
        let offset = label.strip_suffix(':').and_then(hex_byte).ok_or(format!("not a cmosdump row: `{line}`"))?;
        if offset as usize != bytes.len() {
            return Err(format!("row {offset:#04x} after {} bytes", bytes.len()));
        }
        for t in tokens {
            bytes.push(hex_byte(t).ok_or(format!("bad byte `{t}` in `{line}`"))?);
        }
    }
    Ok(bytes)
}

/// GRUB's `hexdump` (used by `hdparm -I`): `OOOOOOOO  b0 b1 ... b15  |ascii|` lines, where a
/// line `*` stands for copies of the line before it up to the next offset. `len` is the
/// length dumped, so a `*` at the end can be expanded too.
pub fn hexdump_bytes(lines: &[String], len: usize) -> Result<Vec<u8>, String> {
    let mut bytes: Vec<u8> = Vec::new();
    let mut last: Vec<u8> = Vec::new();
    let mut repeat = false;
    let fill = |bytes: &mut Vec<u8>, last: &[u8], upto: usize| {
        while bytes.len() < upto && !last.is_empty() {
            bytes.extend_from_slice(last);
        }
    };
    for line in lines {
        if line == "*" {
            repeat = true;
            continue;
        }
        let mut tokens = line.split_whitespace();
        let label = tokens.next().unwrap_or_default();
        let offset = usize::from_str_radix(label, 16).map_err(|_| format!("not a hexdump line: `{line}`"))?;
        if repeat {
            fill(&mut bytes, &last, offset);
            repeat = false;
        }
        if offset != bytes.len() {
            return Err(format!("line {offset:#x} after {:#x} bytes", bytes.len()));
        }
        last = tokens
            .take_while(|t| !t.starts_with('|'))
            .map(hex_byte)
            .collect::<Option<Vec<u8>>>()
            .ok_or(format!("bad bytes in `{line}`"))?;
        bytes.extend_from_slice(&last);
    }
    if repeat {
        fill(&mut bytes, &last, len);
    }
    if bytes.len() != len {
        return Err(format!("{} bytes, expected {len}", bytes.len()));
    }
    Ok(bytes)
}

/// One PCI function as `lspci -i` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PciFunction {
    /// `bus:dev.fn`
    pub address: String,
    pub vendor: u16,
    pub device: u16,
    /// Base class << 8 | subclass.
    pub class: u16,
    /// Shown only when not zero.
    pub prog_if: Option<u8>,
    /// (BAR index, I/O address) for each I/O BAR (`-i`).
    pub io_spaces: Vec<(u8, u64)>,
}

/// `lspci [-i]`: `BB:DD.F VVVV:DDDD [CCCC] Name [PI xx]`, with `IO space N at 0xADDR` lines
/// after a function when `-i` is given (memory BARs are kept out: none here).
pub fn pci_functions(lines: &[String]) -> Result<Vec<PciFunction>, String> {
    let mut out: Vec<PciFunction> = Vec::new();
    for line in lines {
        if let Some(rest) = line.strip_prefix("IO space ") {
            let (index, addr) = rest.split_once(" at 0x").ok_or(format!("bad I/O line `{line}`"))?;
            let index: u8 = index.parse().map_err(|_| format!("bad BAR index in `{line}`"))?;
            let addr = u64::from_str_radix(addr.trim(), 16).map_err(|_| format!("bad address in `{line}`"))?;
            out.last_mut().ok_or(format!("`{line}` before any function"))?.io_spaces.push((index, addr));
            continue;
        }
        let mut tokens = line.split_whitespace();
        let (Some(address), Some(ids), Some(class)) = (tokens.next(), tokens.next(), tokens.next()) else {
            return Err(format!("not an lspci line: `{line}`"));
        };
        let (vendor, device) = ids.split_once(':').ok_or(format!("bad ids in `{line}`"))?;
        let hex16 = |s: &str| u16::from_str_radix(s, 16).map_err(|_| format!("bad hex `{s}` in `{line}`"));
        let class =
            class.strip_prefix('[').and_then(|c| c.strip_suffix(']')).ok_or(format!("bad class in `{line}`"))?;
        let prog_if = match line.split_once("[PI ") {
            Some((_, pi)) => {
                Some(pi.strip_suffix(']').and_then(hex_byte).ok_or(format!("bad programming interface in `{line}`"))?)
            }
            None => None,
        };
        out.push(PciFunction {
            address: address.to_string(),
            vendor: hex16(vendor)?,
            device: hex16(device)?,
            class: hex16(class)?,
            prog_if,
            io_spaces: Vec::new(),
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(text: &str) -> Vec<String> {
        text.lines().map(|l| l.trim().to_string()).collect()
    }

    #[test]
    fn cmos_rows_in_order() {
        let l = lines(
            "00: 01 02 03 04 05 06 07 08 09 0a 0b 0c 0d 0e 0f 10\n10: ff 00 ff 00 ff 00 ff 00 ff 00 ff 00 ff 00 ff 00",
        );
        let b = cmos_dump(&l).unwrap();
        assert_eq!(b.len(), 32);
        assert_eq!((b[0], b[15], b[16], b[17]), (1, 0x10, 0xff, 0));
        assert!(cmos_dump(&lines("10: 00")).is_err());
        assert!(cmos_dump(&lines("00: zz")).is_err());
    }

    #[test]
    fn hexdump_expands_stars() {
        let l = lines(
            "00000000  40 00 82 20 00 00 10 00  00 7e 00 02 3f 00 00 00  |@.. .....~..?...|\n\
             00000010  00 00 00 00 00 00 00 00  00 00 00 00 00 00 00 00  |................|\n\
             *\n\
             00000040  01 00 00 00 00 00 00 00  00 00 00 00 00 00 00 00  |................|\n\
             00000050  00 00 00 00 00 00 00 00  00 00 00 00 00 00 00 00  |................|\n\
             *",
        );
        let b = hexdump_bytes(&l, 0x80).unwrap();
        assert_eq!(b.len(), 0x80);
        assert_eq!((b[0], b[2], b[3], b[0x40], b[0x7f]), (0x40, 0x82, 0x20, 1, 0));
        assert!(hexdump_bytes(&l, 0x88).is_err(), "a length the dump cannot end at");
    }

    #[test]
    fn lspci_with_io_spaces() {
        let l = lines(
            "00:00.0 8086:1237 [0600] Host Bridge\n00:01.1 8086:7010 [0101] IDE Controller [PI 80]\n\
             IO space 4 at 0xc000",
        );
        let f = pci_functions(&l).unwrap();
        assert_eq!(f.len(), 2);
        assert_eq!((f[0].vendor, f[0].device, f[0].class, f[0].prog_if), (0x8086, 0x1237, 0x0600, None));
        assert_eq!((f[1].address.as_str(), f[1].prog_if), ("00:01.1", Some(0x80)));
        assert_eq!(f[1].io_spaces, vec![(4, 0xc000)]);
        assert!(pci_functions(&lines("IO space 4 at 0xc000")).is_err());
    }

    #[test]
    fn lines_between_markers() {
        let serial = "\x1b[H\x1b[JGRUB-START\r\nA-BEGIN\r\n x \r\n\r\nA-END\r\n";
        assert_eq!(lines_between(serial, "A-BEGIN", "A-END"), Some(vec!["x".to_string()]));
        assert_eq!(lines_between(serial, "B-BEGIN", "A-END"), None);
    }
}
