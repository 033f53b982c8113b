//! SMBIOS tables for the pc machine, handed to the firmware over fw_cfg as
//! the files "etc/smbios/smbios-anchor" (a 31-byte SMBIOS 2.1-style "_SM_"
//! entry point declaring version 2.8) and "etc/smbios/smbios-tables" (the
//! structure table). The set is QEMU 7.2's default for `-machine pc`: types
//! 1 (system), 3 (chassis), 4 (one per socket), 16 (memory array), 17 (one
//! per 16 GiB "DIMM"), 19 (one per RAM range of the e820 map), 32 (boot
//! status) and 127 (end). Type 0 (BIOS) is left to the firmware: SeaBIOS adds
//! its own when the table lacks one, then copies the rest as is and fills in
//! the table address and the checksums.
//!
//! Why it matters: without these files SeaBIOS builds a table itself, which
//! costs far more guest time on nested KVM than copying ours.
//!
//! Layouts follow DMTF DSP0134 (2.8); handles and values follow what QEMU 7.2
//! hands over, so a guest moved from QEMU sees the same `dmidecode`.

/// fw_cfg file with the entry point.
pub const ANCHOR_FILE: &str = "etc/smbios/smbios-anchor";
/// fw_cfg file with the structure table.
pub const TABLES_FILE: &str = "etc/smbios/smbios-tables";

/// Length of the 2.1-style entry point structure.
pub const ANCHOR_LEN: usize = 0x1F;
/// Processor speed QEMU reports when none is configured.
pub const DEFAULT_CPU_MHZ: u16 = 2000;
/// QEMU splits RAM into "DIMMs" of at most this size.
const DIMM_MAX: u64 = 16 << 30;

const KIB: u64 = 1 << 10;
const MIB: u64 = 1 << 20;

// Handle ranges, one per structure type (QEMU's numbering).
const H_SYSTEM: u16 = 0x0100;
const H_CHASSIS: u16 = 0x0300;
const H_PROCESSOR: u16 = 0x0400;
/// First handle past the processor range.
const H_PROCESSOR_END: u16 = 0x0E00;
const H_MEM_ARRAY: u16 = 0x1000;
const H_MEM_DEVICE: u16 = 0x1100;
const H_MEM_MAPPED: u16 = 0x1300;
/// First handle past the mapped-address range.
const H_MEM_MAPPED_END: u16 = 0x1400;
const H_BOOT: u16 = 0x2000;
const H_END: u16 = 0x7F00;

/// "Not provided" / "unknown" handle and width values.
const NO_ERROR_INFO: u16 = 0xFFFE;
const NO_HANDLE: u16 = 0xFFFF;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SmbiosError {
    #[error("SMBIOS string {0:?} contains a NUL byte")]
    BadString(String),
    #[error("SMBIOS structure has more than 255 strings")]
    TooManyStrings,
    #[error("SMBIOS needs at least one socket, core and thread")]
    NoCpu,
    #[error("SMBIOS needs a non-empty RAM size")]
    NoRam,
    #[error("too many SMBIOS {0} structures for their handle range")]
    TooMany(&'static str),
    #[error("SMBIOS structure table of {0} bytes exceeds the entry point's 65535")]
    TooLarge(usize),
}

/// What the tables describe. `pc` gives QEMU 7.2's defaults.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SmbiosConfig {
    /// Type 1/3/4/17 manufacturer.
    pub manufacturer: String,
    /// Type 1 product name (QEMU: the machine's description).
    pub product: String,
    /// Type 1/3/4 version (QEMU: the versioned machine name).
    pub version: String,
    /// Type 1 UUID, already in SMBIOS wire order (all zero: not set).
    pub uuid: [u8; 16],
    pub sockets: u32,
    /// Cores per socket.
    pub cores: u32,
    /// Threads per core.
    pub threads: u32,
    /// Type 4 processor ID: CPUID leaf 1 EAX (low half) and EDX (high half).
    pub processor_id: u64,
    pub cpu_mhz: u16,
    /// Total guest RAM (sizes the memory array and the DIMMs).
    pub ram_bytes: u64,
    /// RAM ranges (start, length) as the e820 map lists them, in order.
    pub ram_ranges: Vec<(u64, u64)>,
}

