//! One qtest request line in, its reply (preceded by the interrupt changes it
//! caused) out. Pure: no socket, no clock of its own, no state between lines.

use std::io::Write as _;

use thiserror::Error;

use super::codec::{self, CodecError};
use super::machine::QtestMachine;
use super::number::{parse_i64, parse_u64, BadNumber};

/// Largest `read`/`b64read`/`write` size: its hex reply is then 64 MiB, the
/// longest line the server accepts. `memset` is written in chunks and has no
/// limit.
pub const MAX_TRANSFER: u64 = 32 << 20;

const MEMSET_CHUNK: usize = 64 << 10;

/// Why a request failed; the reply is `FAIL <text>` (or QEMU's `ERR` line for
/// too-short data). QEMU aborts on malformed arguments; we answer instead.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum CommandError {
    #[error("Unknown command '{0}'")]
    UnknownCommand(String),
    #[error("missing argument {0}")]
    MissingArgument(&'static str),
    #[error(transparent)]
    Number(#[from] BadNumber),
    #[error("port {0:#x} out of range")]
    PortOutOfRange(u64),
    #[error("size {0:#x} too large (limit {MAX_TRANSFER:#x})")]
    TooLarge(u64),
    #[error("size must not be zero")]
    ZeroSize,
    #[error("address range {addr:#x}+{size:#x} wraps around")]
    RangeWraps { addr: u64, size: u64 },
    #[error(transparent)]
    Codec(#[from] CodecError),
    #[error("invalid argument size")]
    ShortData,
    #[error("Unknown device")]
    UnknownDevice,
    #[error("Interception of named in-GPIOs not yet supported")]
    NamedInGpio,
    #[error("No intercepts installed")]
    NoIntercepts,
}

impl CommandError {
    fn write_reply(&self, reply: &mut Vec<u8>) {
        // QEMU answers short write data with ERR rather than FAIL.
        let verdict = if matches!(self, CommandError::ShortData) { "ERR" } else { "FAIL" };
        let _ = write!(reply, "{verdict} {self}");
    }
}

/// Executes one request line against `m` and appends to `out` the interrupt
/// changes it caused (`IRQ raise N` / `IRQ lower N`, after `settle`) followed
/// by its reply, each terminated by '\n'. A blank line produces nothing.
pub fn execute_line(line: &str, m: &mut dyn QtestMachine, out: &mut Vec<u8>) {
    let words: Vec<&str> = line.split_ascii_whitespace().collect();
    let Some((&name, args)) = words.split_first() else {
        return;
    };
    let mut reply = Vec::new();
    if let Err(e) = dispatch(name, Args { words: args }, m, &mut reply) {
        reply.clear();
        e.write_reply(&mut reply);
    }
    m.settle();
    write_irq_changes(m.take_irq_changes(), out);
    out.extend_from_slice(&reply);
    out.push(b'\n');
}

/// Appends one `IRQ raise|lower N` line per change.
pub fn write_irq_changes(changes: Vec<(u32, bool)>, out: &mut Vec<u8>) {
    for (line, raised) in changes {
        let _ = writeln!(out, "IRQ {} {line}", if raised { "raise" } else { "lower" });
    }
}

struct Args<'a> {
    words: &'a [&'a str],
}

