//! Bus-master DMA through the ports, modelled on ide-test's bmdma tests.

mod common;

use common::*;

const READ_DMA: u8 = 0xC8;
const WRITE_DMA: u8 = 0xCA;

fn ata_ok(h: &mut H) {
    let st = h.inb(STATUS);
    assert_eq!(st & DRDY, DRDY, "status {st:#x}");
    assert_eq!(st & (BSY | DRQ | DF | ERR), 0, "status {st:#x}");
    assert!(!h.irq(), "status read lowers the IRQ");
}

#[test]
fn simple_read_and_write() {
    let mut h = H::disk(false);
    let a = vec![0x55u8; 512];
    let b = vec![0xAAu8; 512];
    h.mem_write(BUF, &a);
    h.mem_write(BUF + 512, &b);
    assert_eq!(h.dma(WRITE_DMA, 0, 2, &[(BUF as u32, 1024 | EOT)], false), BM_INTR);
    ata_ok(&mut h);
    h.mem_write(BUF, &[0; 1024]);
    // Read back through two PRDs in reverse order.
    let prdt = [((BUF + 0x1000) as u32, 512), ((BUF + 0x2000) as u32, 512 | EOT)];
    assert_eq!(h.dma(READ_DMA, 0, 2, &prdt, false), BM_INTR);
    ata_ok(&mut h);
    assert_eq!(h.mem_read(BUF + 0x1000, 512), a);
    assert_eq!(h.mem_read(BUF + 0x2000, 512), b);
    assert_eq!(h.inb(LBA_LO), 2, "address advanced");
}

#[test]
fn lba48_dma_read() {
    let mut h = H::disk(false);
    assert_eq!(h.dma(0x25, 40, 3, &[(BUF as u32, 1536 | EOT)], false), BM_INTR);
    ata_ok(&mut h);
    assert_eq!(h.mem_read(BUF, 1536), h.image[40 * 512..43 * 512]);
}

#[test]
fn trim_and_trim_out_of_range() {
    let mut h = H::disk(false);
    let entries: Vec<u8> = [(4u64, 2u64), (0, 0), (10, 1)]
        .iter()
        .flat_map(|&(lba, n)| (lba | n << 48).to_le_bytes())
        .chain(std::iter::repeat_n(0, 512 - 24))
        .collect();
    h.mem_write(BUF, &entries);
    assert_eq!(h.dma(0x06, 0, 1, &[(BUF as u32, 512 | EOT)], false), BM_INTR);
    ata_ok(&mut h);
    assert_eq!(h.dma(READ_DMA, 4, 2, &[(BUF as u32 + 0x1000, 1024 | EOT)], false), BM_INTR);
    assert_eq!(h.mem_read(BUF + 0x1000, 1024), vec![0; 1024], "trimmed sectors read as zeroes");
    // A range reaching past the last sector.
    let bad: Vec<u8> = (60u64 | 8 << 48).to_le_bytes().into_iter().chain(std::iter::repeat_n(0, 504)).collect();
    h.mem_write(BUF, &bad);
    let st = h.dma(0x06, 0, 1, &[(BUF as u32, 512 | EOT)], false);
    assert_eq!(st & BM_ACTIVE, 0);
    assert_eq!((h.inb(STATUS), h.inb(ERROR)), (0x41, 0x04));
}

