//! What the machine and QMP see of the drives: media changes, types, CMOS.

use ironide_block::layer::{BackendId, BlockIo};

use crate::controller::{medium_sectors, Fdc};
use crate::drive::Drive;
use crate::geometry::DriveType;

impl Fdc {
    /// The backend of a drive changed (QMP insert/remove/change, read-only
    /// switch): re-read the medium, re-pick the format, raise disk change.
    pub fn media_changed(&mut self, drive: usize, block: &dyn BlockIo) {
        let fallback = self.fallback;
        let Some(d) = self.drives.get_mut(drive) else { return };
        let medium = medium_sectors(block, d.backend);
        let ro = d.backend.map(|b| block.is_read_only(b)).unwrap_or(true);
        d.media_changed = true;
        d.revalidate(medium, ro, fallback);
    }

    /// Attach another backend to a drive slot (or none), then revalidate.
    pub fn set_backend(&mut self, drive: usize, backend: Option<BackendId>, block: &dyn BlockIo) {
        if let Some(d) = self.drives.get_mut(drive) {
            d.backend = backend;
        }
        self.media_changed(drive, block);
    }

    pub fn drive(&self, drive: usize) -> Option<&Drive> {
        self.drives.get(drive)
    }

    /// Floppy drives are removable and have no tray: QMP may insert and
    /// remove media at any time, `blockdev-open-tray`/`-close-tray` do
    /// nothing and no DEVICE_TRAY_MOVED is ever sent.
    pub fn has_tray(&self) -> bool {
        false
    }

    pub fn backend(&self, drive: usize) -> Option<BackendId> {
        self.drives.get(drive).and_then(|d| d.backend)
    }

    pub fn drive_type(&self, drive: usize) -> DriveType {
        self.drives.get(drive).map_or(DriveType::None, |d| d.drive_type)
    }

    /// CMOS register 0x10: drive A's type in the high nibble, B's in the low.
    pub fn cmos_floppy_byte(&self) -> u8 {
        (self.drive_type(0).cmos_code() << 4) | self.drive_type(1).cmos_code()
    }

    /// Bits to OR into the CMOS equipment byte (0x14): 0x01 for one drive, 0x41 for two.
    pub fn equipment_bits(&self) -> u8 {
        match self.drives.iter().filter(|d| d.drive_type != DriveType::None).count() {
            0 => 0,
            1 => 0x01,
            _ => 0x41,
        }
    }

    pub fn irq_line(&self) -> u32 {
        self.irq
    }

    pub fn dma_channel(&self) -> u8 {
        self.dma_channel
    }

    /// Whether the controller waits for a block completion.
    pub fn io_in_flight(&self) -> bool {
        self.xfer.as_ref().is_some_and(|x| x.io_busy())
    }
}
