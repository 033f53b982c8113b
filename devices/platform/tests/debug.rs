//! Debug console, debug exit, reset and A20 registers, the i8042.

mod support;

use ironide_dev_platform::testing::TestEnv;
use ironide_dev_platform::{DebugExit, Debugcon, MachineRequest, PioDevice, Port92, ResetControl, I8042};
use support::SharedBuf;

fn inb(d: &mut dyn PioDevice, env: &mut TestEnv, port: u16) -> u8 {
    let mut b = [0u8];
    d.pio_read(port, &mut b, &mut env.ctx());
    b[0]
}

fn outb(d: &mut dyn PioDevice, env: &mut TestEnv, port: u16, v: u8) {
    d.pio_write(port, &[v], &mut env.ctx());
}

#[test]
fn debugcon_reads_e9_and_prints() {
    let mut env = TestEnv::new(4096);
    let out = SharedBuf::default();
    let mut d = Debugcon::new(0x402, Box::new(out.clone()));
    assert_eq!(inb(&mut d, &mut env, 0x402), 0xE9);
    for &b in b"SeaBIOS" {
        outb(&mut d, &mut env, 0x402, b);
    }
    // A `rep outsb` arrives as one access.
    d.pio_write(0x402, b" (version)\n", &mut env.ctx());
    assert_eq!(out.contents(), b"SeaBIOS (version)\n");
    let mut e = Debugcon::new(0xE9, Box::new(std::io::sink()));
    assert_eq!(inb(&mut e, &mut env, 0xE9), 0xE9);
}

#[test]
fn debug_exit_codes() {
    let mut env = TestEnv::new(4096);
    let mut d = DebugExit::new(0xF4, 4);
    assert_eq!(d.take_request(), None);
    outb(&mut d, &mut env, 0xF4, 0x00);
    assert_eq!(d.take_request(), Some(MachineRequest::Exit(1)));
    assert_eq!(d.take_request(), None);
    outb(&mut d, &mut env, 0xF7, 0x10);
    assert_eq!(d.take_request(), Some(MachineRequest::Exit(0x21)));
    d.pio_write(0xF4, &0x31u32.to_le_bytes(), &mut env.ctx());
    assert_eq!(d.take_request(), Some(MachineRequest::Exit(0x63)));
    outb(&mut d, &mut env, 0xF8, 0x10);
    assert_eq!(d.take_request(), None, "outside iobase..iobase+iosize");
}

#[test]
fn port92_a20_and_fast_reset() {
    let mut env = TestEnv::new(4096);
    let mut p = Port92::new();
    outb(&mut p, &mut env, 0x92, 0x02);
    assert!(p.a20());
    assert_eq!(inb(&mut p, &mut env, 0x92), 0x02);
    assert_eq!(p.take_request(), None);
    outb(&mut p, &mut env, 0x92, 0x03);
    assert_eq!(p.take_request(), Some(MachineRequest::Reset));
    // Bit 0 already set: no new edge.
    outb(&mut p, &mut env, 0x92, 0x03);
    assert_eq!(p.take_request(), None);
    p.reset();
    assert_eq!(inb(&mut p, &mut env, 0x92), 0x02);
}

#[test]
fn cf9_reset_requests() {
    let mut env = TestEnv::new(4096);
    let mut r = ResetControl::new();
    outb(&mut r, &mut env, 0xCF9, 0x02);
    assert_eq!(r.take_request(), None);
    assert_eq!(inb(&mut r, &mut env, 0xCF9), 0x02);
    outb(&mut r, &mut env, 0xCF9, 0x06);
    assert_eq!(r.take_request(), Some(MachineRequest::Reset));
    outb(&mut r, &mut env, 0xCF9, 0x0E);
    assert_eq!(r.take_request(), Some(MachineRequest::Reset));
    assert_eq!(inb(&mut r, &mut env, 0xCF9), 0x02);
    // A dword at 0xCF8 is not ours.
    r.pio_write(0xCF8, &0x8000_0000u32.to_le_bytes(), &mut env.ctx());
    assert_eq!(r.take_request(), None);
}

/// Wait for the output buffer as firmware does, then read it.
fn read_reply(k: &mut I8042, env: &mut TestEnv) -> Option<u8> {
    (inb(k, env, 0x64) & 1 != 0).then(|| inb(k, env, 0x60))
}