#[test]
fn prd_exact_longer_shorter_with_and_without_abort() {
    let mut h = H::disk(false);
    // Exact.
    assert_eq!(h.dma(READ_DMA, 0, 1, &[(BUF as u32, 512 | EOT)], false), BM_INTR);
    ata_ok(&mut h);
    // Longer: ACTIVE stays with the interrupt; aborting leaves only INTR.
    assert_eq!(h.dma(READ_DMA, 0, 1, &[(BUF as u32, 0x1000 | EOT)], false), BM_ACTIVE | BM_INTR);
    ata_ok(&mut h);
    assert_eq!(h.dma(READ_DMA, 0, 1, &[(BUF as u32, 0x1000 | EOT)], true), BM_INTR);
    ata_ok(&mut h);
    // Shorter (16 bytes for a sector; one sector for two): no interrupt, not active.
    for (count, len) in [(1, 0x10), (2, 0x200)] {
        for abort in [false, true] {
            assert_eq!(h.dma(READ_DMA, 0, count, &[(BUF as u32, len | EOT)], abort), 0, "{count} {len} {abort}");
            let st = h.inb(STATUS);
            assert_eq!(st & (DF | ERR | BSY | DRQ), 0, "status {st:#x}");
        }
    }
    // Two PRDs of which the second is not needed.
    let prdt = [(BUF as u32, 512), (BUF as u32 + 0x1000, 512 | EOT)];
    assert_eq!(h.dma(READ_DMA, 0, 1, &prdt, false), BM_ACTIVE | BM_INTR);
}

#[test]
fn no_bus_master_enable_touches_no_memory() {
    let mut h = H::disk(false);
    h.pci_setup(false);
    h.mem_write(BUF, &[0xEE; 512]);
    // 4096 bytes of zero PRDs: address 0, 64 KiB each, no end marker.
    h.mem_write(PRDT, &[0; 4096]);
    h.outb(BM, 0);
    h.outl(BM + 4, PRDT as u32);
    h.set_lba(0, 16, false);
    h.outb(COMMAND, READ_DMA);
    h.outb(BM, 1 | 8);
    h.run_io();
    assert_eq!(h.inb(BM + 2), BM_ACTIVE | BM_INTR);
    assert_eq!(h.inb(STATUS) & (DF | ERR), 0);
    assert_eq!(h.mem_read(0, 512), vec![0; 512], "nothing written at address 0");
    assert_eq!(h.mem_read(BUF, 512), vec![0xEE; 512]);
}

#[test]
fn out_of_range_dma() {
    let mut h = H::disk(false);
    let st = h.dma(READ_DMA, 63, 2, &[(BUF as u32, 1024 | EOT)], false);
    assert_eq!(st, BM_INTR);
    assert_eq!((h.inb(STATUS), h.inb(ERROR)), (0x41, 0x04));
}

#[test]
fn prd_and_buffers_outside_ram() {
    let mut h = H::disk(false);
    // Buffer outside the 1 MiB of RAM.
    let st = h.dma(READ_DMA, 0, 1, &[(0xFFF0_0000, 512 | EOT)], false);
    assert_eq!(st & (BM_ERROR | BM_ACTIVE), BM_ERROR);
    assert_eq!((h.inb(STATUS), h.inb(ERROR)), (0x41, 0x04));
    // A buffer straddling the end of RAM.
    let st = h.dma(WRITE_DMA, 0, 2, &[(0xFFE00, 1024 | EOT)], false);
    assert_eq!(st & BM_ERROR, BM_ERROR, "bm {st:#x} ata {:#x}", h.inb(STATUS));
    // The PRD table itself outside RAM.
    h.outb(BM, 0);
    h.outb(BM + 2, BM_ERROR | BM_INTR);
    h.outl(BM + 4, 0xFFFF_F000);
    h.set_lba(0, 1, false);
    h.outb(COMMAND, READ_DMA);
    h.outb(BM, 9);
    h.run_io();
    assert_eq!(h.inb(BM + 2) & (BM_ERROR | BM_ACTIVE), BM_ERROR);
    assert_eq!(h.inb(STATUS), 0x41);
}

#[test]
fn engine_started_before_the_command() {
    let mut h = H::disk(false);
    h.set_prdt(&[(BUF as u32, 512 | EOT)]);
    h.outb(BM, 9);
    assert_eq!(h.inb(BM + 2), BM_ACTIVE);
    h.set_lba(7, 1, false);
    h.outb(COMMAND, READ_DMA);
    h.run_io();
    assert_eq!(h.inb(BM + 2), BM_INTR);
    assert_eq!(h.mem_read(BUF, 512), h.image[7 * 512..8 * 512]);
}
