//! GET EVENT STATUS NOTIFICATION: pending media events, polled mode.

use super::sense::asc;

/// Notification class number of the media class.
const CLASS_MEDIA: u8 = 4;
/// Media event codes.
pub const EVENT_NONE: u8 = 0;
pub const EVENT_EJECT_REQUEST: u8 = 1;
pub const EVENT_NEW_MEDIA: u8 = 2;
/// Media status bits.
pub const STATUS_TRAY_OPEN: u8 = 1;
pub const STATUS_MEDIA_PRESENT: u8 = 2;

/// Media events waiting to be reported, each at most once.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MediaEvents {
    pub new_media: bool,
    pub eject_request: bool,
}

impl MediaEvents {
    /// Answer a GESN request (`polled` = CDB byte 1 bit 0, `classes` =
    /// CDB byte 4). Events are only delivered while the tray is closed,
    /// new media before an eject request. Asynchronous mode is refused.
    pub fn poll(&mut self, polled: bool, classes: u8, tray_open: bool, medium: bool) -> Result<Vec<u8>, u8> {
        if !polled {
            return Err(asc::INV_FIELD_IN_CMD_PACKET);
        }
        let supported = 1 << CLASS_MEDIA;
        if classes & supported == 0 {
            // No event available (NEA) in any supported class.
            return Ok(vec![0, 0, 0x80, supported]);
        }
        let status = if tray_open {
            STATUS_TRAY_OPEN
        } else if medium {
            STATUS_MEDIA_PRESENT
        } else {
            0
        };
        let mut code = EVENT_NONE;
        if !tray_open {
            if self.new_media {
                code = EVENT_NEW_MEDIA;
                self.new_media = false;
            } else if self.eject_request {
                code = EVENT_EJECT_REQUEST;
                self.eject_request = false;
            }
        }
        Ok(vec![0, 4, CLASS_MEDIA, supported, code, status, 0, 0])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_event_once_new_media_first() {
        let mut e = MediaEvents { new_media: true, eject_request: true };
        assert_eq!(e.poll(true, 0x10, false, true).unwrap(), vec![0, 4, 4, 0x10, 2, 2, 0, 0]);
        assert_eq!(e.poll(true, 0x10, false, true).unwrap()[4], 1);
        assert_eq!(e.poll(true, 0x10, false, true).unwrap()[4], 0);
    }

    #[test]
    fn nothing_while_open_and_other_classes() {
        let mut e = MediaEvents { new_media: true, eject_request: false };
        assert_eq!(e.poll(true, 0x10, true, true).unwrap()[4..6], [0, 1]);
        assert!(e.new_media);
        assert_eq!(e.poll(true, 0x02, false, true).unwrap(), vec![0, 0, 0x80, 0x10]);
        assert_eq!(e.poll(false, 0x10, false, true), Err(0x24));
        assert!(e.new_media);
    }
}
