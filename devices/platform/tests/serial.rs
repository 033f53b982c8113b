//! COM1 as SeaBIOS probes it and as a console uses it.

mod support;

use ironide_dev_platform::testing::TestEnv;
use ironide_dev_platform::{PioDevice, Serial16550};
use support::SharedBuf;

fn inb(s: &mut Serial16550, env: &mut TestEnv, port: u16) -> u8 {
    let mut d = [0u8];
    s.pio_read(port, &mut d, &mut env.ctx());
    d[0]
}

fn outb(s: &mut Serial16550, env: &mut TestEnv, port: u16, v: u8) {
    s.pio_write(port, &[v], &mut env.ctx());
}

#[test]
fn seabios_probe_counts_the_port() {
    let mut env = TestEnv::new(4096);
    let mut s = Serial16550::new(Box::new(SharedBuf::default()));
    // detect_serial: IER := 0x02, read it back, IIR & 0x3F must be 0x02.
    outb(&mut s, &mut env, 0x3F9, 0x02);
    assert_eq!(inb(&mut s, &mut env, 0x3F9), 0x02);
    assert_eq!(inb(&mut s, &mut env, 0x3FA) & 0x3F, 0x02);
    outb(&mut s, &mut env, 0x3F9, 0x00);
    // No UART at COM2's address in this device.
    assert_eq!(inb(&mut s, &mut env, 0x2F9), 0xFF);
}

#[test]
fn output_and_thr_interrupt_level() {
    let mut env = TestEnv::new(4096);
    let out = SharedBuf::default();
    let mut s = Serial16550::new(Box::new(out.clone()));
    for &b in b"hi\n" {
        outb(&mut s, &mut env, 0x3F8, b);
    }
    assert_eq!(out.contents(), b"hi\n");
    assert!(!env.irq.level(4), "no interrupt enabled");
    outb(&mut s, &mut env, 0x3F9, 0x02);
    assert!(env.irq.level(4), "THR empty interrupt pending");
    assert_eq!(inb(&mut s, &mut env, 0x3FA) & 0x0F, 0x02);
    assert!(!env.irq.level(4), "IIR read acknowledges it");
    // LSR: transmitter empty and idle.
    assert_eq!(inb(&mut s, &mut env, 0x3FD) & 0x60, 0x60);
}

#[test]
fn input_raises_rda_until_drained() {
    let mut env = TestEnv::new(4096);
    let mut s = Serial16550::new(Box::new(std::io::sink()));
    outb(&mut s, &mut env, 0x3F9, 0x01);
    assert_eq!(s.enqueue_input(b"ab"), 2);
    s.sync_irq(&mut env.irq);
    assert!(env.irq.level(4));
    assert_eq!(inb(&mut s, &mut env, 0x3FD) & 1, 1);
    assert_eq!(inb(&mut s, &mut env, 0x3F8), b'a');
    assert!(!env.irq.level(4));
    assert_eq!(inb(&mut s, &mut env, 0x3F8), b'b');
    assert_eq!(inb(&mut s, &mut env, 0x3FD) & 1, 0);
    // The FIFO holds 64 bytes: the rest is offered later.
    assert_eq!(s.enqueue_input(&[b'x'; 100]), 64);
    assert_eq!(s.input_capacity(), 0);
    assert_eq!(s.enqueue_input(b"y"), 0);
}

#[test]
fn dlab_and_reset() {
    let mut env = TestEnv::new(4096);
    let out = SharedBuf::default();
    let mut s = Serial16550::new(Box::new(out.clone()));
    outb(&mut s, &mut env, 0x3FB, 0x83);
    outb(&mut s, &mut env, 0x3F8, 0x01);
    outb(&mut s, &mut env, 0x3F9, 0x00);
    assert_eq!(inb(&mut s, &mut env, 0x3F8), 0x01);
    outb(&mut s, &mut env, 0x3FB, 0x03);
    outb(&mut s, &mut env, 0x3F9, 0x02);
    assert!(env.irq.level(4));
    s.reset(&mut env.irq);
    assert!(!env.irq.level(4));
    assert_eq!(inb(&mut s, &mut env, 0x3F9), 0x00);
    outb(&mut s, &mut env, 0x3F8, b'z');
    assert_eq!(out.contents(), b"z", "output survives reset");
}