impl<'a> Args<'a> {
    fn word(&self, i: usize, what: &'static str) -> Result<&'a str, CommandError> {
        self.words.get(i).copied().ok_or(CommandError::MissingArgument(what))
    }

    fn u64(&self, i: usize, what: &'static str) -> Result<u64, CommandError> {
        Ok(parse_u64(self.word(i, what)?)?)
    }

    fn port(&self) -> Result<u16, CommandError> {
        let port = self.u64(0, "ADDR")?;
        u16::try_from(port).map_err(|_| CommandError::PortOutOfRange(port))
    }

    /// ADDR and SIZE of a memory range that does not wrap past 2^64.
    fn range(&self) -> Result<(u64, u64), CommandError> {
        let addr = self.u64(0, "ADDR")?;
        let size = self.u64(1, "SIZE")?;
        check_range(addr, size)?;
        Ok((addr, size))
    }
}

fn check_range(addr: u64, size: u64) -> Result<(), CommandError> {
    if u128::from(addr) + u128::from(size) > 1u128 << 64 {
        return Err(CommandError::RangeWraps { addr, size });
    }
    Ok(())
}

fn transfer_len(size: u64) -> Result<usize, CommandError> {
    if size > MAX_TRANSFER {
        return Err(CommandError::TooLarge(size));
    }
    usize::try_from(size).map_err(|_| CommandError::TooLarge(size))
}

/// Width in bytes from the command's size letter.
fn width(letter: u8) -> u8 {
    match letter {
        b'b' => 1,
        b'w' => 2,
        b'l' => 4,
        _ => 8,
    }
}

fn mask(width: u8) -> u64 {
    if width >= 8 {
        u64::MAX
    } else {
        (1u64 << (8 * u32::from(width))) - 1
    }
}

fn ok(reply: &mut Vec<u8>) {
    reply.extend_from_slice(b"OK");
}

fn dispatch(name: &str, args: Args, m: &mut dyn QtestMachine, reply: &mut Vec<u8>) -> Result<(), CommandError> {
    match name {
        "outb" | "outw" | "outl" => {
            let size = width(name.as_bytes()[3]);
            let port = args.port()?;
            let value = args.u64(1, "VALUE")? & mask(size);
            m.pio_write(port, size, value as u32);
            ok(reply);
        }
        "inb" | "inw" | "inl" => {
            let size = width(name.as_bytes()[2]);
            let port = args.port()?;
            let value = u64::from(m.pio_read(port, size)) & mask(size);
            let _ = write!(reply, "OK 0x{value:04x}");
        }
        "writeb" | "writew" | "writel" | "writeq" => {
            let size = width(name.as_bytes()[5]);
            let addr = args.u64(0, "ADDR")?;
            let value = args.u64(1, "VALUE")?;
            check_range(addr, u64::from(size))?;
            m.mem_write(addr, &value.to_le_bytes()[..usize::from(size)]);
            ok(reply);
        }
        "readb" | "readw" | "readl" | "readq" => {
            let size = width(name.as_bytes()[4]);
            let addr = args.u64(0, "ADDR")?;
            check_range(addr, u64::from(size))?;
            let mut bytes = [0u8; 8];
            m.mem_read(addr, &mut bytes[..usize::from(size)]);
            let _ = write!(reply, "OK 0x{:016x}", u64::from_le_bytes(bytes));
        }
        "read" => {
            let (addr, size) = args.range()?;
            if size == 0 {
                return Err(CommandError::ZeroSize);
            }
            let mut data = vec![0u8; transfer_len(size)?];
            m.mem_read(addr, &mut data);
            reply.extend_from_slice(b"OK 0x");
            codec::hex_encode_into(&data, reply);
        }
        "b64read" => {
            let (addr, size) = args.range()?;
            let mut data = vec![0u8; transfer_len(size)?];
            m.mem_read(addr, &mut data);
            reply.extend_from_slice(b"OK ");
            codec::base64_encode_into(&data, reply);
        }
        "write" => {
            let (addr, size) = args.range()?;
            let text = args.word(2, "DATA")?.as_bytes();
            if text.len() < 3 {
                return Err(CommandError::ShortData);
            }
            // The first two characters are the "0x" prefix, unchecked as in QEMU.
            let data = codec::hex_decode_padded(&text[2..], transfer_len(size)?)?;
            m.mem_write(addr, &data);
            ok(reply);
        }
        "b64write" => {
            let (addr, size) = args.range()?;
            let text = args.word(2, "B64_DATA")?.as_bytes();
            if text.len() < 3 {
                return Err(CommandError::ShortData);
            }
            let mut data = codec::base64_decode(text)?;
            // A size that disagrees with the data truncates to the shorter.
            data.truncate(transfer_len(size.min(data.len() as u64))?);
            m.mem_write(addr, &data);
            ok(reply);
        }
        "memset" => {
            let (addr, size) = args.range()?;
            let pattern = args.u64(2, "VALUE")? as u8;
            let chunk = vec![pattern; MEMSET_CHUNK];
            let mut done = 0u64;
            while done < size {
                let n = (size - done).min(MEMSET_CHUNK as u64) as usize;
                m.mem_write(addr + done, &chunk[..n]);
                done += n as u64;
            }
            ok(reply);
        }
        "clock_step" => {
            let now = match args.words.first() {
                None => m.clock_step(None),
                // A negative step leaves the clock where it is, as QEMU's warp does.
                Some(word) => match u64::try_from(parse_i64(word)?) {
                    Ok(ns) => m.clock_step(Some(ns)),
                    Err(_) => m.clock_now(),
                },
            };
            let _ = write!(reply, "OK {now}");
        }
        "clock_set" => {
            let target = parse_i64(args.word(0, "NS")?)?;
            let now = match u64::try_from(target) {
                Ok(ns) => m.clock_set(ns),
                Err(_) => m.clock_now(),
            };
            let _ = write!(reply, "OK {now}");
        }
        "irq_intercept_in" | "irq_intercept_out" => {
            let path = args.word(0, "QOM-PATH")?;
            if !is_interrupt_controller(path) {
                return Err(CommandError::UnknownDevice);
            }
            if name == "irq_intercept_in" && args.words.len() > 1 {
                return Err(CommandError::NamedInGpio);
            }
            if !m.irq_intercept(true) {
                return Err(CommandError::NoIntercepts);
            }
            ok(reply);
        }
        "endianness" => reply.extend_from_slice(b"OK little"),
        _ => return Err(CommandError::UnknownCommand(name.to_string())),
    }
    Ok(())
}

/// The one device whose interrupt lines can be intercepted: the I/O APIC,
/// named as QOM resolves it ("ioapic", "/machine/ioapic").
fn is_interrupt_controller(path: &str) -> bool {
    path.trim_end_matches('/').rsplit('/').next() == Some("ioapic")
}

#[cfg(test)]
#[path = "command_tests.rs"]
mod tests;
