//! Direct Linux boot (`-kernel/-initrd/-append`): the kernel, initrd and
//! command line go straight into guest RAM together with the boot_params
//! "zero page", identity page tables and a GDT, and the vCPU starts at the
//! kernel's 64-bit entry point in long mode. No firmware runs first (QEMU
//! uses an option ROM for this; the result the kernel sees is the same).
//!
//! Low memory used (all below the 640 KiB of conventional RAM):
//! GDT 0x500, zero page 0x7000, boot stack below 0x9000, PML4/PDPT/PD at
//! 0x9000/0xA000/0xB000, command line at 0x20000; the kernel at 1 MiB and
//! the initrd as high as the kernel allows.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use linux_loader::loader::bootparam::{boot_e820_entry, boot_params, setup_header};
use linux_loader::loader::{self, KernelLoader};
use vm_memory::{Bytes, GuestAddress, GuestMemoryBackend, GuestMemoryMmap, GuestMemoryRegion};

use crate::config::MachineConfig;
use crate::memory::RamLayout;

mod long_mode;

pub use long_mode::*;

pub const ZERO_PAGE: u64 = 0x7000;
pub const CMDLINE_ADDR: u64 = 0x2_0000;
/// The protected-mode kernel goes at 1 MiB, as boot loaders put it.
pub const KERNEL_ADDR: u64 = 0x10_0000;
/// Conventional RAM ends where a BIOS would keep its EBDA.
const LOW_RAM_END: u64 = 0x9_FC00;
const FOUR_GIB: u64 = 1 << 32;

/// Boot protocol constants (Documentation/arch/x86/boot.rst).
const HDRS_MAGIC: u32 = 0x5372_6448;
const BOOT_FLAG: u16 = 0xAA55;
/// "Undefined" boot loader id.
const LOADER_TYPE: u8 = 0xFF;
/// The 64-bit entry point sits 0x200 bytes into the protected-mode code.
const ENTRY_64_OFFSET: u64 = 0x200;
/// xloadflags bit 0: the kernel has that 64-bit entry point.
const XLF_KERNEL_64: u16 = 1;
/// Protocols before 2.03 do not state the limit; this is the documented default.
const DEFAULT_INITRD_ADDR_MAX: u64 = 0x37FF_FFFF;
/// Protocols before 2.06 do not state the command-line size.
const DEFAULT_CMDLINE_SIZE: u32 = 255;
const E820_RAM: u32 = 1;
const ELFCLASS64: u8 = 2;
const EM_X86_64: u16 = 62;
const PAGE: u64 = 0x1000;

/// What can stop a direct kernel boot.
#[derive(Debug, thiserror::Error)]
pub enum LinuxBootError {
    #[error("cannot read kernel '{path}': {err}")]
    KernelRead {
        path: PathBuf,
        #[source]
        err: std::io::Error,
    },
    #[error("'{path}' is not a Linux kernel image: neither a bzImage ({bzimage}) nor an ELF vmlinux ({elf})")]
    NotAKernel { path: PathBuf, bzimage: String, elf: String },
    #[error(
        "kernel '{path}' has no 64-bit entry point (boot protocol {version:#06x}, xloadflags {xloadflags:#x}): \
         only 64-bit x86 kernels can be booted directly"
    )]
    Not64Bit { path: PathBuf, version: u16, xloadflags: u16 },
    #[error(
        "kernel '{path}' is an ELF image but not a 64-bit x86 one: only 64-bit x86 kernels can be booted directly"
    )]
    ElfNot64Bit { path: PathBuf },
    #[error("kernel '{path}' could not be loaded: {err}")]
    KernelLoad { path: PathBuf, err: String },
    #[error("kernel '{path}' ({size} bytes) does not fit in {ram} bytes of guest RAM")]
    KernelTooLarge { path: PathBuf, size: u64, ram: u64 },
    #[error("cannot read initrd '{path}': {err}")]
    InitrdRead {
        path: PathBuf,
        #[source]
        err: std::io::Error,
    },
    #[error("initrd '{path}' ({size} bytes) does not fit in guest RAM between {low:#x} and {high:#x}")]
    InitrdTooLarge { path: PathBuf, size: u64, low: u64, high: u64 },
    #[error("-append: the command line is {len} bytes; this kernel takes at most {max}")]
    CmdlineTooLong { len: usize, max: u32 },
    #[error("-append: the command line must not contain a NUL byte")]
    CmdlineNul,
    #[error("guest memory: {0}")]
    Memory(String),
}

