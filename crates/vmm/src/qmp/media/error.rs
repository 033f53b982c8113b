//! Why a tray or media command was refused, in QEMU's words.

use ironide_block::layer::LayerError;
use ironide_dev_ide::IdeError;
use ironide_qmp::QmpError;

/// Every refusal is a GenericError on the wire; device lookup errors
/// (DeviceNotFound) are reported before any of these.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MediaError {
    /// A hard disk (open/close tray, eject, remove, change): the name as passed.
    #[error("Device '{0}' is not removable")]
    NotRemovable(String),
    /// blockdev-insert-medium's wording of the same.
    #[error("Device is not removable")]
    InsertNotRemovable,
    #[error("Device '{0}' is locked and force was not specified, wait for tray to open and try again")]
    Locked(String),
    #[error("Tray of device '{0}' is not open")]
    TrayNotOpen(String),
    /// blockdev-insert-medium's wording of the same.
    #[error("Tray of the device is not open")]
    InsertTrayClosed,
    #[error("There already is a medium in the device")]
    HasMedium,
    #[error("Node '{0}' not found")]
    NodeNotFound(String),
    #[error("Node '{0}' is already in use")]
    NodeInUse(String),
    /// blockdev-change-medium with a format this emulator has no driver for.
    #[error("Unknown driver '{0}'")]
    UnknownFormat(String),
    #[error(transparent)]
    Layer(#[from] LayerError),
    #[error(transparent)]
    Device(#[from] IdeError),
}

impl From<MediaError> for QmpError {
    fn from(e: MediaError) -> Self {
        QmpError::generic(e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn texts_are_qemus() {
        assert_eq!(
            MediaError::Locked("cd0".into()).to_string(),
            "Device 'cd0' is locked and force was not specified, wait for tray to open and try again"
        );
        assert_eq!(MediaError::TrayNotOpen("cd0".into()).to_string(), "Tray of device 'cd0' is not open");
        assert_eq!(MediaError::NotRemovable("hd".into()).to_string(), "Device 'hd' is not removable");
        assert_eq!(MediaError::NodeInUse("n1".into()).to_string(), "Node 'n1' is already in use");
        let q: QmpError = MediaError::HasMedium.into();
        assert_eq!(q.to_json()["class"], "GenericError");
        assert_eq!(q.to_json()["desc"], "There already is a medium in the device");
    }
}
