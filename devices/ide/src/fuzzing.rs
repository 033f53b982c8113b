//! A fuzzing entry point: a small machine (1 MiB RAM, a 32-sector disk as
//! primary master, a 16-sector CD as secondary master, PCI enabled) driven
//! by an arbitrary byte string. Never panics or hangs on any input.

use ironide_dev_platform::testing::TestEnv;
use ironide_dev_platform::PioDevice;
use vm_memory::{Bytes, GuestAddress};

use crate::{Ide, IdeDriveConfig};

const BM: u16 = 0xC000;
const RAM: usize = 1 << 20;
const PORTS: [u16; 20] = [
    0x1F0,
    0x1F1,
    0x1F2,
    0x1F3,
    0x1F4,
    0x1F5,
    0x1F6,
    0x1F7,
    0x3F6,
    0x170,
    0x171,
    0x172,
    0x173,
    0x174,
    0x175,
    0x176,
    0x177,
    0x376,
    BM,
    BM + 8,
];

struct Input<'a>(&'a [u8]);

impl Input<'_> {
    fn byte(&mut self) -> Option<u8> {
        let (&b, rest) = self.0.split_first()?;
        self.0 = rest;
        Some(b)
    }

    fn u16(&mut self) -> Option<u16> {
        Some(u16::from_le_bytes([self.byte()?, self.byte()?]))
    }

    fn u32(&mut self) -> Option<u32> {
        Some(u32::from_le_bytes([self.byte()?, self.byte()?, self.byte()?, self.byte()?]))
    }

    fn port(&mut self) -> Option<u16> {
        let b = self.byte()?;
        Some(match b {
            0..=199 => PORTS[b as usize % PORTS.len()],
            200..=239 => BM + (b as u16 % 16),
            _ => self.u16()?,
        })
    }

    fn width(&mut self) -> Option<usize> {
        Some(match self.byte()? % 8 {
            0..=2 => 1,
            3 | 4 => 2,
            5 => 4,
            6 => 512,
            _ => 24,
        })
    }
}

/// Interpret `data` as a sequence of port accesses, guest-memory writes,
/// completion deliveries, time steps and media operations.
pub fn run(data: &[u8]) {
    let mut env = TestEnv::new(RAM);
    let mut ide = Ide::new();
    let disk = env.backend("fz-hd", Some(&[0x5A; 32 * 512]), false);
    let cd = env.backend("fz-cd", Some(&[0xC3; 16 * 2048]), true);
    let _ = ide.attach(0, 0, IdeDriveConfig::disk(disk, 1, 2, 16));
    let _ = ide.attach(1, 0, IdeDriveConfig::cdrom(Some(cd), Some(16 * 2048)));
    ide.config_write(0x20, &(BM as u32).to_le_bytes());
    ide.config_write(0x04, &[0x05]);
    let mut inp = Input(data);
    let mut steps = 0;
    while let Some(op) = inp.byte() {
        steps += 1;
        if steps > 512 {
            break;
        }
        match op % 10 {
            0 | 1 => {
                let (Some(port), Some(w)) = (inp.port(), inp.width()) else { break };
                let mut buf = vec![0u8; w];
                ide.pio_read(port, &mut buf, &mut env.ctx());
            }
            2..=4 => {
                let (Some(port), Some(w)) = (inp.port(), inp.width()) else { break };
                let mut buf = vec![0u8; w];
                for b in buf.iter_mut() {
                    *b = inp.byte().unwrap_or(0);
                }
                ide.pio_write(port, &buf, &mut env.ctx());
            }
            5 => {
                // Plant bytes (a PRD entry, a CDB, TRIM ranges) in guest memory.
                let (Some(addr), Some(len)) = (inp.u32(), inp.byte()) else { break };
                let bytes: Vec<u8> = (0..len).map(|_| inp.byte().unwrap_or(0)).collect();
                let _ = env.mem.write_slice(&bytes, GuestAddress(addr as u64 % (RAM as u64 + 4096)));
            }
            6 => env.run_io(&mut ide),
            7 => env.advance(inp.byte().unwrap_or(1) as u64 * 1_000_000),
            8 => {
                let (Some(off), Some(v)) = (inp.byte(), inp.u32()) else { break };
                ide.config_write(off as u16, &v.to_le_bytes());
            }
            _ => {
                let which = inp.byte().unwrap_or(0);
                let mut ctx = env.ctx();
                let (ch, unit) = ((which as usize >> 4) & 1, (which as usize >> 5) & 1);
                let _ = match which % 5 {
                    0 => ide.open_tray(ch, unit, which & 0x80 != 0, &mut ctx).map(|_| ()),
                    1 => ide.close_tray(ch, unit, &mut ctx).map(|_| ()),
                    2 => ide.insert_medium(ch, unit, 16 * 2048, &mut ctx),
                    3 => ide.remove_medium(ch, unit, &mut ctx),
                    _ => ide.tray_state(ch, unit).map(|_| ()),
                };
                let _ = ide.take_events();
            }
        }
    }
    env.run_io(&mut ide);
    let mut ctx = env.ctx();
    ide.reset(&mut ctx);
}
