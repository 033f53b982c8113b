//! ATAPI CD-ROM command logic: the MMC command set, sense data, the
//! unit-attention state machine, tray, lock and media events.
//!
//! This module is pure logic: a 12-byte CDB goes in, a [`PacketOutcome`]
//! comes out. The IDE transport (`crate::channel`) moves the data (PIO with
//! byte-count limits, or bus-master DMA), performs sector reads through the
//! block layer, raises interrupts and reports tray moves to the machine.
//!
//! INTERFACE CONTRACT (shared between the transport and this module; keep
//! these signatures): `Cdrom::{new, execute, sense_key, set_read_error,
//! reset, tray_open, locked, has_medium, media_bytes, open_tray, close_tray,
//! insert_medium, remove_medium, take_tray_moves, take_irq_request}` and the
//! enums below.
//!
//! Additions beyond the contract: [`Cdrom::execute_with_bcl`] (the ATA
//! abort for data commands in PIO with a zero byte-count limit, in the
//! order QEMU checks it), [`Cdrom::unit_attention_blocked`] (QEMU ends a
//! command refused for a pending unit attention with status 0x01 and
//! interrupt reason 0, not the usual error ending), [`Cdrom::sense`],
//! [`Cdrom::set_identity`], and [`fuzz_cdb`].

mod commands;
pub mod dvd;
pub mod events;
mod fuzz;
pub mod inquiry;
pub mod mode;
pub mod profile;
pub mod sense;
pub mod table;
pub mod toc;
mod tray;

pub use fuzz::fuzz_cdb;
pub use inquiry::Identity;
pub use sense::Sense;

use events::MediaEvents;
use sense::{asc, key};

/// How a sector read is to be returned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SectorFormat {
    /// 2048 bytes of user data per sector (READ(10)/(12), READ CD user data).
    User2048,
    /// 2352-byte raw sectors (READ CD with sync/header/EDC): the transport
    /// reads 2048 bytes and asks [`Cdrom::raw_sector`] to wrap them.
    Raw2352,
}

/// What a packet command asks of the transport.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PacketOutcome {
    /// Success without data: status 0x50, interrupt reason 3.
    Done,
    /// Success with data for the host, already cut to the allocation length.
    DataIn(Vec<u8>),
    /// Read `sectors` sectors starting at `lba` (range already checked
    /// against the medium). `sectors == 0` behaves like `Done`.
    Read { lba: u64, sectors: u32, format: SectorFormat },
    /// Failure: the sense data is latched; the transport ends the command
    /// with status 0x41 (DRDY|ERR) and error = `sense_key() << 4`.
    Error,
}

/// Result of a request to open the tray (QMP blockdev-open-tray / eject).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OpenTray {
    /// The tray was closed and is now open (a DEVICE_TRAY_MOVED is due).
    Opened,
    /// It was already open: nothing happens.
    AlreadyOpen,
    /// Locked and not forced: an eject request is queued for the guest
    /// (GET EVENT STATUS NOTIFICATION), the tray stays closed, no event.
    EjectRequested,
}

/// Where the drive is in reporting a media change to the guest.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
enum MediaChange {
    #[default]
    None,
    /// Changed: the next command reports NOT READY / medium not present.
    Pending,
    /// NOT READY was reported: the next one reports UNIT ATTENTION.
    NotReadyReported,
}

/// Guest tray moves kept before the transport collects them; beyond this
/// the oldest are dropped so a guest toggling the tray cannot grow memory.
const MAX_TRAY_MOVES: usize = 64;

/// The ATAPI CD-ROM state.
#[derive(Debug, Clone)]
pub struct Cdrom {
    tray_open: bool,
    locked: bool,
    media_bytes: Option<u64>,
    sense: Sense,
    change: MediaChange,
    events: MediaEvents,
    tray_moves: Vec<bool>,
    irq_request: bool,
    ua_blocked: bool,
    identity: Identity,
}

impl Cdrom {
    /// A drive at power-on, with the medium it starts with (bytes), if any.
    /// A medium present at power-on is not a "change" (no unit attention).
    pub fn new(media_bytes: Option<u64>) -> Self {
        Cdrom {
            tray_open: false,
            locked: false,
            media_bytes,
            sense: Sense::default(),
            change: MediaChange::None,
            events: MediaEvents::default(),
            tray_moves: Vec::new(),
            irq_request: false,
            ua_blocked: false,
            identity: Identity::default(),
        }
    }

    /// Execute one packet command.
    pub fn execute(&mut self, cdb: &[u8; 12]) -> PacketOutcome {
        // With the limit declared fine, `run` never asks for an ATA abort.
        self.run(cdb, true).unwrap_or(PacketOutcome::Error)
    }

    /// Execute one packet command, knowing whether the transfer could
    /// move data: `bcl_ok` is false for a PIO command whose byte-count
    /// limit (LBA mid/high) is 0. `None` means the command is aborted at
    /// the ATA level (status 0x41, error ABRT 0x04, sense unchanged);
    /// that check comes after the unit-attention, media-change and
    /// not-ready checks, and only for commands that always move data.
    pub fn execute_with_bcl(&mut self, cdb: &[u8; 12], bcl_ok: bool) -> Option<PacketOutcome> {
        self.run(cdb, bcl_ok)
    }

    /// Whether the last command failed only because a unit attention was
    /// pending. QEMU ends such a command with status 0x01 (ERR, no DRDY),
    /// error 0x60 and interrupt reason 0 instead of the usual 0x41 / 3.
    pub fn unit_attention_blocked(&self) -> bool {
        self.ua_blocked
    }

