//! Fuzzing entry point: the whole input path (streamer, envelope, schema)
//! against a handler that accepts everything.

use serde_json::{json, Value};

use crate::protocol::{QmpHandler, ServerInfo, Session};
use crate::{Command, Event, QmpError};

struct AcceptAll;

impl QmpHandler for AcceptAll {
    fn execute(&mut self, cmd: Command, events: &mut Vec<Event>) -> Result<Value, QmpError> {
        if let Command::BlockSetIoThrottle(t) = &cmd {
            let _ = t.to_config();
            let _ = t.sel.target();
        }
        events.push(Event::stop());
        Ok(json!({}))
    }
}

/// Feeds `data` to a fresh session in pieces (the first byte picks the
/// piece size, so splits are explored too). Must never panic or hang.
pub fn run(data: &[u8]) {
    let Some((&first, rest)) = data.split_first() else { return };
    let piece = usize::from(first % 64) + 1;
    let info = ServerInfo::default();
    let mut s = Session::new();
    let mut handler = AcceptAll;
    for chunk in rest.chunks(piece) {
        for msg in s.feed(chunk) {
            let mut events = Vec::new();
            let line = s.handle(msg, &info, &mut handler, &mut events);
            // Replies must themselves be valid JSON.
            assert!(serde_json::from_str::<Value>(&line).is_ok(), "bad reply {line}");
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn smoke() {
        super::run(b"\x07{\"execute\":\"qmp_capabilities\"}{\"execute\":\"blockdev-add\",\"arguments\":{\"driver\":\"raw\"}}\xff[[[");
        for i in 0..=255u8 {
            super::run(&[i, i, b'{', i, b'"', i]);
        }
    }
}
