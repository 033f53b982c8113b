//! Errors of the IDE controller's management interface and of DMA.

/// Why a QMP-side media or configuration request was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdeError {
    #[error("no IDE channel {0}")]
    NoChannel(usize),
    #[error("no drive at IDE channel {channel} unit {unit}")]
    NoDrive { channel: usize, unit: usize },
    #[error("IDE channel {channel} unit {unit} is already in use")]
    Occupied { channel: usize, unit: usize },
    #[error("Device is not removable")]
    NotRemovable,
    #[error("Tray of the device is not open")]
    TrayClosed,
    #[error("There already is a medium in the device")]
    MediumPresent,
}

/// Why a bus-master transfer could not touch guest memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum DmaError {
    #[error("PRD table entry at {addr:#x} is outside guest RAM")]
    PrdOutsideRam { addr: u64 },
    #[error("DMA buffer {addr:#x}+{len:#x} is outside guest RAM")]
    BufferOutsideRam { addr: u64, len: u64 },
}