fn mem_err(what: &'static str) -> impl FnOnce(vm_memory::GuestMemoryError) -> LinuxBootError {
    move |e| LinuxBootError::Memory(format!("{what}: {e}"))
}

/// Which image format the kernel file had.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KernelFormat {
    BzImage,
    Elf,
}

/// A `-kernel` boot as the command line asked for it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LinuxBoot {
    pub kernel: PathBuf,
    pub initrd: Option<PathBuf>,
    /// Exactly the `-append` string (empty without it, as QEMU does).
    pub cmdline: String,
}

/// Where the loaded kernel starts and what went where.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BootEntry {
    /// The 64-bit entry point (RIP).
    pub entry: u64,
    /// boot_params (RSI).
    pub zero_page: u64,
    pub format: KernelFormat,
    /// First byte past the loaded kernel image.
    pub kernel_end: u64,
    /// (address, size) of the initrd.
    pub initrd: Option<(u64, u64)>,
}

impl LinuxBoot {
    /// The boot the config asks for, if `-kernel` was given.
    pub fn from_config(cfg: &MachineConfig) -> Option<LinuxBoot> {
        let kernel = cfg.kernel.clone()?;
        Some(LinuxBoot { kernel, initrd: cfg.initrd.clone(), cmdline: cfg.append.clone().unwrap_or_default() })
    }

    /// Load kernel, initrd, command line, zero page, page tables and GDT
    /// into `mem`. Called at power-on and again at every system reset
    /// (the kernel overwrites its own image while it runs).
    pub fn load(&self, mem: &GuestMemoryMmap) -> Result<BootEntry, LinuxBootError> {
        let ram = &ram_layout(mem);
        let (format, entry, kernel_end, mut params) = self.load_kernel(mem, ram)?;
        let hdr = params.hdr;
        let cmdline_max = if { hdr.version } >= 0x206 { hdr.cmdline_size } else { DEFAULT_CMDLINE_SIZE };
        write_cmdline(mem, &self.cmdline, cmdline_max)?;
        params.hdr.cmd_line_ptr = CMDLINE_ADDR as u32;
        let initrd = match &self.initrd {
            Some(path) => {
                let (addr, size) = self.load_initrd(mem, ram, path, &hdr, kernel_end)?;
                params.hdr.ramdisk_image = addr as u32;
                params.hdr.ramdisk_size = size as u32;
                Some((addr, size))
            }
            None => None,
        };
        let e820 = e820_map(ram);
        for (slot, e) in params.e820_table.iter_mut().zip(&e820) {
            *slot = *e;
        }
        params.e820_entries = e820.len() as u8;
        mem.write_obj(params, GuestAddress(ZERO_PAGE)).map_err(mem_err("zero page"))?;
        write_page_tables(mem)?;
        write_gdt(mem)?;
        Ok(BootEntry { entry, zero_page: ZERO_PAGE, format, kernel_end, initrd })
    }

