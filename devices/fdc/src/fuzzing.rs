//! Entry point for fuzzers: random port traffic, guest-memory writes, I/O
//! completions and time steps against an FDC + ISA DMA with a small disk.

use ironide_block::Clock;
use ironide_dev_isa_dma::IsaDma;
use ironide_dev_platform::testing::TestEnv;
use vm_memory::{Bytes, GuestAddress};

use crate::{DriveConfig, DriveType, Fdc, FdcConfig, IsaFdc};
use ironide_dev_platform::PioDevice;

const PORTS: &[u16] = &[
    0x3F1, 0x3F2, 0x3F3, 0x3F4, 0x3F5, 0x3F7, 0x3F0, 0x3F6, 0x00, 0x04, 0x05, 0x08, 0x0A, 0x0B, 0x0C, 0x0D, 0x0E, 0x0F,
    0x81, 0x87, 0xC4, 0xD4, 0xD6, 0xD8, 0xDE, 0x80,
];

/// Interpret `data` as a script; must never panic or hang.
pub fn run(data: &[u8]) {
    let mut env = TestEnv::new(1 << 20);
    // 1.44 MB geometry on a short image: reads past its end must be safe.
    let disk: Vec<u8> = (0..64 * 512).map(|i| (i % 251) as u8).collect();
    let ro = data.first().is_some_and(|b| b & 1 == 1);
    let a = env.backend("fd0", Some(&disk), ro);
    let b = env.backend("fd1", None, false);
    let cfg = FdcConfig {
        drives: [
            DriveConfig { backend: Some(a), drive_type: DriveType::D144 },
            DriveConfig { backend: Some(b), drive_type: DriveType::Auto },
        ],
        ..Default::default()
    };
    let fdc = Fdc::new(cfg, &env.layer);
    let mut dev = IsaFdc::new(fdc, IsaDma::new());
    let mut it = data.iter().copied();
    let mut steps = 0;
    while let Some(op) = it.next() {
        steps += 1;
        if steps > 4096 {
            break;
        }
        let mut arg = || it.next().unwrap_or(0);
        match op % 8 {
            0 | 1 => {
                let port = PORTS[usize::from(arg()) % PORTS.len()];
                let width = [1, 2, 4, 1][usize::from(op >> 3) % 4];
                let bytes: Vec<u8> = (0..width).map(|_| arg()).collect();
                dev.pio_write(port, &bytes, &mut env.ctx());
            }
            2 | 3 => {
                let port = PORTS[usize::from(arg()) % PORTS.len()];
                let mut buf = [0u8; 4];
                let width = [1, 2, 4, 1][usize::from(op >> 3) % 4];
                dev.pio_read(port, &mut buf[..width], &mut env.ctx());
            }
            4 => {
                // String access on the FIFO.
                let n = usize::from(arg()) * 4 + 5;
                if op & 0x80 != 0 {
                    let mut buf = vec![0u8; n];
                    dev.pio_read(0x3F5, &mut buf, &mut env.ctx());
                } else {
                    let v = arg();
                    dev.pio_write(0x3F5, &vec![v; n], &mut env.ctx());
                }
            }
            5 => {
                let addr = u64::from(u32::from_le_bytes([arg(), arg(), arg(), 0]));
                let v = [arg(); 8];
                let _ = env.mem.write_slice(&v, GuestAddress(addr));
            }
            6 => env.run_io(&mut dev),
            _ => {
                env.advance(u64::from(arg()) * 1_000_000);
                if dev.next_deadline().is_some_and(|t| t <= env.clock.now_ns()) {
                    dev.on_timer(&mut env.ctx());
                }
            }
        }
    }
    env.run_io(&mut dev);
    // Whatever state the script left, a system reset recovers the device.
    dev.reset(&mut env.ctx());
    let mut msr = [0u8];
    dev.pio_read(0x3F4, &mut msr, &mut env.ctx());
    assert_eq!(msr[0], 0x80);
}
