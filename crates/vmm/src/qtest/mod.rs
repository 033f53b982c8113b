//! qtest mode: QEMU's line protocol for driving the machine with no CPU
//! (`-accel qtest -qtest unix:PATH`), as libqtest speaks it.
//!
//! `execute_line` turns one request into its reply; `QtestServer` carries
//! those over the socket (line buffering, async interrupt reports, the
//! `-qtest-log`); the machine is reached through `QtestMachine`.

mod codec;
mod command;
mod log;
mod machine;
mod number;
mod server;

pub use command::{execute_line, CommandError, MAX_TRANSFER};
pub use machine::QtestMachine;
pub use number::BadNumber;
pub use server::{connect, QtestServer, MAX_LINE};
