//! Port-level tests: the controllers programmed the way SeaBIOS and Linux do.

use ironide_dev_isa_dma::{IsaDma, TransferType};
use vm_memory::{Bytes, GuestAddress, GuestMemoryMmap};

fn ram(size: usize) -> GuestMemoryMmap {
    GuestMemoryMmap::from_ranges(&[(GuestAddress(0), size)]).unwrap()
}

/// SeaBIOS's dma_floppy(): mask, clear flip-flop, mode, address, page, count, unmask.
fn program(dma: &mut IsaDma, ch: u8, mode: u8, addr: u32, count: u16) {
    assert!(ch < 4);
    dma.write_port(0x0A, 0x04 | ch);
    dma.write_port(0x0C, 0);
    dma.write_port(0x0B, mode | ch);
    let aport = u16::from(ch) * 2;
    dma.write_port(aport, addr as u8);
    dma.write_port(aport, (addr >> 8) as u8);
    let page = [0x87, 0x83, 0x81, 0x82][usize::from(ch)];
    dma.write_port(page, (addr >> 16) as u8);
    dma.write_port(0x0C, 0);
    dma.write_port(aport + 1, count as u8);
    dma.write_port(aport + 1, (count >> 8) as u8);
    dma.write_port(0x0A, ch);
}

#[test]
fn seabios_read_sector_into_ram() {
    let mem = ram(1 << 20);
    let mut dma = IsaDma::new();
    assert!(dma.is_masked(2), "all channels masked after reset");
    program(&mut dma, 2, 0x46, 0x7C00, 511);
    assert_eq!(dma.channel(2).unwrap().transfer_type(), TransferType::Write);
    assert!(dma.is_ready(2));
    let data: Vec<u8> = (0..512u32).map(|i| i as u8).collect();
    let t = dma.write_to_memory(2, &mem, &data[..300]);
    assert_eq!((t.bytes, t.terminal_count), (300, false));
    assert_eq!(dma.read_port(0x08) & 0x04, 0, "no TC yet");
    let t = dma.write_to_memory(2, &mem, &data[300..]);
    assert_eq!((t.bytes, t.terminal_count), (212, true));
    let mut back = vec![0u8; 512];
    mem.read_slice(&mut back, GuestAddress(0x7C00)).unwrap();
    assert_eq!(back, data);
    // TC latched once, then cleared by the read; the channel masks itself.
    assert_eq!(dma.read_port(0x08) & 0x0F, 0x04);
    assert_eq!(dma.read_port(0x08) & 0x0F, 0);
    assert!(dma.is_masked(2));
    assert_eq!(dma.write_to_memory(2, &mem, &data).bytes, 0, "masked channel moves nothing");
    // Current address and count read back through the flip-flop.
    dma.write_port(0x0C, 0);
    assert_eq!(dma.read_port(0x04), 0x00);
    assert_eq!(dma.read_port(0x04), 0x7E);
    assert_eq!(dma.read_port(0x05), 0xFF);
    assert_eq!(dma.read_port(0x05), 0xFF);
}

#[test]
fn seabios_write_reads_from_ram() {
    let mem = ram(1 << 20);
    mem.write_slice(&[0xAB; 512], GuestAddress(0x10000)).unwrap();
    let mut dma = IsaDma::new();
    program(&mut dma, 2, 0x4A, 0x10000, 511);
    let mut buf = [0u8; 512];
    let t = dma.read_from_memory(2, &mem, &mut buf);
    assert!(t.terminal_count);
    assert!(buf.iter().all(|&b| b == 0xAB));
}

#[test]
fn flip_flop_toggles_and_clears() {
    let mut dma = IsaDma::new();
    dma.write_port(0x0C, 0);
    dma.write_port(0x04, 0x11);
    // Reading toggles too: this read gets the high byte.
    assert_eq!(dma.read_port(0x04), 0x00);
    dma.write_port(0x0C, 0);
    dma.write_port(0x04, 0x22);
    dma.write_port(0x04, 0x33);
    assert_eq!(dma.channel(2).unwrap().base_addr, 0x3322);
    dma.write_port(0x04, 0x44); // low byte again
    assert_eq!(dma.channel(2).unwrap().base_addr, 0x3344);
}

#[test]
fn auto_init_reloads_and_stays_unmasked() {
    let mem = ram(1 << 20);
    let mut dma = IsaDma::new();
    program(&mut dma, 2, 0x56, 0x1000, 3);
    let t = dma.write_to_memory(2, &mem, &[1, 2, 3, 4]);
    assert!(t.terminal_count);
    assert!(!dma.is_masked(2));
    assert_eq!(dma.channel(2).unwrap().cur_addr, 0x1000);
    assert_eq!(dma.remaining(2), 4);
    dma.write_to_memory(2, &mem, &[5, 6]);
    let mut b = [0u8; 4];
    mem.read_slice(&mut b, GuestAddress(0x1000)).unwrap();
    assert_eq!(b, [5, 6, 3, 4]);
}

#[test]
fn decrement_mode_goes_down() {
    let mem = ram(1 << 20);
    let mut dma = IsaDma::new();
    program(&mut dma, 1, 0x64, 0x2003, 3);
    dma.write_to_memory(1, &mem, &[1, 2, 3, 4]);
    let mut b = [0u8; 4];
    mem.read_slice(&mut b, GuestAddress(0x2000)).unwrap();
    assert_eq!(b, [4, 3, 2, 1]);
}