impl SmbiosConfig {
    /// QEMU 7.2's `pc` (pc-i440fx-7.2) defaults: `-smp N` is one socket of
    /// N cores, RAM ranges are [0, below 4G) and [4G, 4G + above 4G).
    pub fn pc(ram_below_4g: u64, ram_above_4g: u64, cpus: u32, processor_id: u64) -> Self {
        let mut ram_ranges = vec![(0, ram_below_4g)];
        if ram_above_4g > 0 {
            ram_ranges.push((1 << 32, ram_above_4g));
        }
        SmbiosConfig {
            manufacturer: "QEMU".into(),
            product: "Standard PC (i440FX + PIIX, 1996)".into(),
            version: "pc-i440fx-7.2".into(),
            uuid: [0; 16],
            sockets: 1,
            cores: cpus.max(1),
            threads: 1,
            processor_id,
            cpu_mhz: DEFAULT_CPU_MHZ,
            ram_bytes: ram_below_4g.saturating_add(ram_above_4g),
            ram_ranges,
        }
    }
}

/// The two fw_cfg files.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SmbiosTables {
    /// Entry point, `ANCHOR_LEN` bytes; table address 0 (the firmware
    /// places the table), checksums valid for that.
    pub anchor: Vec<u8>,
    pub tables: Vec<u8>,
}

/// One structure: formatted area, then its string set.
struct Structure {
    bytes: Vec<u8>,
    strings: Vec<u8>,
    nstrings: u8,
}

impl Structure {
    fn new(kind: u8, handle: u16) -> Self {
        let mut bytes = vec![kind, 0];
        bytes.extend_from_slice(&handle.to_le_bytes());
        Structure { bytes, strings: Vec::new(), nstrings: 0 }
    }

    fn u8(&mut self, v: u8) -> &mut Self {
        self.bytes.push(v);
        self
    }

    fn u16(&mut self, v: u16) -> &mut Self {
        self.bytes.extend_from_slice(&v.to_le_bytes());
        self
    }

    fn u32(&mut self, v: u32) -> &mut Self {
        self.bytes.extend_from_slice(&v.to_le_bytes());
        self
    }

    fn u64(&mut self, v: u64) -> &mut Self {
        self.bytes.extend_from_slice(&v.to_le_bytes());
        self
    }

    fn raw(&mut self, v: &[u8]) -> &mut Self {
        self.bytes.extend_from_slice(v);
        self
    }

    /// A string field: its 1-based number in the set, or 0 ("none") for an
    /// empty string, which the spec does not allow in the set.
    fn string(&mut self, s: &str) -> Result<&mut Self, SmbiosError> {
        if s.is_empty() {
            return Ok(self.u8(0));
        }
        if s.contains('\0') {
            return Err(SmbiosError::BadString(s.into()));
        }
        self.nstrings = self.nstrings.checked_add(1).ok_or(SmbiosError::TooManyStrings)?;
        self.strings.extend_from_slice(s.as_bytes());
        self.strings.push(0);
        let n = self.nstrings;
        Ok(self.u8(n))
    }

    /// The structure with its length byte set and its string set closed
    /// (a set without strings is two NULs).
    fn finish(mut self) -> Vec<u8> {
        // Formatted areas here are at most 42 bytes.
        self.bytes[1] = self.bytes.len() as u8;
        if self.strings.is_empty() {
            self.strings.push(0);
        }
        self.strings.push(0);
        self.bytes.extend_from_slice(&self.strings);
        self.bytes
    }
}

/// The structure table under construction, with the entry point's totals.
#[derive(Default)]
struct Table {
    data: Vec<u8>,
    count: u16,
    max: usize,
}

