//! ATA disk tests over the qtest socket, in the spirit of QEMU's ide-test:
//! IDENTIFY, bus-master DMA reads/writes, TRIM, PRD length cases, bus
//! mastering disabled, FLUSH.

mod common;

use common::ide::*;
use common::{file_bytes, image, Qtest};

/// 64 MiB: room for 256-sector requests anywhere the tests go.
const DISK_LEN: u64 = 64 << 20;

fn disk_machine(extra: &[&str]) -> (Qtest, tempfile::NamedTempFile, String) {
    let (f, path) = image("qt-ide", DISK_LEN, true, pattern);
    let drive = format!("file={path},if=none,id=disk0,format=raw,cache=writeback");
    let mut args = vec!["-drive", &drive, "-device"];
    let dev = format!("ide-hd,drive=disk0,bus=ide.0,unit=0{}", extra.concat());
    args.push(&dev);
    let mut q = Qtest::start(&args);
    pci_setup(&mut q, true);
    (q, f, path)
}

fn prd(addr: u64, size: u32) -> Prd {
    Prd { addr: addr as u32, size }
}

#[test]
fn identify_word_by_word() {
    let (mut q, _f, _) = disk_machine(&[",serial=testdisk,model=Test Model"]);
    let w = identify(&mut q, PRIMARY, false);
    assert_eq!(w[0], 0x0040);
    assert!(ata_string(&w[10..20]).starts_with("testdisk"), "serial '{}'", ata_string(&w[10..20]));
    assert_eq!(ata_string(&w[23..27]).trim_end(), "2.5+");
    assert_eq!(ata_string(&w[27..47]).trim_end(), "Test Model");
    assert_eq!(w[85] & 0x20, 0x20, "write cache enabled");
    let sectors = DISK_LEN / 512;
    assert_eq!(u64::from(w[60]) | u64::from(w[61]) << 16, sectors);
    assert_eq!(w[100..104].iter().rev().fold(0u64, |a, &x| a << 16 | u64::from(x)), sectors);
    assert_eq!((w[1], w[3], w[6]), ((sectors / (16 * 63)) as u16, 16, 63));
}

#[test]
fn identify_with_write_cache_off() {
    let (mut q, _f, _) = disk_machine(&[",write-cache=off"]);
    let w = identify(&mut q, PRIMARY, false);
    assert_eq!(w[85] & 0x20, 0, "write cache disabled");
}

#[test]
fn bmdma_simple_read_and_write() {
    let (mut q, _f, path) = disk_machine(&[]);
    let a = vec![0x55u8; 512];
    let b = vec![0xAAu8; 512];
    q.memwrite(BUF_ADDR, &a);
    q.b64write(BUF_ADDR + 512, &b);
    // Write 0x55 to sector 0 and 0xAA to sector 1.
    let st = ata_dma(&mut q, CMD_WRITE_DMA, 0, 2, &[prd(BUF_ADDR, 1024 | PRD_EOT)], false);
    assert_eq!(st, BM_INTR);
    check_status(&mut q, PRIMARY + STATUS, DRDY, DF | ERR);
    assert_eq!(file_bytes(&path, 0, 1024), [a.clone(), b.clone()].concat(), "the image has the data");
    // Read both back, each through its own PRD, in reverse order in memory.
    q.memset(BUF_ADDR, 0x2000, 0);
    let prdt = [prd(BUF_ADDR + 0x1000, 512), prd(BUF_ADDR, 512 | PRD_EOT)];
    let st = ata_dma(&mut q, CMD_READ_DMA, 0, 2, &prdt, false);
    assert_eq!(st, BM_INTR);
    check_status(&mut q, PRIMARY + STATUS, DRDY, DF | ERR);
    assert_eq!(q.memread(BUF_ADDR + 0x1000, 512), a);
    assert_eq!(q.b64read(BUF_ADDR, 512), b);
    // A read elsewhere on the disk returns the image's pattern.
    let st = ata_dma(&mut q, CMD_READ_DMA, 1000, 4, &[prd(BUF_ADDR, 2048 | PRD_EOT)], false);
    assert_eq!(st, BM_INTR);
    let want: Vec<u8> = (1000 * 512..1004 * 512).map(pattern).collect();
    assert_eq!(q.memread(BUF_ADDR, 2048), want);
}

fn trim_entry(lba: u64, count: u64) -> [u8; 8] {
    (lba | count << 48).to_le_bytes()
}