    /// The kernel image into RAM; the zero page starts from its setup header.
    fn load_kernel(
        &self,
        mem: &GuestMemoryMmap,
        ram: &RamLayout,
    ) -> Result<(KernelFormat, u64, u64, boot_params), LinuxBootError> {
        let path = &self.kernel;
        let read_err = |err| LinuxBootError::KernelRead { path: path.clone(), err };
        let mut file = File::open(path).map_err(read_err)?;
        let size = file.seek(SeekFrom::End(0)).map_err(read_err)?;
        if size.saturating_add(KERNEL_ADDR) > ram.below_4g {
            return Err(LinuxBootError::KernelTooLarge { path: path.clone(), size, ram: ram.below_4g });
        }
        let himem = Some(GuestAddress(KERNEL_ADDR));
        let bz = loader::BzImage::load(mem, Some(GuestAddress(KERNEL_ADDR)), &mut file, himem);
        let bz_err = match bz {
            Ok(r) => {
                let hdr = r.setup_header.unwrap_or_default();
                if { hdr.version } < 0x20C || { hdr.xloadflags } & XLF_KERNEL_64 == 0 {
                    return Err(LinuxBootError::Not64Bit {
                        path: path.clone(),
                        version: hdr.version,
                        xloadflags: hdr.xloadflags,
                    });
                }
                let params = zero_page(hdr);
                let entry = r.kernel_load.0 + ENTRY_64_OFFSET;
                return Ok((KernelFormat::BzImage, entry, r.kernel_end, params));
            }
            Err(loader::Error::Bzimage(loader::bzimage::Error::InvalidBzImage)) => "no 'HdrS' header".to_string(),
            Err(e) => return Err(LinuxBootError::KernelLoad { path: path.clone(), err: e.to_string() }),
        };
        // linux-loader reads any ELF as ELF64: refuse other classes first.
        let mut ident = [0u8; 20];
        file.seek(SeekFrom::Start(0)).map_err(read_err)?;
        if file.read_exact(&mut ident).is_ok() && ident.starts_with(b"\x7fELF") {
            let machine = u16::from_le_bytes([ident[18], ident[19]]);
            if ident[4] != ELFCLASS64 || machine != EM_X86_64 {
                return Err(LinuxBootError::ElfNot64Bit { path: path.clone() });
            }
        }
        match loader::Elf::load(mem, None, &mut file, himem) {
            Ok(r) => Ok((KernelFormat::Elf, r.kernel_load.0, r.kernel_end, zero_page(elf_header()))),
            Err(loader::Error::Elf(loader::elf::Error::InvalidElfMagicNumber)) => {
                Err(LinuxBootError::NotAKernel { path: path.clone(), bzimage: bz_err, elf: "no ELF magic".into() })
            }
            Err(loader::Error::Elf(loader::elf::Error::ReadElfHeader)) => Err(LinuxBootError::NotAKernel {
                path: path.clone(),
                bzimage: bz_err,
                elf: "too short for an ELF header".into(),
            }),
            Err(e) => Err(LinuxBootError::KernelLoad { path: path.clone(), err: e.to_string() }),
        }
    }

    /// The initrd goes as high as RAM and the kernel's limit allow, page
    /// aligned, above everything the kernel will unpack itself into.
    fn load_initrd(
        &self,
        mem: &GuestMemoryMmap,
        ram: &RamLayout,
        path: &Path,
        hdr: &setup_header,
        kernel_end: u64,
    ) -> Result<(u64, u64), LinuxBootError> {
        let data = std::fs::read(path).map_err(|err| LinuxBootError::InitrdRead { path: path.to_owned(), err })?;
        let size = data.len() as u64;
        let (low, high) = initrd_window(hdr, ram, kernel_end);
        let addr = place_initrd(size, low, high).ok_or_else(|| LinuxBootError::InitrdTooLarge {
            path: path.to_owned(),
            size,
            low,
            high,
        })?;
        mem.write_slice(&data, GuestAddress(addr)).map_err(mem_err("initrd"))?;
        Ok((addr, size))
    }
}

