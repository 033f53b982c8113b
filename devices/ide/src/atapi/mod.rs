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

/// The ATAPI CD-ROM state.
#[derive(Debug, Clone)]
pub struct Cdrom {
    // Being written: tray/lock/medium/sense/event state.
    tray_open: bool,
    locked: bool,
    media_bytes: Option<u64>,
}

impl Cdrom {
    /// A drive at power-on, with the medium it starts with (bytes), if any.
    /// A medium present at power-on is not a "change" (no unit attention).
    pub fn new(media_bytes: Option<u64>) -> Self {
        Cdrom { tray_open: false, locked: false, media_bytes }
    }

    /// Execute one packet command.
    pub fn execute(&mut self, _cdb: &[u8; 12]) -> PacketOutcome {
        PacketOutcome::Error
    }

    /// Sense key of the latched sense data (0 = NO SENSE).
    pub fn sense_key(&self) -> u8 {
        5
    }

    /// The transport's sector read failed: latch MEDIUM ERROR (or the
    /// appropriate sense for `errno`) so the command ends with Error.
    pub fn set_read_error(&mut self, _errno: i32) {}

    /// Wrap 2048 bytes of user data of `lba` into a 2352-byte raw sector.
    pub fn raw_sector(&self, _lba: u64, _user: &[u8]) -> Vec<u8> {
        vec![0; 2352]
    }

    /// ATA soft reset / DEVICE RESET / system reset (see ata-atapi.md).
    pub fn reset(&mut self) {}

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

    /// QMP wants the tray open (`force` clears the lock first).
    pub fn open_tray(&mut self, _force: bool) -> OpenTray {
        OpenTray::AlreadyOpen
    }

    /// QMP closes the tray; returns whether it moved.
    pub fn close_tray(&mut self) -> bool {
        false
    }

    /// A medium of `bytes` was inserted (tray open, by QMP).
    pub fn insert_medium(&mut self, bytes: u64) {
        self.media_bytes = Some(bytes);
    }

    /// The medium was removed (tray open, by QMP).
    pub fn remove_medium(&mut self) {
        self.media_bytes = None;
    }

    /// Tray moves the guest caused (START STOP UNIT): `true` = opened.
    pub fn take_tray_moves(&mut self) -> Vec<bool> {
        Vec::new()
    }

    /// Whether a media change wants an interrupt raised (then cleared).
    pub fn take_irq_request(&mut self) -> bool {
        false
    }
}