#[test]
fn masks_single_all_and_clear() {
    let mut dma = IsaDma::new();
    dma.write_port(0x0E, 0);
    assert!((0..4).all(|c| !dma.is_masked(c)));
    dma.write_port(0x0F, 0b0101);
    assert!(dma.is_masked(0) && !dma.is_masked(1) && dma.is_masked(2));
    assert_eq!(dma.read_port(0x0F) & 0x0F, 0b0101);
    dma.write_port(0x0A, 0x01 | 0x04);
    assert!(dma.is_masked(1));
    dma.write_port(0x0A, 0x00);
    assert!(!dma.is_masked(0));
    // Second controller: word-addressed ports.
    dma.write_port(0xDC, 0);
    assert!(!dma.is_masked(5));
    dma.write_port(0xD4, 0x04 | 1);
    assert!(dma.is_masked(5));
    dma.write_port(0xDE, 0x0F);
    assert!(dma.is_masked(4) && dma.is_masked(7));
    // Master clear masks everything again.
    dma.write_port(0x0E, 0);
    dma.write_port(0x0D, 0);
    assert!((0..4).all(|c| dma.is_masked(c)));
}

#[test]
fn status_request_bits_and_temp() {
    let mut dma = IsaDma::new();
    dma.write_port(0x09, 0x04 | 3);
    dma.set_dreq(2, true);
    assert_eq!(dma.read_port(0x08), 0xC0);
    dma.write_port(0x09, 3);
    dma.set_dreq(2, false);
    assert_eq!(dma.read_port(0x08), 0x00);
    assert_eq!(dma.read_port(0x0D), 0, "temporary register");
    // Controller disable (command bit 2) stops transfers.
    dma.write_port(0x0E, 0);
    dma.write_port(0x08, 0x04);
    assert!(!dma.is_ready(2));
}

#[test]
fn word_channel_counts_words_and_wraps_128k() {
    let mem = ram(1 << 20);
    let mut dma = IsaDma::new();
    dma.write_port(0xD4, 0x04 | 1); // mask ch5
    dma.write_port(0xD8, 0);
    dma.write_port(0xD6, 0x44 | 1); // single, write, ch5
                                    // Word address 0xFFFF of page 2: byte address 0x2_0000 + 0x1FFFE.
    dma.write_port(0xC4, 0xFF);
    dma.write_port(0xC4, 0xFF);
    dma.write_port(0x8B, 0x02);
    dma.write_port(0xC6, 1);
    dma.write_port(0xC6, 0);
    dma.write_port(0xD4, 1);
    assert_eq!(dma.remaining(5), 4);
    let t = dma.write_to_memory(5, &mem, &[1, 2, 3, 4, 5]);
    assert_eq!((t.bytes, t.terminal_count), (4, true));
    let mut b = [0u8; 2];
    mem.read_slice(&mut b, GuestAddress(0x3FFFE)).unwrap();
    assert_eq!(b, [1, 2]);
    mem.read_slice(&mut b, GuestAddress(0x20000)).unwrap();
    assert_eq!(b, [3, 4], "wrapped to the start of the 128 KiB page");
    assert_eq!(dma.read_port(0xD0) & 0x0F, 0x02, "TC of channel 5 (bit 1)");
}

#[test]
fn page_wrap_and_outside_ram() {
    let mem = ram(0x20000);
    let mut dma = IsaDma::new();
    program(&mut dma, 2, 0x46, 0x1FFFE, 3);
    dma.write_to_memory(2, &mem, &[1, 2, 3, 4]);
    let mut b = [0u8; 2];
    mem.read_slice(&mut b, GuestAddress(0x1FFFE)).unwrap();
    assert_eq!(b, [1, 2]);
    mem.read_slice(&mut b, GuestAddress(0x10000)).unwrap();
    assert_eq!(b, [3, 4], "wrapped inside the 64 KiB page, never into 0x20000");
    // A page beyond RAM: writes are dropped, reads give 0xFF.
    program(&mut dma, 2, 0x46, 0xFF_0000, 15);
    let t = dma.write_to_memory(2, &mem, &[9; 16]);
    assert_eq!(t.bytes, 16);
    program(&mut dma, 2, 0x4A, 0xFF_0000, 15);
    let mut buf = [0u8; 16];
    dma.read_from_memory(2, &mem, &mut buf);
    assert_eq!(buf, [0xFF; 16]);
}

#[test]
fn verify_and_mismatched_modes_touch_no_memory() {
    let mem = ram(1 << 20);
    let mut dma = IsaDma::new();
    program(&mut dma, 2, 0x42, 0x3000, 3); // verify
    let t = dma.write_to_memory(2, &mem, &[7; 4]);
    assert!(t.terminal_count);
    program(&mut dma, 2, 0x4A, 0x3000, 3); // read-from-memory mode, device writes
    dma.write_to_memory(2, &mem, &[7; 4]);
    let mut b = [1u8; 4];
    mem.read_slice(&mut b, GuestAddress(0x3000)).unwrap();
    assert_eq!(b, [0; 4]);
}