#[test]
fn bmdma_trim_and_out_of_range() {
    let (mut q, _f, path) = disk_machine(&[]);
    let mut table = Vec::new();
    for (lba, n) in [(0u64, 2u64), (6, 8), (10, 1)] {
        table.extend_from_slice(&trim_entry(lba, n));
    }
    table.resize(512, 0);
    q.memwrite(BUF_ADDR, &table);
    let st = ata_dma(&mut q, CMD_DSM, 0, 1, &[prd(BUF_ADDR, 512 | PRD_EOT)], false);
    assert_eq!(st, BM_INTR);
    check_status(&mut q, PRIMARY + STATUS, DRDY, DF | ERR);
    // Trimmed sectors read back as zeros (raw file: punched holes); an
    // untrimmed one keeps its data.
    let st = ata_dma(&mut q, CMD_READ_DMA, 6, 8, &[prd(BUF_ADDR + 0x1000, 4096 | PRD_EOT)], false);
    assert_eq!(st, BM_INTR);
    assert_eq!(q.memread(BUF_ADDR + 0x1000, 4096), vec![0; 4096]);
    let untouched: Vec<u8> = (2 * 512..3 * 512).map(pattern).collect();
    assert_eq!(file_bytes(&path, 2 * 512, 512), untouched);

    // A range reaching past the last sector.
    let mut bad = trim_entry(DISK_LEN / 512 - 1, 2).to_vec();
    bad.resize(512, 0);
    q.memwrite(BUF_ADDR, &bad);
    let st = ata_dma(&mut q, CMD_DSM, 0, 1, &[prd(BUF_ADDR, 512 | PRD_EOT)], false);
    assert_eq!(st, BM_INTR);
    check_status(&mut q, PRIMARY + STATUS, ERR, 0);
    assert_eq!(q.inb(PRIMARY + ERROR) & ABRT, ABRT);
}

/// ide-test's various-PRDs sweep: PRD shorter than, equal to and longer
/// than the request, each with and without stopping the engine at once.
#[test]
fn bmdma_prd_lengths_with_and_without_abort() {
    let (mut q, _f, _) = disk_machine(&[]);
    for sectors in [1u32, 2, 4, 8, 16, 32, 64, 128, 256] {
        let req = sectors * 512;
        // ide-test steps by 256 (3 s here); every 1 KiB plus the sizes
        // around the request covers the same cases in a quarter of the time.
        let mut sizes: Vec<u32> = (0..65536).step_by(1024).collect();
        sizes.extend([req.saturating_sub(256), req.saturating_sub(16), req, req + 16, req + 256, 0x10, 0xFFFF]);
        for size in sizes {
            let prd_len = match size & 0xFFFE {
                0 => 65536,
                n => n,
            };
            let (want, want_abort) = match prd_len.cmp(&req) {
                std::cmp::Ordering::Less => (0, 0),
                std::cmp::Ordering::Equal => (BM_INTR, BM_INTR),
                std::cmp::Ordering::Greater => (BM_ACTIVE | BM_INTR, BM_INTR),
            };
            let count = (sectors % 256) as u8;
            let prdt = [prd(0, size | PRD_EOT)];
            let st = ata_dma(&mut q, CMD_READ_DMA, 0, count, &prdt, false);
            assert_eq!(st, want, "{sectors} sectors, PRD {size:#x}");
            check_status(&mut q, PRIMARY + STATUS, 0, DF | ERR);
            let st = ata_dma(&mut q, CMD_READ_DMA, 0, count, &prdt, true);
            assert_eq!(st, want_abort, "{sectors} sectors, PRD {size:#x}, stopped");
            check_status(&mut q, PRIMARY + STATUS, 0, DF | ERR);
        }
    }
}

#[test]
fn bmdma_two_prds_second_not_needed() {
    let (mut q, _f, _) = disk_machine(&[]);
    let prdt = [prd(BUF_ADDR, 512), prd(BUF_ADDR + 0x1000, 512 | PRD_EOT)];
    assert_eq!(ata_dma(&mut q, CMD_READ_DMA, 0, 1, &prdt, false), BM_ACTIVE | BM_INTR);
}