/// The RAM below and above 4 GiB, from the guest memory itself.
pub fn ram_layout(mem: &GuestMemoryMmap) -> RamLayout {
    let mut ram = RamLayout { below_4g: 0, above_4g: 0 };
    for r in mem.iter() {
        let (start, len) = (r.start_addr().0, r.len());
        if start < FOUR_GIB {
            ram.below_4g = ram.below_4g.max(start + len);
        } else {
            ram.above_4g += len;
        }
    }
    ram
}

/// boot_params around the kernel's setup header, marked as loaded by an
/// undefined boot loader.
pub fn zero_page(hdr: setup_header) -> boot_params {
    let mut p = boot_params { hdr, ..Default::default() };
    p.hdr.type_of_loader = LOADER_TYPE;
    p.hdr.boot_flag = BOOT_FLAG;
    p.hdr.header = HDRS_MAGIC;
    p
}

/// An ELF vmlinux has no setup header: this one states protocol 2.12
/// defaults (16 MiB alignment, 64-bit entry).
fn elf_header() -> setup_header {
    setup_header {
        version: 0x20C,
        kernel_alignment: 0x100_0000,
        initrd_addr_max: DEFAULT_INITRD_ADDR_MAX as u32,
        cmdline_size: 2048,
        xloadflags: XLF_KERNEL_64,
        ..Default::default()
    }
}

/// [low, high): where an initrd may go. Above the loaded image and the
/// area the kernel decompresses into; below the kernel's initrd_addr_max
/// and the end of RAM under 4 GiB.
pub fn initrd_window(hdr: &setup_header, ram: &RamLayout, kernel_end: u64) -> (u64, u64) {
    let version = hdr.version;
    let addr_max = if version >= 0x203 { u64::from(hdr.initrd_addr_max) } else { DEFAULT_INITRD_ADDR_MAX };
    let mut low = kernel_end;
    if version >= 0x20A {
        let (pref, init_size) = (hdr.pref_address, u64::from(hdr.init_size));
        low = low.max(pref.saturating_add(init_size));
    }
    let high = ram.below_4g.min(FOUR_GIB).min(addr_max.saturating_add(1));
    (low.next_multiple_of(PAGE), high)
}

/// The highest page-aligned start for `size` bytes in [low, high).
pub fn place_initrd(size: u64, low: u64, high: u64) -> Option<u64> {
    let addr = high.checked_sub(size)? & !(PAGE - 1);
    (addr >= low).then_some(addr)
}

fn write_cmdline(mem: &GuestMemoryMmap, cmdline: &str, max: u32) -> Result<(), LinuxBootError> {
    let bytes = cmdline.as_bytes();
    if bytes.contains(&0) {
        return Err(LinuxBootError::CmdlineNul);
    }
    // cmdline_size excludes the terminating NUL.
    if bytes.len() > max as usize {
        return Err(LinuxBootError::CmdlineTooLong { len: bytes.len(), max });
    }
    let mut buf = bytes.to_vec();
    buf.push(0);
    mem.write_slice(&buf, GuestAddress(CMDLINE_ADDR)).map_err(mem_err("command line"))
}

