//! fw_cfg read the way SeaBIOS reads it: signature, ID, numbered items,
//! the file directory and "etc/e820".

use ironide_dev_platform::testing::TestEnv;
use ironide_dev_platform::{E820Entry, FwCfg, PioDevice};

struct Reader<'a> {
    f: &'a mut FwCfg,
    env: TestEnv,
}

impl Reader<'_> {
    fn select(&mut self, key: u16) {
        self.f.pio_write(0x510, &key.to_le_bytes(), &mut self.env.ctx());
    }

    /// `rep insb` from 0x511: one access of many bytes.
    fn read(&mut self, len: usize) -> Vec<u8> {
        let mut v = vec![0xAA; len];
        self.f.pio_read(0x511, &mut v, &mut self.env.ctx());
        v
    }

    fn item(&mut self, key: u16, len: usize) -> Vec<u8> {
        self.select(key);
        self.read(len)
    }

    /// SeaBIOS's directory walk: (name, key, size).
    fn dir(&mut self) -> Vec<(String, u16, u32)> {
        self.select(0x19);
        let count = u32::from_be_bytes(self.read(4).try_into().unwrap());
        (0..count)
            .map(|_| {
                let e = self.read(64);
                let size = u32::from_be_bytes(e[0..4].try_into().unwrap());
                let key = u16::from_be_bytes(e[4..6].try_into().unwrap());
                let name = e[8..].split(|&b| b == 0).next().unwrap();
                (String::from_utf8(name.to_vec()).unwrap(), key, size)
            })
            .collect()
    }

    fn file(&mut self, name: &str) -> Option<Vec<u8>> {
        let (_, key, size) = self.dir().into_iter().find(|(n, _, _)| n == name)?;
        Some(self.item(key, size as usize))
    }
}

fn reader(f: &mut FwCfg) -> Reader<'_> {
    Reader { f, env: TestEnv::new(4096) }
}

fn e820(bytes: &[u8]) -> Vec<E820Entry> {
    bytes
        .chunks_exact(20)
        .map(|c| E820Entry {
            addr: u64::from_le_bytes(c[0..8].try_into().unwrap()),
            len: u64::from_le_bytes(c[8..16].try_into().unwrap()),
            kind: u32::from_le_bytes(c[16..20].try_into().unwrap()),
        })
        .collect()
}

#[test]
fn signature_id_and_numbered_items() {
    let mut f = FwCfg::new(128 << 20, 0, 2, false, None);
    let mut r = reader(&mut f);
    assert_eq!(r.item(0x0000, 4), b"QEMU");
    assert_eq!(r.item(0x0001, 4), [1, 0, 0, 0], "traditional interface only");
    assert_eq!(r.item(0x0005, 2), [2, 0]);
    assert_eq!(r.item(0x000F, 2), [2, 0]);
    assert_eq!(r.item(0x000E, 2), [0, 0]);
    assert_eq!(r.item(0x0003, 8), (128u64 << 20).to_le_bytes());
    // Past the end and unknown keys read 0; byte reads continue the stream.
    assert_eq!(r.item(0x0000, 6), b"QEMU\0\0");
    assert_eq!(r.item(0x1234, 3), [0, 0, 0]);
    r.select(0x0000);
    let mut b = [0u8];
    for want in *b"QEMU" {
        r.f.pio_read(0x511, &mut b, &mut r.env.ctx());
        assert_eq!(b[0], want);
    }
    // A byte write is not a selection.
    r.f.pio_write(0x510, &[0x05], &mut r.env.ctx());
    assert_eq!(r.read(1), [0]);
}

#[test]
fn e820_for_128_mib_under_kvm() {
    let mut f = FwCfg::new(128 << 20, 0, 1, false, None);
    let mut r = reader(&mut f);
    let dir = r.dir();
    assert_eq!(dir, [("etc/e820".to_string(), 0x20, 40)]);
    let map = e820(&r.file("etc/e820").unwrap());
    assert_eq!(
        map,
        [E820Entry { addr: 0xFEFF_C000, len: 0x4000, kind: 2 }, E820Entry { addr: 0, len: 128 << 20, kind: 1 }]
    );
}

#[test]
fn e820_above_4g_boot_menu_and_added_files() {
    let mut f = FwCfg::new(3 << 30, 1 << 30, 1, true, Some(2500));
    f.add_file("bootorder", b"/pci@i0cf8/ide@1,1/drive@0/disk@0\n".to_vec()).unwrap();
    let mut r = reader(&mut f);
    assert_eq!(r.item(0x000E, 2), [1, 0]);
    let names: Vec<String> = r.dir().into_iter().map(|(n, _, _)| n).collect();
    assert_eq!(names, ["bootorder", "etc/boot-menu-wait", "etc/e820"]);
    assert_eq!(r.file("etc/boot-menu-wait").unwrap(), 2500u16.to_le_bytes());
    let map = e820(&r.file("etc/e820").unwrap());
    assert_eq!(map[2], E820Entry { addr: 1 << 32, len: 1 << 30, kind: 1 });
    assert_eq!(r.file("bootorder").unwrap(), b"/pci@i0cf8/ide@1,1/drive@0/disk@0\n");
}

#[test]
fn replacing_e820_and_reset() {
    let mut f = FwCfg::new(64 << 20, 0, 1, false, None);
    f.set_e820(&ironide_dev_platform::fw_cfg::pc_e820(64 << 20, 0, false));
    f.select(0x19);
    f.reset();
    let mut r = reader(&mut f);
    assert_eq!(r.read(4), b"QEMU");
    assert_eq!(e820(&r.file("etc/e820").unwrap()), [E820Entry { addr: 0, len: 64 << 20, kind: 1 }]);
}
