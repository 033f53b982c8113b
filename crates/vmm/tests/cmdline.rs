//! The command line end to end: QEMU's spellings in, a placed and named
//! `MachineConfig` out, one-line errors for everything wrong.

use std::path::PathBuf;

use ironide_block::driver::CacheMode;
use ironide_block::layer::{ChildSpec, DriverSpec};
use ironide_block::throttle::BucketKind;
use ironide_vmm::cmdline::{parse, CmdlineError};
use ironide_vmm::config::*;
use proptest::prelude::*;

fn args(s: &str) -> Vec<String> {
    s.split_whitespace().map(String::from).collect()
}

fn ok(s: &str) -> MachineConfig {
    match parse(&args(s)) {
        Ok(c) => c,
        Err(e) => panic!("{s}: {e}"),
    }
}

fn err(s: &str) -> String {
    match parse(&args(s)) {
        Ok(_) => panic!("{s}: accepted"),
        Err(e) => e.to_string(),
    }
}

/// (backend name, cdrom, qdev id) of an IDE slot.
fn ide(c: &MachineConfig, bus: usize, unit: usize) -> Option<(String, bool, Option<String>)> {
    let p = c.layout.ide[bus][unit].as_ref()?;
    let name = p.backend.map(|b| c.layout.backends[b].name.clone()).unwrap_or_default();
    Some((name, p.cdrom, p.qdev_id.clone()))
}

fn backend<'a>(c: &'a MachineConfig, p: &IdePlan) -> &'a BackendPlan {
    &c.layout.backends[p.backend.expect("backend")]
}

fn floppy_name(c: &MachineConfig, unit: usize) -> Option<String> {
    let p = c.layout.floppy[unit].as_ref()?;
    Some(c.layout.backends[p.backend?].name.clone())
}

fn s(x: &str) -> String {
    x.to_string()
}

#[test]
fn side_by_side_command_line_of_guest_images() {
    let c = ok("-machine pc,accel=kvm -cpu qemu64 -m 128 -bios /usr/share/seabios/bios.bin -nodefaults \
                -display none -serial file:serial.log -drive file=hd.img,if=ide,index=0,format=raw \
                -device isa-debug-exit,iobase=0xf4,iosize=0x04 -no-reboot -qmp unix:qmp.sock,server=on,wait=off");
    assert_eq!(c.accel, Accel::Kvm);
    assert_eq!(c.ram_bytes, 128 << 20);
    assert_eq!(c.bios, Some(PathBuf::from("/usr/share/seabios/bios.bin")));
    assert!(c.nodefaults && c.no_reboot && !c.demo);
    assert_eq!(c.layout.serial, Some(CharBackend::File("serial.log".into())));
    assert_eq!(ide(&c, 0, 0), Some((s("ide0-hd0"), false, None)));
    assert!(ide(&c, 0, 1).is_none() && ide(&c, 1, 0).is_none() && ide(&c, 1, 1).is_none());
    assert!(c.layout.floppy.iter().all(|f| f.is_none()));
    assert_eq!(c.layout.debug_exit, Some(DebugExitPlan { iobase: 0xf4, iosize: 4 }));
    assert_eq!(c.qmp, [QmpConfig { path: "qmp.sock".into(), server: true, wait: false }]);
    let b = &c.layout.backends[0];
    let m = b.medium.as_ref().unwrap();
    assert!(matches!(&m.driver, DriverSpec::Raw { file: ChildSpec::Inline(f), .. }
        if matches!(&f.driver, DriverSpec::File { filename, .. } if filename == &PathBuf::from("hd.img"))));
    assert_eq!(
        (b.werror, b.rerror, b.cache, b.write_cache),
        (ErrorAction::Enospc, ErrorAction::Report, CacheMode::Writeback, true)
    );
    // QEMU's own spelling of the boot-menu comparison.
    let c = ok("-M pc -boot menu=on,splash-time=2500 -nodefaults");
    assert_eq!((c.boot.menu, c.boot.splash_time_ms), (Some(true), Some(2500)));
}

