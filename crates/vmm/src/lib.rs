//! ironide's machine: the pc board around the device models, under KVM or
//! the qtest protocol, configured from a QEMU-compatible command line.

pub mod config;
pub mod qtest;