impl Table {
    fn push(&mut self, s: Structure) -> Result<(), SmbiosError> {
        let b = s.finish();
        self.max = self.max.max(b.len());
        self.count = self.count.checked_add(1).ok_or(SmbiosError::TooLarge(self.data.len()))?;
        self.data.extend_from_slice(&b);
        Ok(())
    }
}

/// Build the anchor and the structure table for `cfg`.
pub fn build(cfg: &SmbiosConfig) -> Result<SmbiosTables, SmbiosError> {
    if cfg.sockets == 0 || cfg.cores == 0 || cfg.threads == 0 {
        return Err(SmbiosError::NoCpu);
    }
    if cfg.ram_bytes == 0 {
        return Err(SmbiosError::NoRam);
    }
    let mut t = Table::default();
    t.push(system(cfg)?)?;
    t.push(chassis(cfg)?)?;
    let sockets = u16::try_from(cfg.sockets)
        .ok()
        .filter(|&n| n <= H_PROCESSOR_END - H_PROCESSOR)
        .ok_or(SmbiosError::TooMany("processor"))?;
    for i in 0..sockets {
        t.push(processor(cfg, i)?)?;
    }
    let dimms = u16::try_from(cfg.ram_bytes.div_ceil(DIMM_MAX)).map_err(|_| SmbiosError::TooMany("memory device"))?;
    t.push(memory_array(cfg.ram_bytes, dimms))?;
    for i in 0..dimms {
        let size = if i + 1 < dimms { DIMM_MAX } else { (cfg.ram_bytes - 1) % DIMM_MAX + 1 };
        t.push(memory_device(cfg, i, size)?)?;
    }
    // Many DIMMs run past the mapped-address range's first handle; the
    // mapped addresses then start after the last DIMM.
    let skip = (u32::from(dimms)).saturating_sub(u32::from(H_MEM_MAPPED - H_MEM_DEVICE));
    let ranges: Vec<_> = cfg.ram_ranges.iter().filter(|r| r.1 > 0).collect();
    if skip + ranges.len() as u32 >= u32::from(H_MEM_MAPPED_END - H_MEM_MAPPED) {
        return Err(SmbiosError::TooMany("memory array mapped address"));
    }
    for (i, &&(start, len)) in ranges.iter().enumerate() {
        t.push(mapped_address(H_MEM_MAPPED + (skip + i as u32) as u16, start, len))?;
    }
    let mut boot = Structure::new(32, H_BOOT);
    boot.raw(&[0; 6]).u8(0); // reserved; "no errors detected"
    t.push(boot)?;
    t.push(Structure::new(127, H_END))?;

    let len = u16::try_from(t.data.len()).map_err(|_| SmbiosError::TooLarge(t.data.len()))?;
    // Every structure is far shorter than the table, so this fits.
    let max = u16::try_from(t.max).map_err(|_| SmbiosError::TooLarge(t.max))?;
    Ok(SmbiosTables { anchor: anchor(len, max, t.count), tables: t.data })
}

/// Type 1, System Information.
fn system(cfg: &SmbiosConfig) -> Result<Structure, SmbiosError> {
    let mut s = Structure::new(1, H_SYSTEM);
    s.string(&cfg.manufacturer)?.string(&cfg.product)?.string(&cfg.version)?;
    s.u8(0).raw(&cfg.uuid); // serial number: none
    s.u8(0x06); // wake-up type: power switch
    s.u8(0).u8(0); // SKU, family: none
    Ok(s)
}

/// Type 3, System Enclosure.
fn chassis(cfg: &SmbiosConfig) -> Result<Structure, SmbiosError> {
    let mut s = Structure::new(3, H_CHASSIS);
    s.string(&cfg.manufacturer)?.u8(0x01); // type: other
    s.string(&cfg.version)?.u8(0).u8(0); // serial, asset tag: none
    s.u8(0x03).u8(0x03).u8(0x03); // boot-up, power supply, thermal: safe
    s.u8(0x02); // security: unknown
    s.u32(0).u8(0).u8(0); // OEM-defined, height, power cords
    s.u8(0).u8(0); // no contained elements
    s.u8(0); // SKU: none
    Ok(s)
}