#[test]
fn libqtest_command_line() {
    let c = ok("-qtest unix:/tmp/qt.sock -qtest-log /dev/null -chardev socket,path=/tmp/qmp.sock,id=char0 \
                -mon chardev=char0,mode=control -display none -machine accel=qtest -accel qtest");
    assert_eq!(c.accel, Accel::Qtest);
    assert_eq!(c.qtest, Some(PathBuf::from("/tmp/qt.sock")));
    assert_eq!(c.qtest_log, Some(PathBuf::from("/dev/null")));
    assert_eq!(c.qmp, [QmpConfig { path: "/tmp/qmp.sock".into(), server: false, wait: false }]);
    assert!(!c.demo);
    let c = ok("-qtest unix:/q -qtest-log none -qmp unix:/a -qmp unix:/b,server,nowait");
    assert_eq!(c.qtest_log, None);
    assert_eq!(c.qmp.len(), 2);
    assert!(!c.qmp[0].server && c.qmp[1].server && !c.qmp[1].wait);
}

#[test]
fn defaults_without_and_with_nodefaults() {
    let c = ok("");
    assert!(c.demo);
    assert_eq!((c.ram_bytes, c.smp, c.accel), (128 << 20, 1, Accel::Kvm));
    // pc's defaults: an empty CD-ROM at ide1 master, an empty floppy A, COM1.
    assert_eq!(ide(&c, 1, 0), Some((s("ide1-cd0"), true, None)));
    let cd = c.layout.ide[1][0].as_ref().unwrap();
    assert!(backend(&c, cd).medium.is_none() && backend(&c, cd).read_only);
    assert_eq!(floppy_name(&c, 0).as_deref(), Some("floppy0"));
    assert!(c.layout.floppy[1].is_none());
    assert_eq!(c.layout.serial, Some(CharBackend::Null));
    assert_eq!(c.layout.fdc_fallback, FloppyDriveType::D288);
    assert_eq!(c.boot.order, [BootDevice::Disk, BootDevice::Floppy, BootDevice::Cdrom]);
    assert_eq!(ok("-nographic").layout.serial, Some(CharBackend::Stdio));

    let c = ok("-nodefaults");
    assert!(c.layout.backends.is_empty());
    assert!(c.layout.ide.iter().flatten().all(|s| s.is_none()));
    assert!(c.layout.floppy.iter().all(|s| s.is_none()));
    assert_eq!(c.layout.serial, None);
    assert_eq!(ok("-nodefaults -serial stdio").layout.serial, Some(CharBackend::Stdio));
    assert_eq!(ok("-serial none").layout.serial, None);

    // The default CD-ROM only takes a free ide1 master.
    let c = ok("-hdc c.img");
    assert_eq!(ide(&c, 1, 0), Some((s("ide1-hd0"), false, None)));
    assert_eq!(c.layout.backends.iter().filter(|b| b.name == "ide1-cd0").count(), 0);
    // Any IDE -device turns it off; any floppy -device the default floppy.
    let c = ok("-drive if=none,id=d,file=x -device ide-hd,drive=d,bus=ide.0");
    assert!(ide(&c, 1, 0).is_none());
    assert_eq!(floppy_name(&c, 0).as_deref(), Some("floppy0"));
    let c = ok("-device floppy,unit=1");
    assert!(c.layout.floppy[0].is_none() && c.layout.floppy[1].is_some());
    assert_eq!(ide(&c, 1, 0), Some((s("ide1-cd0"), true, None)));
}

