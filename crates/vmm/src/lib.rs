//! ironide's machine: the pc board around the device models, under KVM or
//! the qtest protocol, configured from a QEMU-compatible command line.

pub mod board;
pub mod bus;
pub mod chipset;
pub mod cmdline;
pub mod config;
pub mod error;
pub mod event_loop;
pub mod io_retry;
pub mod irq;
pub mod kvm;
pub mod linux_boot;
pub mod machine;
pub mod memory;
pub mod qmp;
pub mod qtest;
pub mod qtest_glue;
pub mod run;
pub mod run_state;

pub use error::VmmError;
pub use machine::Machine;
pub use run::{qtest_machine, run, KvmMachine};