/// Type 4, Processor Information, for socket `i`.
fn processor(cfg: &SmbiosConfig, i: u16) -> Result<Structure, SmbiosError> {
    let cores = u8::try_from(cfg.cores).unwrap_or(0xFF);
    let threads = u8::try_from(cfg.cores.saturating_mul(cfg.threads)).unwrap_or(0xFF);
    let mut s = Structure::new(4, H_PROCESSOR + i);
    s.string(&format!("CPU{i:2x}"))?;
    s.u8(0x03).u8(0x01); // central processor, family "other"
    s.string(&cfg.manufacturer)?.u64(cfg.processor_id);
    s.string(&cfg.version)?;
    s.u8(0).u16(0); // voltage, external clock: unknown
    s.u16(cfg.cpu_mhz).u16(cfg.cpu_mhz); // max and current speed
    s.u8(0x41); // socket populated, CPU enabled
    s.u8(0x01); // upgrade: other
    s.u16(NO_HANDLE).u16(NO_HANDLE).u16(NO_HANDLE); // no L1/L2/L3 cache structures
    s.u8(0).u8(0).u8(0); // serial, asset tag, part number: none
    s.u8(cores).u8(cores).u8(threads);
    s.u16(0x02); // characteristics: unknown
    s.u16(0x01); // family 2: other
    Ok(s)
}

/// Type 16, Physical Memory Array.
fn memory_array(ram: u64, dimms: u16) -> Structure {
    // The 32-bit KiB field tops out at 2 TiB; beyond, it holds 2 TiB and
    // the extended field the size in bytes.
    const STD_MAX_KIB: u64 = 0x8000_0000;
    let kib = ram.div_ceil(KIB);
    let (std, ext) = if kib < STD_MAX_KIB { (kib, 0) } else { (STD_MAX_KIB, ram) };
    let mut s = Structure::new(16, H_MEM_ARRAY);
    s.u8(0x01).u8(0x03).u8(0x06); // location other, system memory, multi-bit ECC
    s.u32(std as u32).u16(NO_ERROR_INFO).u16(dimms).u64(ext);
    s
}

/// Type 17, Memory Device, for DIMM `i` of `size` bytes.
fn memory_device(cfg: &SmbiosConfig, i: u16, size: u64) -> Result<Structure, SmbiosError> {
    // Sizes from 32 GiB - 1 MiB up go to the extended field.
    const STD_MAX_MIB: u64 = 0x7FFF;
    let mib = size.div_ceil(MIB);
    let (std, ext) = if mib < STD_MAX_MIB { (mib as u16, 0) } else { (STD_MAX_MIB as u16, mib as u32) };
    let mut s = Structure::new(17, H_MEM_DEVICE + i);
    s.u16(H_MEM_ARRAY).u16(NO_ERROR_INFO);
    s.u16(NO_HANDLE).u16(NO_HANDLE); // total and data width: unknown
    s.u16(std).u8(0x09).u8(0); // form factor DIMM, not in a set
    s.string(&format!("DIMM {i}"))?.u8(0); // no bank locator
    s.u8(0x07).u16(0x02); // type RAM, detail "other"
    s.u16(0); // speed: unknown
    s.string(&cfg.manufacturer)?.u8(0).u8(0).u8(0); // no serial, asset tag, part number
    s.u8(0).u32(ext); // attributes: unknown
    s.u16(0); // configured speed: unknown
    s.u16(0).u16(0).u16(0); // voltages: unknown
    Ok(s)
}