#[test]
fn drive_index_bus_unit_and_names() {
    let c =
        ok("-nodefaults -drive file=a,index=0 -drive file=b,index=1 -drive media=cdrom,index=2 -drive file=d,index=3");
    assert_eq!(ide(&c, 0, 0), Some((s("ide0-hd0"), false, None)));
    assert_eq!(ide(&c, 0, 1), Some((s("ide0-hd1"), false, None)));
    assert_eq!(ide(&c, 1, 0), Some((s("ide1-cd0"), true, None)));
    assert_eq!(ide(&c, 1, 1), Some((s("ide1-hd1"), false, None)));

    // First free slot, spilling onto the next bus; explicit bus/unit.
    let c = ok("-nodefaults -drive file=a,index=1 -drive file=b -drive file=c -drive file=d,bus=1,unit=1");
    assert_eq!(ide(&c, 0, 1).unwrap().0, "ide0-hd1");
    assert_eq!(ide(&c, 0, 0).unwrap().0, "ide0-hd0");
    assert_eq!(ide(&c, 1, 0).unwrap().0, "ide1-hd0");
    assert_eq!(ide(&c, 1, 1).unwrap().0, "ide1-hd1");
    assert_eq!(c.layout.backends[1].name, "ide0-hd0");
    let c = ok("-nodefaults -drive file=a,bus=1");
    assert_eq!(ide(&c, 1, 0).unwrap().0, "ide1-hd0");

    // ids name the backend.
    let c = ok("-nodefaults -drive file=a,id=sys,if=ide,index=2 -drive if=floppy,file=f.img,id=fl");
    assert_eq!(ide(&c, 1, 0).unwrap().0, "sys");
    assert_eq!(floppy_name(&c, 0).as_deref(), Some("fl"));

    // Floppies and the shorthands.
    let c = ok("-fda a.img -fdb b.img -hda h.img -hdb i.img -cdrom cd.iso -hdd j.img");
    assert_eq!(floppy_name(&c, 0).as_deref(), Some("floppy0"));
    assert_eq!(floppy_name(&c, 1).as_deref(), Some("floppy1"));
    assert_eq!(ide(&c, 0, 0).unwrap().0, "ide0-hd0");
    assert_eq!(ide(&c, 0, 1).unwrap().0, "ide0-hd1");
    assert_eq!(ide(&c, 1, 0), Some((s("ide1-cd0"), true, None)));
    assert_eq!(ide(&c, 1, 1).unwrap().0, "ide1-hd1");
    let c = ok("-nodefaults -drive if=floppy,file=x -drive if=floppy");
    assert_eq!(floppy_name(&c, 1).as_deref(), Some("floppy1"));
    let fl = c.layout.floppy[1].as_ref().unwrap();
    assert!(c.layout.backends[fl.backend.unwrap()].medium.is_none());
    // A lone word is -hda.
    let c = ok("-nodefaults disk.img");
    assert_eq!(ide(&c, 0, 0).unwrap().0, "ide0-hd0");
}

#[test]
fn devices_drives_and_blockdev_nodes() {
    let c = ok("-nodefaults -drive if=none,id=drv0,file=a.img -device ide-hd,drive=drv0,id=disk0");
    assert_eq!(ide(&c, 0, 0), Some((s("drv0"), false, Some(s("disk0")))));

    let c = ok("-nodefaults -blockdev driver=file,node-name=f0,filename=a.img \
                -blockdev driver=raw,node-name=r0,file=f0,read-only=on \
                -device ide-hd,drive=r0,bus=ide.1,unit=1,id=d1,serial=SER,model=MOD,cyls=100,heads=16,secs=63,\
bios-chs-trans=none,write-cache=off,wwn=0x1234,discard_granularity=512");
    assert_eq!(c.layout.blockdevs.len(), 2);
    let p = c.layout.ide[1][1].as_ref().unwrap();
    let b = backend(&c, p);
    assert_eq!((b.name.as_str(), b.node.as_deref(), b.medium.is_none(), b.read_only), ("", Some("r0"), true, true));
    assert_eq!((p.qdev_id.as_deref(), p.serial.as_deref(), p.model.as_deref()), (Some("d1"), Some("SER"), Some("MOD")));
    assert_eq!(
        (p.chs, p.trans, p.write_cache, p.wwn),
        (Some((100, 16, 63)), BiosChsTrans::None, Some(false), Some(0x1234))
    );
    assert_eq!(p.discard_granularity, Some(512));

    // An ide-cd with neither unit nor drive takes the first free unit, empty.
    let c = ok("-nodefaults -hda a.img -device ide-cd,bus=ide.0,id=cd0");
    assert_eq!(ide(&c, 0, 1), Some((s(""), true, Some(s("cd0")))));
    let cd = c.layout.ide[0][1].as_ref().unwrap();
    assert!(backend(&c, cd).medium.is_none() && backend(&c, cd).node.is_none());
    // Without bus either: the first free slot anywhere.
    let c = ok("-nodefaults -hda a -hdb b -device ide-cd");
    assert!(ide(&c, 1, 0).unwrap().1);

    // An empty floppy drive reached by its qdev id.
    let c = ok("-nodefaults -device floppy,id=floppy0,drive-type=144");
    let f = c.layout.floppy[0].as_ref().unwrap();
    assert_eq!((f.qdev_id.as_deref(), f.drive_type), (Some("floppy0"), FloppyDriveType::D144));
    assert!(c.layout.backends[f.backend.unwrap()].medium.is_none());
    let c =
        ok("-nodefaults -drive if=none,id=fd,file=f.img -device floppy,drive=fd,unit=1 -global isa-fdc.fallback=144");
    assert_eq!(floppy_name(&c, 1).as_deref(), Some("fd"));
    assert_eq!(c.layout.fdc_fallback, FloppyDriveType::D144);
    // A media=cdrom if=none drive behind an ide-cd.
    let c = ok("-nodefaults -drive if=none,id=c,media=cdrom -device ide-cd,drive=c,bus=ide.1,unit=0");
    assert_eq!(ide(&c, 1, 0), Some((s("c"), true, Some(s("/machine/peripheral-anon/device[0]")))));
    // An unused if=none drive still makes a backend.
    let c = ok("-nodefaults -drive if=none,id=spare,file=s.img");
    assert_eq!(c.layout.backends[0].name, "spare");
}

