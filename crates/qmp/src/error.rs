//! QMP error replies: a class and a human-readable description.

use std::fmt;

/// The error classes QMP clients know (the Rust `qapi` crate rejects others).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ErrorClass {
    GenericError,
    CommandNotFound,
    DeviceNotActive,
    DeviceNotFound,
    KVMMissingCap,
}

impl ErrorClass {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorClass::GenericError => "GenericError",
            ErrorClass::CommandNotFound => "CommandNotFound",
            ErrorClass::DeviceNotActive => "DeviceNotActive",
            ErrorClass::DeviceNotFound => "DeviceNotFound",
            ErrorClass::KVMMissingCap => "KVMMissingCap",
        }
    }
}

impl fmt::Display for ErrorClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An error reply `{"error": {"class": ..., "desc": ...}}`.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{class}: {desc}")]
pub struct QmpError {
    pub class: ErrorClass,
    pub desc: String,
}

impl QmpError {
    pub fn new(class: ErrorClass, desc: impl Into<String>) -> Self {
        QmpError { class, desc: desc.into() }
    }

    /// GenericError, the class of almost every failure.
    pub fn generic(desc: impl Into<String>) -> Self {
        Self::new(ErrorClass::GenericError, desc)
    }

    pub fn command_not_found(desc: impl Into<String>) -> Self {
        Self::new(ErrorClass::CommandNotFound, desc)
    }

    /// DeviceNotFound "Device 'x' not found".
    pub fn device_not_found(name: &str) -> Self {
        Self::new(ErrorClass::DeviceNotFound, format!("Device '{name}' not found"))
    }

    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({"class": self.class.as_str(), "desc": self.desc})
    }
}
