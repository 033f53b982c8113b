//! Tray, lock and medium operations requested by the management side
//! (QMP), and the media-change latch they share with the guest's view.

use super::{Cdrom, MediaChange, OpenTray};

impl Cdrom {
    /// QMP wants the tray open (`force` clears the lock first). On a
    /// locked drive the guest is first asked to eject (GESN event, IRQ);
    /// unless forced the tray then stays closed until the guest unlocks
    /// and ejects itself.
    pub fn open_tray(&mut self, force: bool) -> OpenTray {
        if self.tray_open {
            return OpenTray::AlreadyOpen;
        }
        if self.locked {
            self.events.eject_request = true;
            self.irq_request = true;
            if !force {
                return OpenTray::EjectRequested;
            }
            self.locked = false;
        }
        self.tray_open = true;
        self.media_changed();
        OpenTray::Opened
    }

    /// QMP closes the tray; returns whether it moved.
    pub fn close_tray(&mut self) -> bool {
        if !self.tray_open {
            return false;
        }
        self.tray_open = false;
        self.media_changed();
        true
    }

    /// A medium of `bytes` was inserted (tray open, by QMP). The change is
    /// reported when the tray closes. Should it happen with the tray
    /// closed (the QMP layer refuses that), it counts as a change at once.
    pub fn insert_medium(&mut self, bytes: u64) {
        self.media_bytes = Some(bytes);
        if !self.tray_open {
            self.media_changed();
        }
    }

    /// The medium was removed (tray open, by QMP). With the tray closed
    /// (refused by the QMP layer) it counts as a change at once.
    pub fn remove_medium(&mut self) {
        self.media_bytes = None;
        if !self.tray_open {
            self.media_changed();
        }
    }

    /// The tray moved by management action (QEMU's media change
    /// callback): the guest will see NOT READY then UNIT ATTENTION, a new
    /// media event replaces any eject request, and an interrupt is due.
    fn media_changed(&mut self) {
        self.change = MediaChange::Pending;
        self.events.new_media = true;
        self.events.eject_request = false;
        self.irq_request = true;
    }
}
