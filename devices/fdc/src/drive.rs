//! One floppy drive: its head position and the geometry of its medium.

use ironide_block::layer::BackendId;

use crate::geometry::{pick_format, DriveType, Rate};

/// Result of positioning the head for a sector.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Seek {
    /// Already there (same sector).
    Same,
    /// Moved to another cylinder.
    Moved,
    /// Same cylinder, other sector or head.
    Repositioned,
    /// The cylinder or head does not exist: the position did not change.
    NoTrack,
    /// The sector number is beyond the track: the position did not change.
    NoSector,
}

/// A drive's state.
#[derive(Clone, Debug)]
pub struct Drive {
    pub backend: Option<BackendId>,
    /// Type after `Auto` was settled.
    pub drive_type: DriveType,
    pub has_medium: bool,
    pub read_only: bool,
    pub track: u8,
    pub head: u8,
    pub sect: u8,
    /// Sectors per track of the medium (0xFF when empty, see `set_empty`).
    pub last_sect: u8,
    pub max_track: u8,
    pub double_sided: bool,
    pub media_rate: Rate,
    pub media_changed: bool,
    pub perpendicular: u8,
}

impl Drive {
    pub fn new(backend: Option<BackendId>, drive_type: DriveType) -> Self {
        Drive {
            backend,
            drive_type,
            has_medium: false,
            read_only: true,
            track: 0,
            head: 0,
            sect: 1,
            last_sect: 0,
            max_track: 0,
            double_sided: false,
            media_rate: Rate::R500K,
            media_changed: true,
            perpendicular: 0,
        }
    }

    /// Re-read the medium state: `sectors` of 512 bytes when present.
    pub fn revalidate(&mut self, medium: Option<u64>, read_only: bool, fallback: DriveType) {
        self.read_only = read_only;
        if self.drive_type == DriveType::None {
            self.has_medium = false;
            self.last_sect = 0;
            self.max_track = 0;
            self.double_sided = false;
            return;
        }
        match medium {
            None => {
                self.has_medium = false;
                // Seeks keep working on an empty drive.
                self.last_sect = 0xFF;
                self.max_track = 0xFF;
            }
            Some(sectors) => {
                self.has_medium = true;
                if let Some(f) = pick_format(self.drive_type, fallback, sectors) {
                    self.last_sect = f.sectors;
                    self.max_track = f.tracks;
                    self.double_sided = f.heads > 1;
                    self.media_rate = f.rate;
                }
            }
        }
    }

    pub fn heads(&self) -> u32 {
        if self.double_sided {
            2
        } else {
            1
        }
    }

    /// Linear sector of (head, track, sect) with this drive's geometry.
    pub fn lba_of(&self, head: u8, track: u8, sect: u8) -> u64 {
        let spt = u64::from(self.last_sect);
        (u64::from(track) * u64::from(self.heads()) + u64::from(head)) * spt + u64::from(sect).saturating_sub(1)
    }

    /// Linear sector under the head.
    pub fn lba(&self) -> u64 {
        self.lba_of(self.head, self.track, self.sect)
    }

    /// Position the head; a move to another cylinder with a medium present
    /// clears the disk-change line.
    pub fn seek(&mut self, head: u8, track: u8, sect: u8) -> Seek {
        if track > self.max_track || (head != 0 && !self.double_sided) {
            return Seek::NoTrack;
        }
        if sect > self.last_sect {
            return Seek::NoSector;
        }
        if self.lba_of(head, track, sect) == self.lba() {
            return Seek::Same;
        }
        self.head = head;
        let moved = self.track != track;
        if moved && self.has_medium {
            self.media_changed = false;
        }
        self.track = track;
        self.sect = sect;
        if moved {
            Seek::Moved
        } else {
            Seek::Repositioned
        }
    }

    pub fn recalibrate(&mut self) {
        self.seek(0, 0, 1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn disk144() -> Drive {
        let mut d = Drive::new(None, DriveType::D144);
        d.revalidate(Some(2880), false, DriveType::D288);
        d
    }

    #[test]
    fn lba_and_seek() {
        let mut d = disk144();
        assert_eq!((d.last_sect, d.max_track, d.double_sided), (18, 80, true));
        assert_eq!(d.seek(1, 2, 3), Seek::Moved);
        assert_eq!(d.lba(), (2 * 2 + 1) * 18 + 2);
        assert!(!d.media_changed);
        assert_eq!(d.seek(1, 81, 1), Seek::NoTrack);
        assert_eq!(d.seek(1, 2, 19), Seek::NoSector);
        assert_eq!(d.seek(1, 2, 3), Seek::Same);
    }

    #[test]
    fn empty_drive_still_seeks_and_keeps_dskchg() {
        let mut d = Drive::new(None, DriveType::D144);
        d.revalidate(None, false, DriveType::D288);
        assert_eq!((d.last_sect, d.max_track), (0xFF, 0xFF));
        assert_eq!(d.seek(0, 5, 1), Seek::Moved);
        assert!(d.media_changed);
    }
}