#[test]
fn bmdma_out_of_range_request() {
    let (mut q, _f, _) = disk_machine(&[]);
    let last = (DISK_LEN / 512 - 1) as u32;
    let st = ata_dma(&mut q, CMD_READ_DMA, last, 2, &[prd(BUF_ADDR, 1024 | PRD_EOT)], false);
    assert_eq!(st & BM_ACTIVE, 0);
    let st = q.inb(PRIMARY + STATUS);
    assert_eq!((st & (ERR | DRQ), q.inb(PRIMARY + ERROR) & ABRT), (ERR, ABRT), "status {st:#x}");
}

#[test]
fn bmdma_without_bus_master_enable() {
    let (mut q, _f, _) = disk_machine(&[]);
    pci_setup(&mut q, false);
    q.memset(0, 4096, 0xEE);
    q.memset(BUF_ADDR, 512, 0xEE);
    // 4 KiB of zero PRDs: address 0, 64 KiB each, no end marker.
    q.memset(PRDT_ADDR, 4096, 0);
    q.outb(BM_BASE + BM_CMD, 0);
    q.outb(BM_BASE + BM_STATUS, BM_INTR);
    q.outl(BM_BASE + BM_PRDT, PRDT_ADDR as u32);
    q.outb(PRIMARY + DEVICE, DEV_LBA);
    q.outb(PRIMARY + NSECT, 16);
    q.outb(PRIMARY + LBA_LO, 0);
    q.outb(PRIMARY + LBA_MID, 0);
    q.outb(PRIMARY + LBA_HI, 0);
    q.outb(PRIMARY + COMMAND, CMD_READ_DMA);
    q.outb(BM_BASE + BM_CMD, BM_START | BM_TO_MEM);
    let mut st = 0;
    for _ in 0..1000 {
        st = q.inb(BM_BASE + BM_STATUS);
        if st & (BM_ACTIVE | BM_INTR) != BM_ACTIVE {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    assert_eq!(st, BM_ACTIVE | BM_INTR);
    assert!(q.get_irq(IRQ_PRIMARY));
    check_status(&mut q, PRIMARY + STATUS, DRDY, BSY | DRQ | DF | ERR);
    assert!(!q.get_irq(IRQ_PRIMARY));
    assert_eq!(q.memread(0, 4096), vec![0xEE; 4096], "nothing written through the zero PRDs");
    q.outb(BM_BASE + BM_CMD, 0);
}

#[test]
fn flush_cache_status_sequence() {
    let (mut q, _f, path) = disk_machine(&[]);
    let data = vec![0x3Cu8; 512];
    q.memwrite(BUF_ADDR, &data);
    assert_eq!(ata_dma(&mut q, CMD_WRITE_DMA, 5, 1, &[prd(BUF_ADDR, 512 | PRD_EOT)], false), BM_INTR);
    q.take_irq_log();
    q.outb(PRIMARY + DEVICE, 0);
    q.outb(PRIMARY + COMMAND, CMD_FLUSH);
    // The flush has reached the backend by the time the OK comes (settle),
    // and its completion raised IRQ 14 once.
    let mut st = q.inb(PRIMARY_CTL);
    for _ in 0..1000 {
        if st & BSY == 0 {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(1));
        st = q.inb(PRIMARY_CTL);
    }
    assert_eq!(st & (BSY | DRDY | DF | ERR | DRQ), DRDY, "status {st:#x}");
    assert!(q.get_irq(IRQ_PRIMARY));
    assert_eq!(q.take_irq_log(), vec!["IRQ raise 14".to_string()]);
    assert_eq!(q.inb(PRIMARY + DEVICE) & DEV_SLAVE, 0);
    check_status(&mut q, PRIMARY + STATUS, DRDY, BSY | DF | ERR | DRQ);
    assert!(!q.get_irq(IRQ_PRIMARY));
    assert_eq!(file_bytes(&path, 5 * 512, 512), data);
}

#[test]
fn identify_on_the_slave_and_absent_drives() {
    let (f, path) = image("qt-ide-s", 8 << 20, true, pattern);
    let drive = format!("file={path},if=ide,index=1,format=raw");
    let mut q = Qtest::start(&["-drive", &drive]);
    // Only a slave: its IDENTIFY works; an absent master reads status 0.
    let w = identify(&mut q, PRIMARY, true);
    assert_eq!(w[0], 0x0040);
    assert_eq!(ata_string(&w[10..20]).trim_end(), "QM00001");
    q.outb(PRIMARY + DEVICE, 0);
    assert_eq!(q.inb(SECONDARY + STATUS), 0, "no drive on the secondary channel");
    drop(f);
}