#[test]
fn debugcon_serial_chardev_objects_kernel() {
    let c = ok("-chardev file,id=dbg,path=/tmp/bios.log -device isa-debugcon,iobase=0x402,chardev=dbg \
                -serial chardev:dbg -name vm0 -smp cpus=1 -no-shutdown -no-user-config -vga none \
                -object pr-manager-helper,id=pr0,path=/run/pr.sock -object throttle-group,id=tg,x-bps-total=1000000");
    assert_eq!(c.layout.debugcon, Some(DebugconPlan { iobase: 0x402, out: CharBackend::File("/tmp/bios.log".into()) }));
    assert_eq!(c.layout.serial, Some(CharBackend::File("/tmp/bios.log".into())));
    assert_eq!(c.name.as_deref(), Some("vm0"));
    assert!(c.no_shutdown);
    assert_eq!(c.layout.pr_managers, [PrManagerPlan { id: s("pr0"), path: "/run/pr.sock".into() }]);
    assert_eq!(c.layout.throttle_groups[0].0, "tg");
    assert_eq!(c.layout.throttle_groups[0].1.limit(BucketKind::BpsTotal).avg, 1_000_000);

    let c = parse(&[s("-kernel"), s("bzImage"), s("-initrd"), s("initrd.gz"), s("-append"), s("console=ttyS0 -v")])
        .unwrap();
    assert_eq!(c.kernel, Some(PathBuf::from("bzImage")));
    assert_eq!(c.initrd, Some(PathBuf::from("initrd.gz")));
    assert_eq!(c.append.as_deref(), Some("console=ttyS0 -v"));
    assert!(!c.demo);
    assert_eq!(err("-append x"), "-append x: only allowed with -kernel");
    assert_eq!(err("-initrd x"), "-initrd x: only allowed with -kernel");
}

#[test]
fn throttling_reaches_the_backend() {
    let c = ok("-nodefaults -drive file=a,throttling.iops-total=100,throttling.iops-total-max=200,\
throttling.iops-total-max-length=5,throttling.iops-size=4096,throttling.group=g,cache=none,aio=threads");
    let b = &c.layout.backends[0];
    let (cfg, group) = b.throttle.as_ref().unwrap();
    assert_eq!((cfg.limit(BucketKind::IopsTotal).max, cfg.limit(BucketKind::IopsTotal).max_length), (200, 5));
    assert_eq!((cfg.iops_size, group.as_deref()), (4096, Some("g")));
    assert_eq!((b.cache, b.aio), (CacheMode::None, ironide_block::engine::AioMode::Threads));
    // A group alone is ignored on -drive, as QEMU.
    assert!(ok("-nodefaults -drive file=a,throttling.group=g").layout.backends[0].throttle.is_none());
    assert_eq!(
        err("-drive file=a,throttling.bps-total=1,throttling.bps-write=2"),
        "-drive file=a,throttling.bps-total=1,throttling.bps-write=2: \
         bps/iops/max total values and read/write values cannot be used at the same time"
    );
    assert!(err("-object throttle-group,id=g,x-iops-total=1,x-iops-total-max=0,x-iops-total-max-length=3")
        .ends_with("burst length set without burst rate"));
}

