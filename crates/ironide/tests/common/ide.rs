//! PIIX3 IDE sequences over qtest: PCI setup of 00:01.1, task-file access,
//! IDENTIFY, bus-master DMA with PRD tables in guest RAM, ATAPI packets.

use super::Qtest;

/// PCI device 1 function 1.
pub const IDE_DEVFN: u8 = (1 << 3) | 1;
/// Where the tests map BAR4 (bus-master registers).
pub const BM_BASE: u16 = 0xC000;

pub const PRIMARY: u16 = 0x1F0;
pub const SECONDARY: u16 = 0x170;
pub const PRIMARY_CTL: u16 = 0x3F6;
pub const SECONDARY_CTL: u16 = 0x376;
pub const IRQ_PRIMARY: usize = 14;
pub const IRQ_SECONDARY: usize = 15;

// Task-file offsets.
pub const DATA: u16 = 0;
pub const ERROR: u16 = 1;
pub const FEATURE: u16 = 1;
pub const NSECT: u16 = 2;
pub const LBA_LO: u16 = 3;
pub const LBA_MID: u16 = 4;
pub const LBA_HI: u16 = 5;
pub const DEVICE: u16 = 6;
pub const STATUS: u16 = 7;
pub const COMMAND: u16 = 7;

// Status bits.
pub const BSY: u8 = 0x80;
pub const DRDY: u8 = 0x40;
pub const DF: u8 = 0x20;
pub const DSC: u8 = 0x10;
pub const DRQ: u8 = 0x08;
pub const ERR: u8 = 0x01;
pub const ABRT: u8 = 0x04;
pub const DEV_LBA: u8 = 0x40;
pub const DEV_SLAVE: u8 = 0x10;

// Bus-master registers and bits.
pub const BM_CMD: u16 = 0;
pub const BM_STATUS: u16 = 2;
pub const BM_PRDT: u16 = 4;
pub const BM_START: u8 = 0x01;
pub const BM_TO_MEM: u8 = 0x08;
pub const BM_ACTIVE: u8 = 0x01;
pub const BM_ERROR: u8 = 0x02;
pub const BM_INTR: u8 = 0x04;
pub const PRD_EOT: u32 = 0x8000_0000;

pub const CMD_READ_DMA: u8 = 0xC8;
pub const CMD_WRITE_DMA: u8 = 0xCA;
pub const CMD_DSM: u8 = 0x06;
pub const CMD_FLUSH: u8 = 0xE7;
pub const CMD_IDENTIFY: u8 = 0xEC;
pub const CMD_PACKET: u8 = 0xA0;

/// Guest RAM the tests use for PRD tables and buffers.
pub const PRDT_ADDR: u64 = 0x10_0000;
pub const BUF_ADDR: u64 = 0x20_0000;

/// One PRD: physical address and the second dword (count | EOT).
#[derive(Clone, Copy, Debug)]
pub struct Prd {
    pub addr: u32,
    pub size: u32,
}

/// Scan bus 0 for the PIIX3 IDE function (8086:7010); its devfn.
pub fn find_ide(q: &mut Qtest) -> Option<u8> {
    (0..=255u8).find(|&devfn| q.pci_readl(devfn, 0) == 0x7010_8086)
}

/// Enable I/O and (optionally) bus mastering on 00:01.1 and map BAR4.
pub fn pci_setup(q: &mut Qtest, bus_master: bool) {
    assert_eq!(find_ide(q), Some(IDE_DEVFN), "the PIIX3 IDE is 00:01.1");
    assert_eq!(q.pci_readl(IDE_DEVFN, 8) >> 8, 0x01_0180, "class IDE, prog-if 0x80");
    q.pci_writel(IDE_DEVFN, 0x20, u32::from(BM_BASE) | 1);
    assert_eq!(q.pci_readl(IDE_DEVFN, 0x20) & 0xFFF0, u32::from(BM_BASE), "BAR4");
    q.pci_writew(IDE_DEVFN, 0x04, if bus_master { 0x05 } else { 0x01 });
}

/// Read status, asserting the bits in `set` are set and those in `clear` clear.
pub fn check_status(q: &mut Qtest, port: u16, set: u8, clear: u8) -> u8 {
    let st = q.inb(port);
    assert_eq!(st & set, set, "status {st:#04x} at {port:#x}: want {set:#04x} set");
    assert_eq!(st & clear, 0, "status {st:#04x} at {port:#x}: want {clear:#04x} clear");
    st
}

/// IDENTIFY DEVICE on `base` (0x1F0/0x170) for `slave`, checking the status
/// before every data word the way ide-test does. Returns the 256 words.
pub fn identify(q: &mut Qtest, base: u16, slave: bool) -> Vec<u16> {
    q.outb(base + DEVICE, if slave { DEV_SLAVE } else { 0 });
    q.outb(base + COMMAND, CMD_IDENTIFY);
    let irq = if base == PRIMARY { IRQ_PRIMARY } else { IRQ_SECONDARY };
    assert!(q.get_irq(irq), "IDENTIFY raises the IRQ before the next access");
    let dev = q.inb(base + DEVICE);
    assert_eq!(dev & DEV_SLAVE, if slave { DEV_SLAVE } else { 0 });
    let mut words = Vec::with_capacity(256);
    for _ in 0..256 {
        check_status(q, base + STATUS, DRDY | DRQ, BSY | DF | ERR);
        words.push(q.inw(base + DATA));
    }
    check_status(q, base + STATUS, DRDY, BSY | DF | ERR | DRQ);
    assert!(!q.get_irq(irq), "the status read lowered the IRQ");
    words
}

