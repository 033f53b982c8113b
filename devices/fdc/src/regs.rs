//! Register bits.

pub const DOR_SEL: u8 = 0x03;
pub const DOR_NRESET: u8 = 0x04;
pub const DOR_DMAEN: u8 = 0x08;

pub const MSR_CMDBUSY: u8 = 0x10;
pub const MSR_NONDMA: u8 = 0x20;
pub const MSR_DIO: u8 = 0x40;
pub const MSR_RQM: u8 = 0x80;

pub const DSR_RATE: u8 = 0x03;
pub const DSR_PWRDOWN: u8 = 0x40;
pub const DSR_SWRESET: u8 = 0x80;

pub const SRB_MTR0: u8 = 0x01;
pub const SRB_MTR1: u8 = 0x02;
pub const SRB_DR0: u8 = 0x20;

pub const DIR_DSKCHG: u8 = 0x80;

pub const ST0_HEAD: u8 = 0x04;
pub const ST0_SEEK: u8 = 0x20;
pub const ST0_ABNTERM: u8 = 0x40;
pub const ST0_INVCMD: u8 = 0x80;
pub const ST0_RDYCHG: u8 = 0xC0;

pub const ST1_MA: u8 = 0x01;
pub const ST1_NW: u8 = 0x02;
pub const ST1_EC: u8 = 0x80;

pub const ST2_SEH: u8 = 0x08;

pub const CONFIG_EIS: u8 = 0x40;
pub const CONFIG_EFIFO: u8 = 0x20;

pub const SECTOR: usize = 512;
/// READ ID completes this long after its last parameter byte (virtual time).
pub const READ_ID_DELAY_NS: u64 = 1_000_000_000 / 50;
/// SENSE INTERRUPTs answered with ready-change status after a reset.
pub const RESET_SENSEI: u8 = 4;