/// Type 19, Memory Array Mapped Address, for [start, start + len).
fn mapped_address(handle: u16, start: u64, len: u64) -> Structure {
    let end = start.saturating_add(len - 1);
    let (sk, ek) = (start / KIB, end / KIB);
    let mut s = Structure::new(19, handle);
    if sk < u64::from(u32::MAX) && ek < u64::from(u32::MAX) {
        s.u32(sk as u32).u32(ek as u32);
    } else {
        s.u32(u32::MAX).u32(u32::MAX);
    }
    s.u16(H_MEM_ARRAY).u8(1); // one device per row
    if sk < u64::from(u32::MAX) && ek < u64::from(u32::MAX) {
        s.u64(0).u64(0);
    } else {
        s.u64(start).u64(end);
    }
    s
}

/// The 2.1-style entry point for a table of `len` bytes at address 0.
fn anchor(len: u16, max: u16, count: u16) -> Vec<u8> {
    let mut a = Vec::with_capacity(ANCHOR_LEN);
    a.extend_from_slice(b"_SM_");
    a.push(0); // checksum, below
    a.push(ANCHOR_LEN as u8);
    a.extend_from_slice(&[2, 8]); // SMBIOS 2.8
    a.extend_from_slice(&max.to_le_bytes());
    a.extend_from_slice(&[0; 6]); // revision 0: formatted area reserved
    a.extend_from_slice(b"_DMI_");
    a.push(0); // intermediate checksum, below
    a.extend_from_slice(&len.to_le_bytes());
    a.extend_from_slice(&0u32.to_le_bytes());
    a.extend_from_slice(&count.to_le_bytes());
    a.push(0x28); // BCD revision 2.8

    // The intermediate part first: the whole-structure sum then covers it.
    a[0x15] = checksum(&a[0x10..]);
    a[4] = checksum(&a);
    a
}