/// An ATA string from IDENTIFY words (byte-swapped per word).
pub fn ata_string(words: &[u16]) -> String {
    words.iter().flat_map(|w| w.to_be_bytes()).map(char::from).collect()
}

/// Write the PRD table at PRDT_ADDR with writel, one dword at a time.
pub fn write_prdt(q: &mut Qtest, prdt: &[Prd]) {
    for (i, p) in prdt.iter().enumerate() {
        let a = PRDT_ADDR + 8 * i as u64;
        q.writel(a, p.addr);
        q.writel(a + 4, p.size);
    }
}

/// What comes between the command byte and the DMA start.
pub enum DmaCmd<'a> {
    /// An ATA command with LBA28 sector and count.
    Ata { cmd: u8, lba: u32, count: u8 },
    /// PACKET with DMA, then this CDB (primary master).
    Packet(&'a [u8; 12]),
}

/// One bus-master transfer on the primary master, as ide-test sends it:
/// stop the engine and clear INTR, load the PRD table, issue the command,
/// start the engine (optionally stop it at once), wait for ACTIVE to drop
/// or INTR to rise. Checks the IRQ matches INTR, the ATA status has no
/// BSY/DRQ and the status read lowered the IRQ; stops a still-active
/// engine. Returns the bus-master status seen.
pub fn dma(q: &mut Qtest, what: DmaCmd, prdt: &[Prd], abort: bool) -> u8 {
    let bm = BM_BASE;
    q.outb(bm + BM_CMD, 0);
    q.outb(bm + BM_STATUS, BM_INTR);
    write_prdt(q, prdt);
    q.outl(bm + BM_PRDT, PRDT_ADDR as u32);
    let to_mem = match what {
        DmaCmd::Ata { cmd, lba, count } => {
            q.outb(PRIMARY + DEVICE, DEV_LBA | ((lba >> 24) as u8 & 0x0F));
            if cmd == CMD_DSM {
                q.outb(PRIMARY + FEATURE, 0x01);
            }
            q.outb(PRIMARY + NSECT, count);
            q.outb(PRIMARY + LBA_LO, lba as u8);
            q.outb(PRIMARY + LBA_MID, (lba >> 8) as u8);
            q.outb(PRIMARY + LBA_HI, (lba >> 16) as u8);
            q.outb(PRIMARY + COMMAND, cmd);
            cmd == CMD_READ_DMA
        }
        DmaCmd::Packet(cdb) => {
            q.outb(PRIMARY + DEVICE, 0);
            q.outb(PRIMARY + FEATURE, 0x01);
            q.outb(PRIMARY + COMMAND, CMD_PACKET);
            check_status(q, PRIMARY_CTL, DRQ, BSY | ERR);
            send_cdb(q, PRIMARY, cdb);
            true
        }
    };
    let dir = if to_mem { BM_TO_MEM } else { 0 };
    q.outb(bm + BM_CMD, BM_START | dir);
    if abort {
        q.outb(bm + BM_CMD, dir);
    }
    let mut status = 0;
    for i in 0.. {
        status = q.inb(bm + BM_STATUS);
        if status & (BM_ACTIVE | BM_INTR) != BM_ACTIVE {
            break;
        }
        assert!(i < 1000, "DMA never finished (bm status {status:#x})");
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    assert_eq!(q.get_irq(IRQ_PRIMARY), status & BM_INTR != 0, "IRQ 14 matches INTR (bm status {status:#x})");
    check_status(q, PRIMARY + STATUS, 0, BSY | DRQ);
    assert!(!q.get_irq(IRQ_PRIMARY), "the status read lowered IRQ 14");
    if status & BM_ACTIVE != 0 {
        q.outb(bm + BM_CMD, 0);
    }
    status
}

/// Shortcut for an ATA DMA command with one PRD.
pub fn ata_dma(q: &mut Qtest, cmd: u8, lba: u32, count: u8, prdt: &[Prd], abort: bool) -> u8 {
    dma(q, DmaCmd::Ata { cmd, lba, count }, prdt, abort)
}

/// The 12 CDB bytes as 6 data-port words.
pub fn send_cdb(q: &mut Qtest, base: u16, cdb: &[u8; 12]) {
    for c in cdb.chunks(2) {
        q.outw(base + DATA, u16::from_le_bytes([c[0], c[1]]));
    }
}

/// READ(10) of `n` 2048-byte blocks from `lba`.
pub fn read10(lba: u32, n: u16) -> [u8; 12] {
    let l = lba.to_be_bytes();
    let c = n.to_be_bytes();
    [0x28, 0, l[0], l[1], l[2], l[3], 0, c[0], c[1], 0, 0, 0]
}

/// A byte of the test pattern: sector number and offset mixed, so a sector
/// read from the wrong place shows.
pub fn pattern(off: u64) -> u8 {
    let sector = off / 512;
    ((sector * 7 + (off % 512) * 3 + (off % 512) / 256) % 251) as u8
}
