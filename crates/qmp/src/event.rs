//! Asynchronous events: `{"timestamp": {...}, "event": NAME, "data": {...}}`.

use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{json, Value};

use crate::json::to_qemu_string;

/// One event, stamped with the Unix time it was created.
#[derive(Clone, Debug, PartialEq)]
pub struct Event {
    pub name: String,
    /// None: the event has no data member (STOP, RESUME).
    pub data: Option<Value>,
    pub seconds: u64,
    pub microseconds: u32,
}

impl Event {
    pub fn new(name: impl Into<String>, data: Option<Value>) -> Self {
        let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
        Event { name: name.into(), data, seconds: now.as_secs(), microseconds: now.subsec_micros() }
    }

    /// DEVICE_TRAY_MOVED: `device` is the backend name ("" if none), `id`
    /// the device's qdev id or path.
    pub fn device_tray_moved(device: &str, id: &str, tray_open: bool) -> Self {
        Self::new("DEVICE_TRAY_MOVED", Some(json!({"device": device, "id": id, "tray-open": tray_open})))
    }

    pub fn pr_manager_status_changed(id: &str, connected: bool) -> Self {
        Self::new("PR_MANAGER_STATUS_CHANGED", Some(json!({"id": id, "connected": connected})))
    }

    /// SHUTDOWN; quit uses guest=false, reason "host-qmp-quit".
    pub fn shutdown(guest: bool, reason: &str) -> Self {
        Self::new("SHUTDOWN", Some(json!({"guest": guest, "reason": reason})))
    }

    /// RESET; system_reset uses guest=false, reason "host-qmp-system-reset".
    pub fn reset(guest: bool, reason: &str) -> Self {
        Self::new("RESET", Some(json!({"guest": guest, "reason": reason})))
    }

    pub fn stop() -> Self {
        Self::new("STOP", None)
    }

    pub fn resume() -> Self {
        Self::new("RESUME", None)
    }

    /// BLOCK_IO_ERROR. `operation` is "read" or "write"; `action` is
    /// "ignore", "report" or "stop".
    pub fn block_io_error(
        device: &str,
        node_name: Option<&str>,
        operation: &str,
        action: &str,
        nospace: bool,
        reason: &str,
    ) -> Self {
        let mut data = json!({"device": device, "operation": operation, "action": action, "reason": reason});
        if let Some(map) = data.as_object_mut() {
            if let Some(n) = node_name {
                map.insert("node-name".into(), n.into());
            }
            if nospace {
                map.insert("nospace".into(), true.into());
            }
        }
        Self::new("BLOCK_IO_ERROR", Some(data))
    }

    /// The wire form, without the CRLF.
    pub fn to_wire(&self) -> String {
        let mut s = format!(
            "{{\"timestamp\": {{\"seconds\": {}, \"microseconds\": {}}}, \"event\": {}",
            self.seconds,
            self.microseconds,
            to_qemu_string(&Value::String(self.name.clone()))
        );
        if let Some(d) = &self.data {
            s.push_str(", \"data\": ");
            s.push_str(&to_qemu_string(d));
        }
        s.push('}');
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_form() {
        let mut e = Event::device_tray_moved("ide1-cd0", "cd0", true);
        e.seconds = 5;
        e.microseconds = 7;
        assert_eq!(
            e.to_wire(),
            r#"{"timestamp": {"seconds": 5, "microseconds": 7}, "event": "DEVICE_TRAY_MOVED", "data": {"device": "ide1-cd0", "id": "cd0", "tray-open": true}}"#
        );
        let mut s = Event::stop();
        s.seconds = 1;
        s.microseconds = 2;
        assert_eq!(s.to_wire(), r#"{"timestamp": {"seconds": 1, "microseconds": 2}, "event": "STOP"}"#);
    }
}
