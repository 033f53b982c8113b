//! ATAPI CD-ROM tests over the qtest socket, in the spirit of ide-test's
//! cdrom tests: PIO READ(10) in byte-count-limited chunks with an IRQ each,
//! READ(10) by bus-master DMA, and a few status/sense sequences.

mod common;

use common::ide::*;
use common::{image, Qtest};

const BLOCKS: u64 = 32;
const BCL: u16 = 5120;

fn cd_machine() -> (Qtest, tempfile::NamedTempFile) {
    let (f, path) = image("qt-cd", BLOCKS * 2048, false, pattern);
    let drive = format!("if=none,file={path},media=cdrom,format=raw,id=sr0");
    let mut q = Qtest::start(&["-drive", &drive, "-device", "ide-cd,drive=sr0,bus=ide.0"]);
    pci_setup(&mut q, true);
    (q, f)
}

/// Read the status until BSY is clear (bounded).
fn wait_not_busy(q: &mut Qtest) -> u8 {
    for _ in 0..1000 {
        let st = q.inb(PRIMARY + STATUS);
        if st & BSY == 0 {
            return st;
        }
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    panic!("BSY never cleared");
}

/// PACKET in PIO mode with byte-count limit `bcl`; checks the packet phase.
fn packet_pio(q: &mut Qtest, bcl: u16, cdb: &[u8; 12]) {
    q.outb(PRIMARY + DEVICE, 0);
    q.outb(PRIMARY + FEATURE, 0);
    q.outb(PRIMARY + LBA_MID, bcl as u8);
    q.outb(PRIMARY + LBA_HI, (bcl >> 8) as u8);
    q.outb(PRIMARY + COMMAND, CMD_PACKET);
    let st = q.inb(PRIMARY_CTL);
    assert_eq!(st & (BSY | DRQ | DRDY | ERR | DF), DRQ | DRDY, "send-packet state {st:#x}");
    assert_eq!(q.inb(PRIMARY + NSECT) & 3, 1, "interrupt reason: command out");
    assert!(!q.get_irq(IRQ_PRIMARY), "no IRQ for the packet phase");
    send_cdb(q, PRIMARY, cdb);
}

/// READ(10) of `nblocks` from block 0 by PIO with byte-count limit `bcl`;
/// returns how many DRQ blocks came.
fn cdrom_pio(nblocks: u16, bcl: u16) -> usize {
    let (mut q, _f) = cd_machine();
    q.take_irq_log();
    packet_pio(&mut q, bcl, &read10(0, nblocks));
    let total = usize::from(nblocks) * 2048;
    // An odd limit is rounded down; 0xFFFF counts as 0xFFFE.
    let limit = usize::from(bcl & !1);
    let mut rx: Vec<u8> = Vec::with_capacity(total);
    let mut chunks = 0;
    while rx.len() < total {
        assert!(q.get_irq(IRQ_PRIMARY), "IRQ for data block {chunks}");
        let st = wait_not_busy(&mut q);
        assert_eq!(st & (DRQ | DRDY | ERR | DF), DRQ | DRDY, "data block {chunks}: status {st:#x}");
        assert!(!q.get_irq(IRQ_PRIMARY), "the status read lowered the IRQ");
        assert_eq!(q.inb(PRIMARY + NSECT) & 3, 2, "interrupt reason: data in");
        let n = limit.min(total - rx.len());
        let count = usize::from(q.inb(PRIMARY + LBA_MID)) | usize::from(q.inb(PRIMARY + LBA_HI)) << 8;
        assert_eq!(count, n, "byte count of block {chunks}");
        for _ in 0..n / 2 {
            rx.extend_from_slice(&q.inw(PRIMARY + DATA).to_le_bytes());
        }
        chunks += 1;
    }
    assert!(q.get_irq(IRQ_PRIMARY), "completion IRQ");
    let st = q.inb(PRIMARY + STATUS);
    assert_eq!(st & (DRDY | DRQ | ERR | DF | BSY), DRDY, "final status {st:#x}");
    assert_eq!(q.inb(PRIMARY + NSECT) & 3, 3, "interrupt reason: status");
    let want: Vec<u8> = (0..total as u64).map(pattern).collect();
    assert!(rx == want, "PIO data differs from the image");
    // One interrupt per data block and one for the status, each lowered by
    // the status read (the last one still up).
    let raises = q.take_irq_log().iter().filter(|l| *l == "IRQ raise 14").count();
    assert_eq!(raises, chunks + 1, "IRQs: one per DRQ block plus completion");
    chunks
}

#[test]
fn cdrom_pio_one_block() {
    assert_eq!(cdrom_pio(1, BCL), 1);
}

#[test]
fn cdrom_pio_large_comes_in_four_chunks() {
    // 10 blocks = 20480 bytes = 4 x 5120.
    assert_eq!(cdrom_pio(10, BCL), 4);
}

#[test]
fn cdrom_pio_odd_limit_is_rounded_down() {
    // 2049 -> 2048: two blocks of one sector each.
    assert_eq!(cdrom_pio(2, 2049), 2);
    // 3001 -> 3000: 6144 bytes as 3000 + 3000 + 144.
    assert_eq!(cdrom_pio(3, 3001), 3);
}

#[test]
fn cdrom_dma_read() {
    let (mut q, _f) = cd_machine();
    q.memset(BUF_ADDR, 4 * 2048, 0);
    let cdb = read10(0, 1);
    let st = dma(&mut q, DmaCmd::Packet(&cdb), &[Prd { addr: BUF_ADDR as u32, size: 2048 | PRD_EOT }], false);
    assert_eq!(st, BM_INTR);
    let want: Vec<u8> = (0..2048).map(pattern).collect();
    assert_eq!(q.memread(BUF_ADDR, 2048), want);
    // Three blocks from block 5 through two PRDs.
    let cdb = read10(5, 3);
    let prdt =
        [Prd { addr: (BUF_ADDR + 0x4000) as u32, size: 2048 }, Prd { addr: BUF_ADDR as u32, size: 4096 | PRD_EOT }];
    let st = dma(&mut q, DmaCmd::Packet(&cdb), &prdt, false);
    assert_eq!(st, BM_INTR);
    let want: Vec<u8> = (5 * 2048..8 * 2048).map(pattern).collect();
    assert_eq!(q.memread(BUF_ADDR + 0x4000, 2048), want[..2048]);
    assert_eq!(q.memread(BUF_ADDR, 4096), want[2048..]);
    check_status(&mut q, PRIMARY + STATUS, DRDY, BSY | DRQ | ERR | DF);
}

#[test]
fn identify_packet_device_and_signature() {
    let (mut q, _f) = cd_machine();
    // IDENTIFY DEVICE on a CD aborts and shows the ATAPI signature.
    q.outb(PRIMARY + DEVICE, 0);
    q.outb(PRIMARY + COMMAND, CMD_IDENTIFY);
    assert!(q.get_irq(IRQ_PRIMARY));
    assert_eq!((q.inb(PRIMARY + STATUS), q.inb(PRIMARY + ERROR)), (0x41, ABRT));
    assert_eq!((q.inb(PRIMARY + LBA_MID), q.inb(PRIMARY + LBA_HI)), (0x14, 0xEB));
    q.outb(PRIMARY + COMMAND, 0xA1);
    assert!(q.get_irq(IRQ_PRIMARY));
    let mut w = Vec::new();
    for _ in 0..256 {
        check_status(&mut q, PRIMARY + STATUS, DRQ, BSY | ERR);
        w.push(q.inw(PRIMARY + DATA));
    }
    assert_eq!(w[0], 0x85C0);
    assert_eq!(ata_string(&w[27..47]).trim_end(), "QEMU DVD-ROM");
    assert_eq!(w[49] & 0x0300, 0x0300, "DMA and LBA");
    check_status(&mut q, PRIMARY + STATUS, DRDY, BSY | DRQ | ERR);
}

#[test]
fn test_unit_ready_at_power_on_and_bad_opcode() {
    let (mut q, _f) = cd_machine();
    // A CD powered on with a medium has no pending change.
    packet_pio(&mut q, BCL, &[0; 12]);
    assert!(q.get_irq(IRQ_PRIMARY));
    assert_eq!(q.inb(PRIMARY + STATUS) & (DRDY | ERR | DRQ), DRDY);
    // An unknown opcode: ILLEGAL REQUEST, then REQUEST SENSE reports ASC 0x20.
    let mut cdb = [0u8; 12];
    cdb[0] = 0xFF;
    packet_pio(&mut q, BCL, &cdb);
    assert!(q.get_irq(IRQ_PRIMARY));
    assert_eq!((q.inb(PRIMARY + STATUS), q.inb(PRIMARY + ERROR)), (0x41, 0x50));
    let mut cdb = [0u8; 12];
    cdb[0] = 0x03;
    cdb[4] = 18;
    packet_pio(&mut q, BCL, &cdb);
    assert!(q.get_irq(IRQ_PRIMARY));
    check_status(&mut q, PRIMARY + STATUS, DRQ, ERR);
    let sense: Vec<u8> = (0..9).flat_map(|_| q.inw(PRIMARY + DATA).to_le_bytes()).collect();
    assert_eq!((sense[0] & 0x7F, sense[2] & 0x0F, sense[12]), (0x70, 5, 0x20));
}

#[test]
fn empty_cdrom_is_not_ready() {
    let mut q = Qtest::start(&["-device", "ide-cd,bus=ide.1,unit=0"]);
    q.outb(SECONDARY + DEVICE, 0);
    q.outb(SECONDARY + LBA_MID, 0);
    q.outb(SECONDARY + LBA_HI, 0x08);
    q.outb(SECONDARY + COMMAND, CMD_PACKET);
    send_cdb(&mut q, SECONDARY, &[0; 12]);
    assert!(q.get_irq(IRQ_SECONDARY));
    assert_eq!((q.inb(SECONDARY + STATUS), q.inb(SECONDARY + ERROR)), (0x41, 0x20), "NOT READY");
    assert!(!q.get_irq(IRQ_SECONDARY));
}

#[test]
fn pio_read_with_zero_byte_count_limit_aborts() {
    let (mut q, _f) = cd_machine();
    packet_pio(&mut q, 0, &read10(0, 1));
    // QEMU's ATA abort here raises no interrupt; the guest polls.
    let st = q.inb(PRIMARY + STATUS);
    assert_eq!(st & (ERR | DRQ), ERR, "status {st:#x}");
    assert_eq!(q.inb(PRIMARY + ERROR) & ABRT, ABRT);
}