#[test]
fn comma_escaping() {
    let c = ok("-nodefaults -drive file=my,,disk.img,if=ide -qmp unix:/tmp/a,,b,server=on,wait=off");
    let m = c.layout.backends[0].medium.as_ref().unwrap();
    let DriverSpec::Raw { file: ChildSpec::Inline(f), .. } = &m.driver else { panic!("raw") };
    assert!(matches!(&f.driver, DriverSpec::File { filename, .. } if filename == &PathBuf::from("my,disk.img")));
    assert_eq!(c.qmp[0].path, PathBuf::from("/tmp/a,b"));
    // The shorthand takes its file name literally.
    let c = ok("-nodefaults -hda a,b.img");
    let m = c.layout.backends[0].medium.as_ref().unwrap();
    let DriverSpec::Raw { file: ChildSpec::Inline(f), .. } = &m.driver else { panic!("raw") };
    assert!(matches!(&f.driver, DriverSpec::File { filename, .. } if filename == &PathBuf::from("a,b.img")));
}

#[test]
fn json_blockdev() {
    let json = r#"{"driver":"raw","node-name":"disk0","read-only":true,"file":{"driver":"file","filename":"/img/a.img","aio":"threads"},"cache":{"direct":true,"no-flush":false}}"#;
    let c = parse(&[s("-nodefaults"), s("-blockdev"), s(json), s("-device"), s("ide-hd,drive=disk0")]).unwrap();
    let n = &c.layout.blockdevs[0];
    assert_eq!((n.node_name.as_deref(), n.read_only, n.direct), (Some("disk0"), true, true));
    let b = &c.layout.backends[0];
    assert_eq!((b.node.as_deref(), b.cache), (Some("disk0"), CacheMode::None));
    let bad = r#"{"driver":"qcow2","node-name":"x"}"#;
    let e = parse(&[s("-blockdev"), s(bad)]).unwrap_err().to_string();
    assert_eq!(e, format!("-blockdev {bad}: Parameter 'driver' does not accept value 'qcow2'"));
    let c = ok("-nodefaults -blockdev driver=null-co,node-name=z,size=1G,read-zeroes=on -device ide-cd,drive=z");
    assert!(matches!(c.layout.blockdevs[0].driver, DriverSpec::Null { size, read_zeroes: true } if size == 1 << 30));
}

#[test]
fn double_dash_and_demo_detection() {
    let c = ok("--nodefaults --m 64M --machine pc --drive file=a");
    assert_eq!(c.ram_bytes, 64 << 20);
    assert!(!c.demo && c.nodefaults);
    for a in
        ["-m 1G -display none -nographic -name x -serial stdio", "-qmp unix:/q,server=on,wait=off", "-M pc -cpu host"]
    {
        assert!(ok(a).demo, "{a}");
    }
    for a in [
        "-hda x",
        "-cdrom x",
        "-fda x",
        "-blockdev driver=null-co,node-name=n",
        "-device isa-debug-exit",
        "-kernel k",
        "-qtest unix:/q",
        "-drive if=none",
    ] {
        assert!(!ok(a).demo, "{a}");
    }
}