/// The byte that makes `b` sum to zero.
fn checksum(b: &[u8]) -> u8 {
    b.iter().fold(0u8, |s, &x| s.wrapping_add(x)).wrapping_neg()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// CPUID leaf 1 (EAX, EDX) of QEMU's qemu64 model, for the recordings.
    const QEMU64_ID: u64 = 0x078B_FBFD_0006_0FB1;

    /// One structure as a walker sees it.
    #[derive(Debug)]
    struct Parsed {
        kind: u8,
        handle: u16,
        formatted: Vec<u8>,
        strings: Vec<String>,
        /// Formatted area plus string set.
        size: usize,
    }

    /// Walk a structure table the way a guest's SMBIOS reader does.
    fn walk(t: &[u8]) -> Vec<Parsed> {
        let mut out = Vec::new();
        let mut off = 0;
        while off < t.len() {
            let len = t[off + 1] as usize;
            assert!(len >= 4, "structure at {off} has length {len}");
            let formatted = t[off..off + len].to_vec();
            let mut p = off + len;
            let mut strings = Vec::new();
            if t[p] == 0 && t[p + 1] == 0 {
                p += 2;
            } else {
                loop {
                    let end = p + t[p..].iter().position(|&b| b == 0).expect("unterminated string");
                    assert!(end > p, "empty string in a set");
                    strings.push(String::from_utf8(t[p..end].to_vec()).expect("ASCII string"));
                    p = end + 1;
                    if t[p] == 0 {
                        p += 1;
                        break;
                    }
                }
            }
            let handle = u16::from_le_bytes([t[off + 2], t[off + 3]]);
            out.push(Parsed { kind: t[off], handle, formatted, strings, size: p - off });
            off = p;
        }
        assert_eq!(off, t.len(), "table ends mid-structure");
        out
    }

    /// Offsets of string-number fields per type (DSP0134 2.8).
    fn string_fields(kind: u8) -> &'static [usize] {
        match kind {
            1 => &[4, 5, 6, 7, 0x19, 0x1A],
            3 => &[4, 6, 7, 8, 0x15],
            4 => &[4, 7, 0x10, 0x20, 0x21, 0x22],
            17 => &[0x10, 0x11, 0x17, 0x18, 0x19, 0x1A],
            _ => &[],
        }
    }

    fn formatted_len(kind: u8) -> usize {
        match kind {
            1 => 0x1B,
            3 => 0x16,
            4 => 0x2A,
            16 => 0x17,
            17 => 0x28,
            19 => 0x1F,
            32 => 0x0B,
            127 => 4,
            k => panic!("unexpected type {k}"),
        }
    }

    fn sum(b: &[u8]) -> u8 {
        b.iter().fold(0u8, |s, &x| s.wrapping_add(x))
    }

    /// Everything the entry point and the walk must agree on.
    fn check_consistent(t: &SmbiosTables) -> Vec<Parsed> {
        let a = &t.anchor;
        assert_eq!(a.len(), ANCHOR_LEN);
        assert_eq!(&a[0..4], b"_SM_");
        assert_eq!(&a[0x10..0x15], b"_DMI_");
        assert_eq!(a[5] as usize, ANCHOR_LEN);
        assert_eq!((a[6], a[7], a[0x1E]), (2, 8, 0x28));
        assert_eq!(sum(a), 0, "entry point checksum");
        assert_eq!(sum(&a[0..0x10]), 0, "checksum over the first 16 bytes (how SeaBIOS sums)");
        assert_eq!(sum(&a[0x10..]), 0, "intermediate checksum");
        assert_eq!(u32::from_le_bytes([a[0x18], a[0x19], a[0x1A], a[0x1B]]), 0);
        let ps = walk(&t.tables);
        assert_eq!(u16::from_le_bytes([a[0x16], a[0x17]]) as usize, t.tables.len());
        assert_eq!(u16::from_le_bytes([a[0x1C], a[0x1D]]) as usize, ps.len());
        let max = ps.iter().map(|p| p.size).max().unwrap();
        assert_eq!(u16::from_le_bytes([a[8], a[9]]) as usize, max);
        let mut handles: Vec<u16> = ps.iter().map(|p| p.handle).collect();
        handles.sort_unstable();
        handles.dedup();
        assert_eq!(handles.len(), ps.len(), "handles are unique");
        assert_eq!(ps.last().map(|p| p.kind), Some(127));
        assert!(ps.iter().all(|p| p.kind != 0), "type 0 is the firmware's");
        for p in &ps {
            assert_eq!(p.formatted.len(), formatted_len(p.kind), "type {} length", p.kind);
            for &f in string_fields(p.kind) {
                assert!((p.formatted[f] as usize) <= p.strings.len(), "type {} field {f:#x}", p.kind);
            }
            // Every string in the set is referenced by some field.
            for n in 1..=p.strings.len() {
                assert!(string_fields(p.kind).iter().any(|&f| p.formatted[f] as usize == n));
            }
        }
        ps
    }

    fn strings_of(ps: &[Parsed], kind: u8) -> Vec<Vec<&str>> {
        ps.iter().filter(|p| p.kind == kind).map(|p| p.strings.iter().map(String::as_str).collect()).collect()
    }

    #[test]
    fn default_pc_set() {
        let t = build(&SmbiosConfig::pc(128 << 20, 0, 1, QEMU64_ID)).unwrap();
        let ps = check_consistent(&t);
        let kinds: Vec<u8> = ps.iter().map(|p| p.kind).collect();
        assert_eq!(kinds, [1, 3, 4, 16, 17, 19, 32, 127]);
        let handles: Vec<u16> = ps.iter().map(|p| p.handle).collect();
        assert_eq!(handles, [0x100, 0x300, 0x400, 0x1000, 0x1100, 0x1300, 0x2000, 0x7F00]);
        assert_eq!(strings_of(&ps, 1), [["QEMU", "Standard PC (i440FX + PIIX, 1996)", "pc-i440fx-7.2"]]);
        assert_eq!(strings_of(&ps, 3), [["QEMU", "pc-i440fx-7.2"]]);
        assert_eq!(strings_of(&ps, 4), [["CPU 0", "QEMU", "pc-i440fx-7.2"]]);
        assert_eq!(strings_of(&ps, 17), [["DIMM 0", "QEMU"]]);
        assert!(strings_of(&ps, 16)[0].is_empty() && strings_of(&ps, 32)[0].is_empty());
        // Type 1 with its three strings is the largest: 27 + 5 + 34 + 14 + 1.
        assert_eq!(u16::from_le_bytes([t.anchor[8], t.anchor[9]]), 81);
        let p = &ps[2].formatted;
        assert_eq!(u64::from_le_bytes(p[8..16].try_into().unwrap()), QEMU64_ID);
        assert_eq!(u16::from_le_bytes([p[0x14], p[0x15]]), DEFAULT_CPU_MHZ);
    }

    #[test]
    fn threads_count_per_socket_and_clamp() {
        let cfg = SmbiosConfig { sockets: 2, cores: 3, threads: 2, ..SmbiosConfig::pc(64 << 20, 0, 1, 0) };
        let ps = check_consistent(&build(&cfg).unwrap());
        let p = ps.iter().find(|p| p.kind == 4).unwrap();
        assert_eq!(&p.formatted[0x23..0x26], &[3, 3, 6]);
        let cfg = SmbiosConfig { cores: 300, ..cfg };
        let ps = check_consistent(&build(&cfg).unwrap());
        let p = ps.iter().find(|p| p.kind == 4).unwrap();
        assert_eq!(&p.formatted[0x23..0x26], &[0xFF, 0xFF, 0xFF]);
    }

    #[test]
    fn many_sockets_keep_their_handle_range() {
        let cfg = SmbiosConfig { sockets: 300, ..SmbiosConfig::pc(64 << 20, 0, 1, 0) };
        let ps = check_consistent(&build(&cfg).unwrap());
        let cpus: Vec<_> = ps.iter().filter(|p| p.kind == 4).collect();
        assert_eq!(cpus.len(), 300);
        assert_eq!(cpus[0x1F].strings[0], "CPU1f");
        assert_eq!(cpus[299].strings[0], "CPU12b");
        assert_eq!(cpus[299].handle, 0x0400 + 299);
        // The handle range holds 0xA00 sockets, the 16-bit table length fewer.
        let cfg = SmbiosConfig { sockets: 0xA00, ..cfg };
        assert!(matches!(build(&cfg), Err(SmbiosError::TooLarge(n)) if n > 0xFFFF));
        let cfg = SmbiosConfig { sockets: 0xA01, ..cfg };
        assert_eq!(build(&cfg), Err(SmbiosError::TooMany("processor")));
    }

    #[test]
    fn huge_ram_uses_extended_fields() {
        // 5 TiB: type 16 past 2 TiB, the above-4G range ending past 4 TiB.
        let below = 3u64 << 30;
        let total = 5u64 << 40;
        let t = build(&SmbiosConfig::pc(below, total - below, 1, 0)).unwrap();
        let ps = check_consistent(&t);
        let a = ps.iter().find(|p| p.kind == 16).unwrap();
        assert_eq!(u32::from_le_bytes(a.formatted[7..11].try_into().unwrap()), 0x8000_0000);
        assert_eq!(u64::from_le_bytes(a.formatted[15..23].try_into().unwrap()), total);
        assert_eq!(u16::from_le_bytes([a.formatted[13], a.formatted[14]]), 320);
        let dimms: Vec<_> = ps.iter().filter(|p| p.kind == 17).collect();
        assert_eq!(dimms.len(), 320);
        assert_eq!(u16::from_le_bytes([dimms[0].formatted[12], dimms[0].formatted[13]]), 16384);
        let maps: Vec<_> = ps.iter().filter(|p| p.kind == 19).collect();
        assert_eq!(maps.len(), 2);
        let m = &maps[1].formatted;
        assert_eq!(&m[4..12], &[0xFF; 8]);
        assert_eq!(u64::from_le_bytes(m[15..23].try_into().unwrap()), 1 << 32);
        assert_eq!(u64::from_le_bytes(m[23..31].try_into().unwrap()), (1 << 32) + total - below - 1);
        assert_eq!(&maps[0].formatted[4..12], &[0, 0, 0, 0, 0xFF, 0xFF, 0x2F, 0]);
    }

    #[test]
    fn many_dimms_push_mapped_handles_past_them() {
        // 10 TiB: 640 DIMMs overrun 0x1300, so type 19 starts after them.
        let t = build(&SmbiosConfig::pc(3 << 30, (10u64 << 40) - (3 << 30), 1, 0)).unwrap();
        let ps = check_consistent(&t);
        let last_dimm = ps.iter().filter(|p| p.kind == 17).map(|p| p.handle).max().unwrap();
        let first_map = ps.iter().find(|p| p.kind == 19).unwrap().handle;
        assert_eq!(last_dimm, 0x1100 + 639);
        assert_eq!(first_map, 0x1100 + 640);
        // 16 TiB (1024 DIMMs) would push them past their range.
        let cfg = SmbiosConfig::pc(3 << 30, (16u64 << 40) - (3 << 30), 1, 0);
        assert_eq!(build(&cfg), Err(SmbiosError::TooMany("memory array mapped address")));
    }

    #[test]
    fn odd_ram_sizes_round_up() {
        // 1000 MiB + 1 byte: the DIMM and the array round up, the mapping does not.
        let ram = (1000 << 20) + 1;
        let ps = check_consistent(&build(&SmbiosConfig::pc(ram, 0, 1, 0)).unwrap());
        let a = ps.iter().find(|p| p.kind == 16).unwrap();
        assert_eq!(u32::from_le_bytes(a.formatted[7..11].try_into().unwrap()), 1000 * 1024 + 1);
        let d = ps.iter().find(|p| p.kind == 17).unwrap();
        assert_eq!(u16::from_le_bytes([d.formatted[12], d.formatted[13]]), 1001);
        let m = ps.iter().find(|p| p.kind == 19).unwrap();
        assert_eq!(u32::from_le_bytes(m.formatted[8..12].try_into().unwrap()), 1000 * 1024);
    }

    #[test]
    fn strings_empty_or_with_nul() {
        let cfg = SmbiosConfig { version: String::new(), ..SmbiosConfig::pc(64 << 20, 0, 1, 0) };
        let ps = check_consistent(&build(&cfg).unwrap());
        assert_eq!(strings_of(&ps, 3), [["QEMU"]]);
        assert_eq!(ps.iter().find(|p| p.kind == 3).unwrap().formatted[6], 0);
        let cfg = SmbiosConfig { manufacturer: String::new(), ..cfg };
        let ps = check_consistent(&build(&cfg).unwrap());
        assert!(strings_of(&ps, 3)[0].is_empty());
        let cfg = SmbiosConfig { product: "a\0b".into(), ..SmbiosConfig::pc(64 << 20, 0, 1, 0) };
        assert_eq!(build(&cfg), Err(SmbiosError::BadString("a\0b".into())));
    }

    #[test]
    fn refuses_no_cpu_or_no_ram() {
        let cfg = SmbiosConfig::pc(64 << 20, 0, 1, 0);
        assert_eq!(build(&SmbiosConfig { threads: 0, ..cfg.clone() }), Err(SmbiosError::NoCpu));
        assert_eq!(build(&SmbiosConfig { sockets: 0, ..cfg.clone() }), Err(SmbiosError::NoCpu));
        assert_eq!(build(&SmbiosConfig { ram_bytes: 0, ..cfg.clone() }), Err(SmbiosError::NoRam));
        // `pc` treats 0 CPUs as 1, like the rest of the machine.
        assert!(build(&SmbiosConfig::pc(64 << 20, 0, 0, 0)).is_ok());
    }

    #[test]
    fn uuid_lands_in_type_1() {
        let uuid: [u8; 16] = core::array::from_fn(|i| i as u8 + 1);
        let cfg = SmbiosConfig { uuid, ..SmbiosConfig::pc(64 << 20, 0, 1, 0) };
        let ps = check_consistent(&build(&cfg).unwrap());
        assert_eq!(&ps[0].formatted[8..24], &uuid);
    }
}