/// The guest's RAM as the BIOS e820 call would report it: conventional
/// memory, then everything from 1 MiB, then RAM above 4 GiB.
pub fn e820_map(ram: &RamLayout) -> Vec<boot_e820_entry> {
    let entry = |addr, size| boot_e820_entry { addr, size, r#type: E820_RAM };
    let mut map = vec![entry(0, LOW_RAM_END.min(ram.below_4g))];
    if ram.below_4g > KERNEL_ADDR {
        map.push(entry(KERNEL_ADDR, ram.below_4g - KERNEL_ADDR));
    }
    if ram.above_4g > 0 {
        map.push(entry(FOUR_GIB, ram.above_4g));
    }
    map
}

#[cfg(test)]
mod tests {
    use super::*;
    use vm_memory::ByteValued;

    fn mem(ram: &RamLayout) -> GuestMemoryMmap {
        ram.allocate().unwrap()
    }

    fn read_u64(m: &GuestMemoryMmap, addr: u64) -> u64 {
        m.read_obj(GuestAddress(addr)).unwrap()
    }

    /// A minimal bzImage: one setup sector after the boot sector, then
    /// `payload` as the protected-mode kernel.
    fn bzimage(version: u16, xloadflags: u16, payload: &[u8]) -> Vec<u8> {
        let hdr = setup_header {
            setup_sects: 1,
            boot_flag: BOOT_FLAG,
            header: HDRS_MAGIC,
            version,
            loadflags: 1,
            code32_start: KERNEL_ADDR as u32,
            initrd_addr_max: 0x7FFF_FFFF,
            kernel_alignment: 0x20_0000,
            relocatable_kernel: 1,
            xloadflags,
            cmdline_size: 64,
            pref_address: 0x100_0000,
            init_size: 0x40_0000,
            ..Default::default()
        };
        let mut img = vec![0u8; 1024];
        img[0x1F1..0x1F1 + std::mem::size_of::<setup_header>()].copy_from_slice(hdr.as_slice());
        img.extend_from_slice(payload);
        img
    }

    fn file(dir: &Path, name: &str, data: &[u8]) -> PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, data).unwrap();
        p
    }

    #[test]
    fn e820_follows_the_ram_layout() {
        let small = e820_map(&RamLayout::new(128 << 20));
        assert_eq!(small.len(), 2);
        assert_eq!(({ small[0].addr }, { small[0].size }), (0, LOW_RAM_END));
        assert_eq!(({ small[1].addr }, { small[1].size }), (KERNEL_ADDR, (128 << 20) - KERNEL_ADDR));
        let big = e820_map(&RamLayout::new(4 << 30));
        assert_eq!(big.len(), 3);
        assert_eq!(({ big[2].addr }, { big[2].size }), (FOUR_GIB, 1 << 30));
        assert!(big.iter().all(|e| e.r#type == E820_RAM));
    }

    #[test]
    fn initrd_goes_high_below_the_limits() {
        let hdr = setup_header { version: 0x20F, initrd_addr_max: 0x37FF_FFFF, ..Default::default() };
        let ram = RamLayout::new(128 << 20);
        let (low, high) = initrd_window(&hdr, &ram, 0x50_0123);
        assert_eq!((low, high), (0x50_1000, 128 << 20));
        assert_eq!(place_initrd(0x1800, low, high), Some((128 << 20) - 0x2000));
        assert_eq!(place_initrd(high, low, high), None);
        // The kernel's limit wins over RAM; old protocols use the default.
        let big = RamLayout::new(2 << 30);
        assert_eq!(initrd_window(&hdr, &big, 0).1, 0x3800_0000);
        let old = setup_header { version: 0x202, initrd_addr_max: 0x1000, ..Default::default() };
        assert_eq!(initrd_window(&old, &big, 0).1, 0x3800_0000);
        // Nothing below the area the kernel decompresses into.
        let reloc = setup_header { version: 0x20F, pref_address: 0x100_0000, init_size: 0x200_0000, ..hdr };
        assert_eq!(initrd_window(&reloc, &ram, 0x20_0000).0, 0x300_0000);
    }

    #[test]
    fn loads_a_bzimage_with_initrd_and_command_line() {
        let dir = tempfile::tempdir().unwrap();
        let payload: Vec<u8> = (0..5000u32).map(|i| i as u8).collect();
        let kernel = file(dir.path(), "bzImage", &bzimage(0x20F, XLF_KERNEL_64, &payload));
        let initrd = file(dir.path(), "initrd", &[0x5A; 3000]);
        let ram = RamLayout::new(64 << 20);
        let m = mem(&ram);
        let boot = LinuxBoot { kernel, initrd: Some(initrd), cmdline: "console=ttyS0 quiet".into() };
        let e = boot.load(&m).unwrap();
        assert_eq!(ram_layout(&m), ram);
        assert_eq!(e.format, KernelFormat::BzImage);
        assert_eq!(e.entry, KERNEL_ADDR + 0x200);
        assert_eq!(e.kernel_end, KERNEL_ADDR + 5000);
        let mut k = vec![0u8; 5000];
        m.read_slice(&mut k, GuestAddress(KERNEL_ADDR)).unwrap();
        assert_eq!(k, payload);

        let p: boot_params = m.read_obj(GuestAddress(ZERO_PAGE)).unwrap();
        assert_eq!({ p.hdr.header }, HDRS_MAGIC);
        assert_eq!({ p.hdr.boot_flag }, BOOT_FLAG);
        assert_eq!(p.hdr.type_of_loader, LOADER_TYPE);
        assert_eq!({ p.hdr.code32_start }, KERNEL_ADDR as u32);
        assert_eq!({ p.hdr.cmd_line_ptr }, CMDLINE_ADDR as u32);
        assert_eq!({ p.hdr.ramdisk_size }, 3000);
        assert_eq!(u64::from(p.hdr.ramdisk_image), (64 << 20) - 0x1000);
        assert_eq!(e.initrd, Some(((64 << 20) - 0x1000, 3000)));
        assert_eq!(p.e820_entries, 2);
        let mut c = [0u8; 20];
        m.read_slice(&mut c, GuestAddress(CMDLINE_ADDR)).unwrap();
        assert_eq!(&c, b"console=ttyS0 quiet\0");
        let mut r = [0u8; 4];
        m.read_slice(&mut r, GuestAddress((64 << 20) - 0x1000)).unwrap();
        assert_eq!(r, [0x5A; 4]);
        assert_eq!(read_u64(&m, PML4_ADDR), PDPT_ADDR | 3);
    }

    /// An ELF64 x86-64 image with one PT_LOAD of `code` at `paddr`.
    fn elf(class: u8, machine: u16, paddr: u64, code: &[u8]) -> Vec<u8> {
        let mut e = vec![0u8; 64 + 56];
        e[..4].copy_from_slice(b"\x7fELF");
        (e[4], e[5], e[6]) = (class, 1, 1);
        e[16..18].copy_from_slice(&2u16.to_le_bytes()); // ET_EXEC
        e[18..20].copy_from_slice(&machine.to_le_bytes());
        e[24..32].copy_from_slice(&paddr.to_le_bytes()); // e_entry
        e[32..40].copy_from_slice(&64u64.to_le_bytes()); // e_phoff
        e[54..56].copy_from_slice(&56u16.to_le_bytes()); // e_phentsize
        e[56..58].copy_from_slice(&1u16.to_le_bytes()); // e_phnum
        let ph = &mut e[64..];
        ph[..4].copy_from_slice(&1u32.to_le_bytes()); // PT_LOAD
        ph[8..16].copy_from_slice(&120u64.to_le_bytes()); // p_offset
        ph[24..32].copy_from_slice(&paddr.to_le_bytes()); // p_paddr
        ph[32..40].copy_from_slice(&(code.len() as u64).to_le_bytes()); // p_filesz
        ph[40..48].copy_from_slice(&(code.len() as u64).to_le_bytes()); // p_memsz
        e.extend_from_slice(code);
        e
    }

    #[test]
    fn loads_an_elf_vmlinux_at_its_physical_entry() {
        let dir = tempfile::tempdir().unwrap();
        let ram = RamLayout::new(32 << 20);
        let m = mem(&ram);
        let k = file(dir.path(), "vmlinux", &elf(ELFCLASS64, EM_X86_64, 0x20_0000, &[0x90; 16]));
        let e = LinuxBoot { kernel: k, initrd: None, cmdline: "x".into() }.load(&m).unwrap();
        assert_eq!((e.format, e.entry, e.kernel_end), (KernelFormat::Elf, 0x20_0000, 0x20_0010));
        let p: boot_params = m.read_obj(GuestAddress(ZERO_PAGE)).unwrap();
        assert_eq!(({ p.hdr.header }, p.hdr.type_of_loader), (HDRS_MAGIC, LOADER_TYPE));
        let k32 = file(dir.path(), "vmlinux32", &elf(1, 3, 0x20_0000, &[0x90; 16]));
        let e = LinuxBoot { kernel: k32, initrd: None, cmdline: String::new() }.load(&m).unwrap_err();
        assert!(matches!(e, LinuxBootError::ElfNot64Bit { .. }), "{e}");
    }

    #[test]
    fn bad_kernels_and_command_lines_are_clear_errors() {
        let dir = tempfile::tempdir().unwrap();
        let ram = RamLayout::new(32 << 20);
        let m = mem(&ram);
        let boot = |k: PathBuf| LinuxBoot { kernel: k, initrd: None, cmdline: String::new() };
        let e = boot(dir.path().join("missing")).load(&m).unwrap_err();
        assert!(matches!(e, LinuxBootError::KernelRead { .. }), "{e}");
        let junk = file(dir.path(), "junk", &[0x11; 4096]);
        let e = boot(junk).load(&m).unwrap_err();
        assert!(matches!(e, LinuxBootError::NotAKernel { .. }), "{e}");
        let tiny = file(dir.path(), "tiny", b"hello\n");
        let e = boot(tiny).load(&m).unwrap_err();
        assert!(matches!(e, LinuxBootError::NotAKernel { .. }), "{e}");
        assert!(e.to_string().contains("not a Linux kernel image"), "{e}");
        let old = file(dir.path(), "old", &bzimage(0x20B, 0, &[0; 512]));
        let e = boot(old).load(&m).unwrap_err();
        assert!(matches!(e, LinuxBootError::Not64Bit { version: 0x20B, .. }), "{e}");
        let huge = file(dir.path(), "huge", &bzimage(0x20F, 1, &vec![0; 40 << 20]));
        let e = boot(huge).load(&m).unwrap_err();
        assert!(matches!(e, LinuxBootError::KernelTooLarge { .. }), "{e}");

        let ok = file(dir.path(), "ok", &bzimage(0x20F, 1, &[0; 512]));
        let long = LinuxBoot { kernel: ok.clone(), initrd: None, cmdline: "x".repeat(65) };
        let e = long.load(&m).unwrap_err();
        assert!(matches!(e, LinuxBootError::CmdlineTooLong { len: 65, max: 64 }), "{e}");
        let nul = LinuxBoot { kernel: ok.clone(), initrd: None, cmdline: "a\0b".into() };
        assert!(matches!(nul.load(&m), Err(LinuxBootError::CmdlineNul)));
        let big_initrd = file(dir.path(), "initrd", &vec![0; 31 << 20]);
        let b = LinuxBoot { kernel: ok.clone(), initrd: Some(big_initrd), cmdline: String::new() };
        assert!(matches!(b.load(&m), Err(LinuxBootError::InitrdTooLarge { .. })));
        let b = LinuxBoot { kernel: ok, initrd: Some(dir.path().join("none")), cmdline: String::new() };
        assert!(matches!(b.load(&m), Err(LinuxBootError::InitrdRead { .. })));
    }

    #[test]
    fn from_config_takes_the_command_line_as_given() {
        let mut cfg = MachineConfig::default();
        assert_eq!(LinuxBoot::from_config(&cfg), None);
        cfg.kernel = Some("k".into());
        cfg.initrd = Some("i".into());
        let b = LinuxBoot::from_config(&cfg).unwrap();
        assert_eq!(b.cmdline, "");
        cfg.append = Some("root=/dev/sda".into());
        assert_eq!(LinuxBoot::from_config(&cfg).unwrap().cmdline, "root=/dev/sda");
    }
}