#[test]
fn every_error_class() {
    // Options.
    assert_eq!(err("-foo"), "invalid option: -foo");
    assert_eq!(err("--foo"), "invalid option: --foo");
    assert_eq!(err("-m"), "-m: requires an argument");
    assert_eq!(err("-drive"), "-drive: requires an argument");
    // Sub-options.
    assert_eq!(err("-drive file=x,if=scsi"), "-drive file=x,if=scsi: invalid if= value 'scsi'");
    assert_eq!(err("-drive file=x,colour=red"), "-drive file=x,colour=red: invalid parameter 'colour'");
    assert_eq!(
        err("-drive file=x,readonly=2"),
        "-drive file=x,readonly=2: parameter 'readonly' expects 'on' or 'off', not '2'"
    );
    assert_eq!(
        err("-drive file=x,index=one"),
        "-drive file=x,index=one: parameter 'index' expects a number, not 'one'"
    );
    assert_eq!(err("-m 12Q"), "-m 12Q: invalid RAM size '12Q'");
    assert_eq!(
        err("-blockdev driver=null-co,node-name=n,size=huge"),
        "-blockdev driver=null-co,node-name=n,size=huge: Parameter 'size' expects a number, not 'huge'"
    );
    assert_eq!(err("-device isa-debugcon"), "-device isa-debugcon: parameter 'chardev' is missing");
    assert_eq!(err("-device nvme"), "-device nvme: 'nvme' is not a valid device model name");
    // Placement.
    assert_eq!(err("-hda a -drive file=b,index=0"), "-drive file=b,index=0: drive with bus=0, unit=0 (index=0) exists");
    assert_eq!(err("-drive file=b,index=4"), "-drive file=b,index=4: index 4 out of range (0 to 3)");
    assert_eq!(
        err("-drive file=b,if=floppy,index=2"),
        "-drive file=b,if=floppy,index=2: index 2 out of range (0 to 1)"
    );
    assert_eq!(err("-drive file=b,bus=2"), "-drive file=b,bus=2: bus 2 too big (max is 1)");
    assert_eq!(err("-drive file=b,unit=2"), "-drive file=b,unit=2: unit 2 too big (max is 1)");
    assert_eq!(err("-drive file=b,if=floppy,bus=1"), "-drive file=b,if=floppy,bus=1: bus 1 too big (max is 0)");
    assert_eq!(
        err("-nodefaults -hda a -hdb b -hdc c -hdd d -drive file=e"),
        "-drive file=e: no free slot left for this drive"
    );
    assert_eq!(err("-drive file=a,id=x -drive file=b,id=x"), "-drive file=b,id=x: Duplicate ID 'x' for drive");
    assert_eq!(err("-drive if=ide"), "-drive if=ide: Device needs media, but drive is empty");
    assert_eq!(err("-device ide-hd,drive=nope"), "-device ide-hd,drive=nope: Property 'drive' can't find value 'nope'");
    assert_eq!(
        err("-hda a -device ide-hd,drive=ide0-hd0"),
        "-device ide-hd,drive=ide0-hd0: Property 'drive' can't take value 'ide0-hd0', it's in use"
    );
    assert_eq!(
        err("-drive if=none,id=d,file=a -device ide-hd,drive=d -device ide-cd,drive=d"),
        "-device ide-cd,drive=d: Property 'drive' can't take value 'd', it's in use"
    );
    assert_eq!(
        err("-drive if=none,id=d -device ide-hd,drive=d"),
        "-device ide-hd,drive=d: Device needs media, but drive is empty"
    );
    assert_eq!(err("-device ide-hd"), "-device ide-hd: drive property not set (ide-hd needs a drive)");
    assert_eq!(
        err("-hda a -device ide-cd,bus=ide.0,unit=0"),
        "-device ide-cd,bus=ide.0,unit=0: IDE unit 0 on bus ide.0 is in use"
    );
    assert_eq!(err("-hda a -hdb b -device ide-cd,bus=ide.0"), "-device ide-cd,bus=ide.0: IDE bus ide.0 is full");
    assert_eq!(err("-device ide-cd,bus=ide.3"), "-device ide-cd,bus=ide.3: Bus 'ide.3' not found");
    assert_eq!(err("-fda a -device floppy,unit=0"), "-device floppy,unit=0: Floppy unit 0 is in use");
    assert_eq!(err("-device ide-cd,id=a -device floppy,id=a"), "-device floppy,id=a: Duplicate ID 'a' for device");
    assert_eq!(
        err("-blockdev driver=null-co,node-name=n -blockdev driver=null-co,node-name=n"),
        "-blockdev driver=null-co,node-name=n: Duplicate nodes with node-name='n'"
    );
    assert_eq!(
        err("-drive if=none,id=n -blockdev driver=null-co,node-name=n"),
        "-blockdev driver=null-co,node-name=n: node-name=n is conflicting with a device id"
    );
    assert_eq!(err("-device isa-debugcon,chardev=c"), "-device isa-debugcon,chardev=c: chardev 'c' not found");
    assert_eq!(err("-mon chardev=c,mode=control"), "-mon chardev=c,mode=control: chardev 'c' not found");
    assert_eq!(
        err("-serial pty"),
        "-serial pty: character device 'pty' is not supported (use stdio, null, none or file:PATH)"
    );
    assert_eq!(err("-serial null -serial stdio"), "-serial stdio: only one -serial (COM1) is supported");
    assert_eq!(err("-display gtk"), "-display gtk: display 'gtk' is not supported (only none)");
    assert_eq!(err("-vga std"), "-vga std: VGA 'std' is not supported (only none)");
    assert_eq!(
        err("-object memory-backend-ram,id=m"),
        "-object memory-backend-ram,id=m: invalid object type: memory-backend-ram"
    );
    assert_eq!(err("-object pr-manager-helper,id=p"), "-object pr-manager-helper,id=p: parameter 'path' is missing");
    assert_eq!(err("-global isa-fdc.fallback=999"), "-global isa-fdc.fallback=999: invalid fallback= value '999'");
    assert_eq!(err("-qtest tcp:1"), "-qtest tcp:1: expected unix:PATH");
    assert_eq!(err("-accel tcg"), "-accel tcg: accelerator 'tcg' is not supported (kvm or qtest)");
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    /// Random argument vectors, built from real option names, real
    /// sub-option keys and junk, never panic.
    #[test]
    fn never_panics(words in prop::collection::vec(word(), 0..12)) {
        let _ = parse(&words);
    }
}

