//! PIIX3 IDE controller with ATA disks and ATAPI CD-ROMs (being written).

pub mod atapi;
pub mod geometry;
