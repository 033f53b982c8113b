//! INT 13h AH=03h writes reach the image: the `write` guest writes three sectors at
//! C/H/S 0/1/1 (LBA 63), reads them back through the BIOS, and the host checks the file.

use firmware_tests::{emulator::DEFAULT_TIMEOUT, guest, image, run_dir, Emulator, Run};

#[test]
fn int13_write_reaches_the_image() {
    let test = "int13_write";
    let Some(emu) = Emulator::or_skip(test) else { return };
    let dir = run_dir(test).expect("run dir");
    let boot = guest::boot_sector("write").expect("write guest");
    let fd = dir.join("fd.img");
    let hd = dir.join("hd.img");
    image::floppy(&fd, &boot).expect("floppy image");
    image::disk(&hd, image::DISK_60_16_63_SECTORS, &[]).expect("disk image");
    let run = Run::new().drive(&fd, "if=floppy,index=0,format=raw").drive(&hd, "if=ide,index=0,format=raw").boot("a");
    let out = emu.run(&dir, &run.args, DEFAULT_TIMEOUT).expect("run");
    assert!(out.has_line("WRITE OK"), "guest did not report success\n{out}");
    assert_eq!(out.guest_exit(), Some(0), "guest exit\n{out}");

    let data = image::read_sectors(&hd, 63, 3).expect("read back");
    for (k, byte) in data.iter().enumerate() {
        let (n, i) = (k / 512, k % 512);
        let want = ((i + 3 * n) as u8) ^ 0x5a;
        assert_eq!(*byte, want, "sector {} byte {i}", 63 + n);
    }
    // Nothing around the written range changed.
    let before = image::read_sectors(&hd, 62, 1).expect("read back");
    let after = image::read_sectors(&hd, 66, 1).expect("read back");
    assert!(before.iter().chain(after.iter()).all(|&b| b == 0), "neighbouring sectors written");
}