fn word() -> impl Strategy<Value = String> {
    let opts = prop::sample::select(vec![
        "-drive",
        "-device",
        "-blockdev",
        "-hda",
        "-cdrom",
        "-fda",
        "-m",
        "-smp",
        "-machine",
        "-accel",
        "-serial",
        "-chardev",
        "-mon",
        "-qmp",
        "-qtest",
        "-boot",
        "-global",
        "-object",
        "-nodefaults",
        "-nographic",
        "-kernel",
        "-initrd",
        "-append",
        "--drive",
        "-",
        "--",
        "-display",
    ]);
    let keys = prop::sample::select(vec![
        "file=",
        "if=",
        "index=",
        "bus=",
        "unit=",
        "media=",
        "id=",
        "drive=",
        "node-name=",
        "driver=",
        "filename=",
        "file.",
        "throttling.bps-total=",
        "throttling.iops-size=",
        "cache=",
        "aio=",
        "ide-hd,",
        "ide-cd,",
        "floppy,",
        "isa-debugcon,",
        "unix:",
        "server",
        "nowait",
        "chardev=",
        "{\"driver\":",
        "rules.0.iotype=",
        "read-only=",
        "size=",
        "cyls=",
        "wwn=",
        "ide.",
        "0x",
        ",,",
        ",",
        "=",
    ]);
    let junk = "[a-z0-9.,=:{}\"/-]{0,12}";
    prop_oneof![
        2 => opts.prop_map(String::from),
        2 => (prop::collection::vec((keys, junk), 1..5)).prop_map(|v| v.into_iter().map(|(k, j)| format!("{k}{j}")).collect::<Vec<_>>().join(",")),
        1 => junk.prop_map(String::from),
        1 => any::<String>(),
    ]
}

#[test]
fn error_type_is_cloneable_and_comparable() {
    let e = parse(&args("-foo")).unwrap_err();
    assert_eq!(e.clone(), CmdlineError::UnknownOption(s("-foo")));
}

#[test]
fn dash_s_starts_paused() {
    assert!(ok("-S -hda x.img").start_paused);
    assert!(!ok("-hda x.img").start_paused);
    assert!(err("-S=1").contains("-S=1"));
}