#[test]
fn i8042_init_as_seabios_does_it() {
    let mut env = TestEnv::new(4096);
    let mut k = I8042::new();
    assert_eq!(inb(&mut k, &mut env, 0x64) & 0x01, 0, "nothing to flush");
    outb(&mut k, &mut env, 0x64, 0xAA);
    assert_eq!(read_reply(&mut k, &mut env), Some(0x55));
    assert_ne!(inb(&mut k, &mut env, 0x64) & 0x04, 0, "system flag after self test");
    outb(&mut k, &mut env, 0x64, 0xAB);
    assert_eq!(read_reply(&mut k, &mut env), Some(0x00));
    // Command byte: interrupts off while probing.
    outb(&mut k, &mut env, 0x64, 0x60);
    outb(&mut k, &mut env, 0x60, 0x30);
    outb(&mut k, &mut env, 0x64, 0x20);
    assert_eq!(read_reply(&mut k, &mut env), Some(0x30));
    // Keyboard reset: ACK then BAT passed.
    outb(&mut k, &mut env, 0x60, 0xFF);
    assert_eq!(read_reply(&mut k, &mut env), Some(0xFA));
    assert_eq!(read_reply(&mut k, &mut env), Some(0xAA));
    assert_eq!(read_reply(&mut k, &mut env), None);
    outb(&mut k, &mut env, 0x60, 0xF5);
    assert_eq!(read_reply(&mut k, &mut env), Some(0xFA));
    outb(&mut k, &mut env, 0x60, 0xED);
    assert_eq!(read_reply(&mut k, &mut env), Some(0xFA));
    outb(&mut k, &mut env, 0x60, 0x00);
    assert_eq!(read_reply(&mut k, &mut env), Some(0xFA));
    outb(&mut k, &mut env, 0x60, 0xF2);
    assert_eq!((1..=3).map(|_| read_reply(&mut k, &mut env).unwrap()).collect::<Vec<_>>(), [0xFA, 0xAB, 0x83]);
    assert!(!env.irq.level(1), "keyboard interrupt disabled in the command byte");
    // Interrupts on: a reply raises IRQ 1 until read.
    outb(&mut k, &mut env, 0x64, 0x60);
    outb(&mut k, &mut env, 0x60, 0x61);
    outb(&mut k, &mut env, 0x60, 0xF4);
    assert!(env.irq.level(1));
    assert_eq!(read_reply(&mut k, &mut env), Some(0xFA));
    assert!(!env.irq.level(1));
    assert_eq!(k.take_request(), None);
}

#[test]
fn i8042_mouse_and_enables() {
    let mut env = TestEnv::new(4096);
    let mut k = I8042::new();
    outb(&mut k, &mut env, 0x64, 0xA7);
    outb(&mut k, &mut env, 0x64, 0xAD);
    assert_eq!(k.command_byte() & 0x30, 0x30);
    outb(&mut k, &mut env, 0x64, 0xA8);
    outb(&mut k, &mut env, 0x64, 0xAE);
    assert_eq!(k.command_byte() & 0x30, 0x00);
    outb(&mut k, &mut env, 0x64, 0xD4);
    outb(&mut k, &mut env, 0x60, 0xFF);
    assert_eq!(inb(&mut k, &mut env, 0x64) & 0x21, 0x21, "mouse data in the buffer");
    assert!(env.irq.level(12));
    let got: Vec<u8> = (0..3).filter_map(|_| read_reply(&mut k, &mut env)).collect();
    assert_eq!(got, [0xFA, 0xAA, 0x00]);
    assert!(!env.irq.level(12));
}

#[test]
fn i8042_reset_requests() {
    let mut env = TestEnv::new(4096);
    let mut k = I8042::new();
    outb(&mut k, &mut env, 0x64, 0xFE);
    assert_eq!(k.take_request(), Some(MachineRequest::Reset));
    outb(&mut k, &mut env, 0x64, 0xFF);
    assert_eq!(k.take_request(), None, "0xFF pulses no line");
    // Output port: A20 on, reset line still high; then bit 0 low resets.
    outb(&mut k, &mut env, 0x64, 0xD1);
    outb(&mut k, &mut env, 0x60, 0xDF);
    assert!(k.a20());
    assert_eq!(k.take_request(), None);
    outb(&mut k, &mut env, 0x64, 0xD0);
    assert_eq!(read_reply(&mut k, &mut env), Some(0xDF));
    outb(&mut k, &mut env, 0x64, 0xD1);
    outb(&mut k, &mut env, 0x60, 0xDE);
    assert_eq!(k.take_request(), Some(MachineRequest::Reset));
    k.reset(&mut env.irq);
    outb(&mut k, &mut env, 0x64, 0x20);
    assert_eq!(read_reply(&mut k, &mut env), Some(0x03));
}

#[test]
fn devices_can_move_to_the_vcpu_thread() {
    fn send<T: Send>() {}
    send::<Debugcon>();
    send::<DebugExit>();
    send::<I8042>();
    send::<ironide_dev_platform::Serial16550>();
    send::<ironide_dev_platform::Cmos>();
    send::<ironide_dev_platform::FwCfg>();
    send::<ironide_dev_platform::I440fx>();
}
