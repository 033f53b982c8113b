//! GRUB 2 (i386-pc, from grub-mkrescue) booted by SeaBIOS from an El Torito CD: it lists the
//! drives it sees through INT 13h and checksums files read through them; the host compares the
//! checksums with its own. grub.cfg talks on COM1 and ends through isa-debug-exit.

use firmware_tests::{grub, run_dir, Emulator, Outcome, Run};
use std::path::Path;
use std::time::Duration;

/// GRUB's protected-mode code (LZMA decompression, module loading) is slow on the nested
/// development KVM: about 20 s to the first line on an idle host, over 60 s when other work
/// shares its two cores.
const TIMEOUT: Duration = Duration::from_secs(180);
/// Loaded up front: without them GRUB probes an unknown partition by loading every file-system
/// module from the CD in turn, which takes minutes on the nested development KVM.
const FS_MODULES: &str = "insmod part_msdos\ninsmod fat\n";
/// 8 MiB disk: FAT partition from 1 MiB.
const HD_SECTORS: u64 = 16384;

fn boot(emu: &Emulator, test: &str, cd: &Path, hd: &Path) -> Outcome {
    let dir = run_dir(test).expect("run dir");
    let run =
        Run::new().drive(cd, "if=ide,index=2,media=cdrom,format=raw").drive(hd, "if=ide,index=0,format=raw").boot("d");
    let out = emu.run(&dir, &run.args, TIMEOUT).expect("run");
    grub::assert_ran(&out);
    out
}

#[test]
fn cd_biosdisk_lists_drives_and_reads_a_file() {
    let test = "grub_cd_biosdisk";
    let Some(emu) = grub::emulator_or_skip(test) else { return };
    let data = grub::pattern(16 * 1024, 0x1d0e);
    let cfg = grub::config(
        "echo LS-BEGIN\nls\necho LS-END\n\
         hashsum --hash sha256 (cd)/data.bin\necho HASH-END",
    )
    .expect("grub.cfg");
    let cd = grub::rescue_cd(&cfg, &[("data.bin", &data)]).expect("rescue CD");
    let hd = grub::fat_disk(HD_SECTORS, &[]).expect("hard disk");
    let out = boot(&emu, test, &cd, &hd);

    let ls = grub::between(&out.serial, "LS-BEGIN", "LS-END").unwrap_or_default();
    for drive in ["(hd0)", "(hd0,msdos1)", "(cd)"] {
        assert!(ls.split_whitespace().any(|d| d == drive), "`ls` lacks {drive}: `{ls}`\n{out}");
    }
    let hash = grub::between(&out.serial, "LS-END", "HASH-END").unwrap_or_default();
    let want = grub::host_sha256(&data, "cd-data.bin").expect("host sha256");
    assert_eq!(hash, format!("{want} (cd)/data.bin"), "GRUB's sha256 of (cd)/data.bin\n{out}");
}

#[test]
fn hd_fat_file_read_through_biosdisk() {
    let test = "grub_hd_fat_biosdisk";
    let Some(emu) = grub::emulator_or_skip(test) else { return };
    let data = grub::pattern(16 * 1024, 0x4a7d);
    let cfg = grub::config(
        &(FS_MODULES.to_string() + "echo HASH-BEGIN\nhashsum --hash sha256 (hd0,msdos1)/data.bin\necho HASH-END"),
    )
    .expect("grub.cfg");
    let cd = grub::rescue_cd(&cfg, &[]).expect("rescue CD");
    let hd = grub::fat_disk(HD_SECTORS, &[("data.bin", &data)]).expect("hard disk");
    let out = boot(&emu, test, &cd, &hd);
    let hash = grub::between(&out.serial, "HASH-BEGIN", "HASH-END").unwrap_or_default();
    let want = grub::host_sha256(&data, "hd-data.bin").expect("host sha256");
    assert_eq!(hash, format!("{want} (hd0,msdos1)/data.bin"), "GRUB's sha256 of the FAT file\n{out}");
}

/// Loading pata takes the IDE controller from the BIOS: biosdisk, and with it (cd) and the
/// module directory, disappear. Every module the rest of grub.cfg needs is loaded first.
const NATIVE_PRELOAD: &str = "insmod part_msdos\ninsmod fat\ninsmod iso9660\ninsmod gcry_sha256\ninsmod hashsum\n\
                              insmod ls\ninsmod echo\ninsmod iorw\ninsmod pata\n";

#[test]
fn native_pata_driver_finds_the_drives_and_reads_both() {
    let test = "grub_native_pata";
    let Some(emu) = grub::emulator_or_skip(test) else { return };
    let cd_data = grub::pattern(16 * 1024, 0x0a7a);
    let hd_data = grub::pattern(16 * 1024, 0x9a7a);
    let cfg = grub::config(&format!(
        "{NATIVE_PRELOAD}echo LS-BEGIN\nls\necho LS-END\n\
         hashsum --hash sha256 (ata0,msdos1)/data.bin\necho HD-END\n\
         hashsum --hash sha256 (ata2)/data.bin\necho CD-END"
    ))
    .expect("grub.cfg");
    let cd = grub::rescue_cd(&cfg, &[("data.bin", &cd_data)]).expect("rescue CD");
    let hd = grub::fat_disk(HD_SECTORS, &[("data.bin", &hd_data)]).expect("hard disk");
    let out = boot(&emu, test, &cd, &hd);

    // Primary master disk and secondary master ATAPI CD, found by GRUB's own PIO driver.
    let ls = grub::between(&out.serial, "LS-BEGIN", "LS-END").unwrap_or_default();
    for drive in ["(ata0)", "(ata0,msdos1)", "(ata2)"] {
        assert!(ls.split_whitespace().any(|d| d == drive), "`ls` lacks {drive}: `{ls}`\n{out}");
    }
    let hd_hash = grub::between(&out.serial, "LS-END", "HD-END").unwrap_or_default();
    let want = grub::host_sha256(&hd_data, "pata-hd-data.bin").expect("host sha256");
    assert_eq!(hd_hash, format!("{want} (ata0,msdos1)/data.bin"), "sha256 through pata (disk)\n{out}");
    let cd_hash = grub::between(&out.serial, "HD-END", "CD-END").unwrap_or_default();
    let want = grub::host_sha256(&cd_data, "pata-cd-data.bin").expect("host sha256");
    assert_eq!(cd_hash, format!("{want} (ata2)/data.bin"), "sha256 through pata (ATAPI CD)\n{out}");
}