    /// Whether `opcode` always transfers data (see [`Self::execute_with_bcl`]).
    pub fn is_data_command(opcode: u8) -> bool {
        table::transfers_data(opcode)
    }

    fn run(&mut self, cdb: &[u8; 12], bcl_ok: bool) -> Option<PacketOutcome> {
        self.ua_blocked = false;
        let entry = table::lookup(cdb[0]);
        let flags = entry.map(|(_, f)| f).unwrap_or_default();
        if self.sense.key == key::UNIT_ATTENTION && !flags.allow_ua {
            self.ua_blocked = true;
            return Some(PacketOutcome::Error);
        }
        // A changed medium is announced as "removed" then "new" so guests
        // that never poll GESN still see the tray cycle.
        if !flags.allow_ua && !self.tray_open && self.media_bytes.is_some() {
            match self.change {
                MediaChange::None => {}
                MediaChange::Pending => {
                    self.change = MediaChange::NotReadyReported;
                    return Some(self.fail(key::NOT_READY, asc::MEDIUM_NOT_PRESENT));
                }
                MediaChange::NotReadyReported => {
                    self.change = MediaChange::None;
                    return Some(self.fail(key::UNIT_ATTENTION, asc::MEDIUM_MAY_HAVE_CHANGED));
                }
            }
        }
        if flags.check_ready && !self.medium_readable() {
            return Some(self.fail(key::NOT_READY, asc::MEDIUM_NOT_PRESENT));
        }
        let Some((op, _)) = entry else {
            return Some(self.fail(key::ILLEGAL_REQUEST, asc::ILLEGAL_OPCODE));
        };
        if !bcl_ok && table::transfers_data(cdb[0]) {
            return None;
        }
        Some(self.dispatch(op, cdb))
    }

    /// Latch sense data and report failure.
    fn fail(&mut self, key: u8, asc: u8) -> PacketOutcome {
        self.sense.set(key, asc);
        PacketOutcome::Error
    }

    /// Tray closed and a medium of at least one 512-byte sector inserted.
    fn medium_readable(&self) -> bool {
        !self.tray_open && self.media_bytes.is_some_and(|b| b >= 512)
    }

    /// Capacity in 2048-byte sectors (0 without a medium).
    pub fn total_sectors(&self) -> u64 {
        self.media_bytes.unwrap_or(0) / 2048
    }

    /// Sense key of the latched sense data (0 = NO SENSE).
    pub fn sense_key(&self) -> u8 {
        self.sense.key
    }

    /// The latched sense data (key and additional sense code).
    pub fn sense(&self) -> Sense {
        self.sense
    }

    /// Set the strings INQUIRY reports (model and serial for VPD page
    /// 0x83, revision for the standard data).
    pub fn set_identity(&mut self, identity: Identity) {
        self.identity = identity;
    }

    pub fn identity(&self) -> &Identity {
        &self.identity
    }

    /// The transport's sector read failed: latch the sense QEMU reports
    /// (ENOMEDIUM -> NOT READY / medium not present, any other errno ->
    /// ILLEGAL REQUEST / LBA out of range) so the command ends with Error.
    /// `errno` may be given positive or negative.
    pub fn set_read_error(&mut self, errno: i32) {
        self.sense = Sense::for_read_errno(errno);
    }

    /// Wrap 2048 bytes of user data of `lba` into a 2352-byte raw sector:
    /// sync pattern, header (binary MSF as QEMU writes it, mode 1), user
    /// data, then 288 zero bytes where EDC/ECC would be (not computed, as
    /// in QEMU). Short `user` input is zero-padded, long input truncated.
    pub fn raw_sector(&self, lba: u64, user: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(2352);
        out.push(0x00);
        out.extend_from_slice(&[0xff; 10]);
        out.push(0x00);
        out.extend_from_slice(&toc::lba_to_msf(lba));
        out.push(0x01);
        let user = user.get(..2048).unwrap_or(user);
        out.extend_from_slice(user);
        out.resize(2352, 0);
        out
    }

    /// ATA soft reset / DEVICE RESET / system reset (QEMU's ide_reset):
    /// sense and any pending media-change report are cleared, the lock is
    /// released and the tray closes — without a DEVICE_TRAY_MOVED event,
    /// as QEMU 7.2 does. Queued GESN events survive.
    pub fn reset(&mut self) {
        self.sense = Sense::default();
        self.change = MediaChange::None;
        self.locked = false;
        self.tray_open = false;
        self.ua_blocked = false;
    }

    pub fn tray_open(&self) -> bool {
        self.tray_open
    }

    pub fn locked(&self) -> bool {
        self.locked
    }

    pub fn has_medium(&self) -> bool {
        self.media_bytes.is_some()
    }

    pub fn media_bytes(&self) -> Option<u64> {
        self.media_bytes
    }

    /// Tray moves the guest caused (START STOP UNIT): `true` = opened.
    /// QMP-caused moves are reported through the return values of
    /// [`Self::open_tray`] / [`Self::close_tray`] instead.
    pub fn take_tray_moves(&mut self) -> Vec<bool> {
        std::mem::take(&mut self.tray_moves)
    }

    /// Whether a media change or eject request wants an interrupt raised
    /// (then cleared).
    pub fn take_irq_request(&mut self) -> bool {
        std::mem::replace(&mut self.irq_request, false)
    }

    fn push_tray_move(&mut self, opened: bool) {
        if self.tray_moves.len() >= MAX_TRAY_MOVES {
            self.tray_moves.remove(0);
        }
        self.tray_moves.push(opened);
    }
}
