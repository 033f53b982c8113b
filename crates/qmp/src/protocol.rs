//! The QMP session of one client: greeting, capabilities negotiation, the
//! request envelope, dispatch to the machine's handler and reply framing.
//! No I/O here: bytes in, lines out (the monitor moves them).

use serde_json::{json, Map, Value};

use crate::error::{ErrorClass, QmpError};
use crate::event::Event;
use crate::json::{to_qemu_string, JsonError, JsonStreamer};
use crate::schema::{self, Command, Parsed, ProtocolCommand, COMMANDS};

/// What the machine implements: one call per validated command.
///
/// Events the command causes go into `events`; they reach every negotiated
/// client before this command's return. Events with other causes (the guest
/// moving a tray, I/O errors) go through `Monitors::broadcast`.
pub trait QmpHandler {
    fn execute(&mut self, cmd: Command, events: &mut Vec<Event>) -> Result<Value, QmpError>;
}

/// The version the greeting and query-version report.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServerInfo {
    pub major: u32,
    pub minor: u32,
    pub micro: u32,
    pub package: String,
}

impl Default for ServerInfo {
    fn default() -> Self {
        // Clients gate features on the version; 7.2 is what our texts match.
        ServerInfo { major: 7, minor: 2, micro: 0, package: format!("ironide {}", env!("CARGO_PKG_VERSION")) }
    }
}

impl ServerInfo {
    fn version_json(&self) -> String {
        format!(
            "{{\"qemu\": {{\"micro\": {}, \"minor\": {}, \"major\": {}}}, \"package\": {}}}",
            self.micro,
            self.minor,
            self.major,
            to_qemu_string(&Value::String(self.package.clone()))
        )
    }

    /// The greeting line (without CRLF).
    pub fn greeting(&self) -> String {
        format!("{{\"QMP\": {{\"version\": {}, \"capabilities\": [\"oob\"]}}}}", self.version_json())
    }

    fn version_value(&self) -> Value {
        json!({"qemu": {"major": self.major, "minor": self.minor, "micro": self.micro}, "package": self.package})
    }
}

/// `{"return": ..., "id": ...}` (without CRLF).
pub fn format_return(ret: &Value, id: Option<&Value>) -> String {
    with_id(format!("{{\"return\": {}", to_qemu_string(ret)), id)
}

/// `{"error": {"class": ..., "desc": ...}, "id": ...}` (without CRLF).
pub fn format_error(err: &QmpError, id: Option<&Value>) -> String {
    let head = format!(
        "{{\"error\": {{\"class\": \"{}\", \"desc\": {}}}",
        err.class.as_str(),
        to_qemu_string(&Value::String(err.desc.clone()))
    );
    with_id(head, id)
}

fn with_id(mut s: String, id: Option<&Value>) -> String {
    if let Some(id) = id {
        s.push_str(", \"id\": ");
        s.push_str(&to_qemu_string(id));
    }
    s.push('}');
    s
}

/// A checked request envelope.
struct Request {
    name: String,
    arguments: Option<Map<String, Value>>,
}

/// The envelope rules, in QEMU's order.
fn check_envelope(v: Value) -> Result<Request, QmpError> {
    let Value::Object(mut obj) = v else {
        return Err(QmpError::generic("QMP input must be a JSON object"));
    };
    obj.remove("id");
    let mut name = None;
    let mut arguments = None;
    for (key, val) in obj {
        match key.as_str() {
            "execute" | "exec-oob" => {
                let Value::String(s) = val else {
                    return Err(QmpError::generic(format!("QMP input member '{key}' must be a string")));
                };
                if name.is_some() {
                    return Err(QmpError::generic("QMP input must not contain both 'execute' and 'exec-oob'"));
                }
                name = Some(s);
            }
            "arguments" => {
                let Value::Object(m) = val else {
                    return Err(QmpError::generic("QMP input member 'arguments' must be an object"));
                };
                arguments = Some(m);
            }
            _ => return Err(QmpError::generic(format!("QMP input member '{key}' is unexpected"))),
        }
    }
    let name = name.ok_or_else(|| QmpError::generic("QMP input lacks member 'execute'"))?;
    Ok(Request { name, arguments })
}

/// One client's protocol state.
pub struct Session {
    streamer: JsonStreamer,
    negotiated: bool,
    quit: bool,
}

impl Default for Session {
    fn default() -> Self {
        Self::new()
    }
}

impl Session {
    pub fn new() -> Self {
        Session { streamer: JsonStreamer::default(), negotiated: false, quit: false }
    }

    /// Whether qmp_capabilities has succeeded (events flow only then).
    pub fn negotiated(&self) -> bool {
        self.negotiated
    }

    /// Whether this client ran `quit` successfully.
    pub fn quit_requested(&self) -> bool {
        self.quit
    }

    /// Splits input bytes into messages.
    pub fn feed(&mut self, data: &[u8]) -> Vec<Result<Value, JsonError>> {
        self.streamer.feed(data)
    }

    /// Handles one message: the reply line (without CRLF). Events caused by
    /// the command are appended to `events`; send them first.
    pub fn handle(
        &mut self,
        msg: Result<Value, JsonError>,
        info: &ServerInfo,
        handler: &mut dyn QmpHandler,
        events: &mut Vec<Event>,
    ) -> String {
        let v = match msg {
            Ok(v) => v,
            // Malformed input has no id to echo.
            Err(e) => return format_error(&QmpError::generic(e.to_string()), None),
        };
        let id = v.as_object().and_then(|o| o.get("id")).cloned();
        match self.dispatch(v, info, handler, events) {
            Ok(ret) => format_return(&ret, id.as_ref()),
            Err(e) => format_error(&e, id.as_ref()),
        }
    }

    fn dispatch(
        &mut self,
        v: Value,
        info: &ServerInfo,
        handler: &mut dyn QmpHandler,
        events: &mut Vec<Event>,
    ) -> Result<Value, QmpError> {
        let req = check_envelope(v)?;
        let is_caps = req.name == "qmp_capabilities";
        if !self.negotiated && !is_caps {
            return Err(QmpError::command_not_found("Expecting capabilities negotiation with 'qmp_capabilities'"));
        }
        if self.negotiated && is_caps {
            return Err(QmpError::command_not_found("Capabilities negotiation is already complete, command ignored"));
        }
        match schema::parse_command(&req.name, req.arguments)? {
            Parsed::Protocol(ProtocolCommand::Capabilities { .. }) => {
                // oob is accepted; ironide runs every command in order anyway.
                self.negotiated = true;
                Ok(json!({}))
            }
            Parsed::Protocol(ProtocolCommand::QueryVersion) => Ok(info.version_value()),
            Parsed::Protocol(ProtocolCommand::QueryCommands) => {
                Ok(Value::Array(COMMANDS.iter().map(|c| json!({"name": c})).collect()))
            }
            Parsed::Machine(cmd) => {
                let is_quit = matches!(cmd, Command::Quit);
                let r = handler.execute(cmd, events);
                if is_quit && r.is_ok() {
                    self.quit = true;
                }
                r
            }
        }
    }
}

/// The error class names, for documentation and tests.
pub const ERROR_CLASSES: [ErrorClass; 5] = [
    ErrorClass::GenericError,
    ErrorClass::CommandNotFound,
    ErrorClass::DeviceNotActive,
    ErrorClass::DeviceNotFound,
    ErrorClass::KVMMissingCap,
];

#[cfg(test)]
mod tests {
    use super::*;

    struct Echo;
    impl QmpHandler for Echo {
        fn execute(&mut self, cmd: Command, events: &mut Vec<Event>) -> Result<Value, QmpError> {
            if let Command::SystemReset = cmd {
                events.push(Event::reset(false, "host-qmp-system-reset"));
            }
            Ok(json!({}))
        }
    }

    fn run(s: &mut Session, input: &str) -> Vec<String> {
        let info = ServerInfo::default();
        let mut out = Vec::new();
        for m in s.feed(input.as_bytes()) {
            let mut ev = Vec::new();
            let r = s.handle(m, &info, &mut Echo, &mut ev);
            out.extend(ev.iter().map(|e| format!("event {}", e.name)));
            out.push(r);
        }
        out
    }

    #[test]
    fn greeting_shape() {
        let g = ServerInfo::default().greeting();
        assert!(
            g.starts_with(r#"{"QMP": {"version": {"qemu": {"micro": 0, "minor": 2, "major": 7}, "package": "ironide "#)
        );
        assert!(g.ends_with(r#""}, "capabilities": ["oob"]}}"#));
        assert!(serde_json::from_str::<Value>(&g).is_ok());
    }

    #[test]
    fn negotiation_and_envelope() {
        let mut s = Session::new();
        let r = run(&mut s, r#"{"execute": "query-status", "id": 1}"#);
        assert_eq!(
            r,
            [
                r#"{"error": {"class": "CommandNotFound", "desc": "Expecting capabilities negotiation with 'qmp_capabilities'"}, "id": 1}"#
            ]
        );
        assert_eq!(
            run(&mut s, r#"{"execute": "qmp_capabilities", "arguments": {"enable": ["oob"]}}"#),
            [r#"{"return": {}}"#]
        );
        let r = run(&mut s, r#"{"execute": "qmp_capabilities", "id": "x"}"#);
        assert_eq!(
            r,
            [
                r#"{"error": {"class": "CommandNotFound", "desc": "Capabilities negotiation is already complete, command ignored"}, "id": "x"}"#
            ]
        );
        let desc = |input: &str, s: &mut Session| {
            let line = run(s, input).pop().unwrap_or_default();
            let v: Value = serde_json::from_str(&line).unwrap();
            v["error"]["desc"].as_str().unwrap_or("").to_string()
        };
        assert_eq!(desc("[]", &mut s), "QMP input must be a JSON object");
        assert_eq!(desc("\"abc\"", &mut s), "QMP input must be a JSON object");
        assert_eq!(desc("{}", &mut s), "QMP input lacks member 'execute'");
        assert_eq!(desc(r#"{"execute": 1}"#, &mut s), "QMP input member 'execute' must be a string");
        assert_eq!(
            desc(r#"{"execute": "stop", "arguments": []}"#, &mut s),
            "QMP input member 'arguments' must be an object"
        );
        assert_eq!(desc(r#"{"execute": "stop", "bar": 1}"#, &mut s), "QMP input member 'bar' is unexpected");
        assert_eq!(desc(r#"{"execute": "nosuch"}"#, &mut s), "The command nosuch has not been found");
        assert_eq!(
            run(&mut s, r#"{"exec-oob": "stop", "id": [1, {"a": null}]}"#),
            [r#"{"return": {}, "id": [1, {"a": null}]}"#]
        );
        assert_eq!(run(&mut s, r#"{"execute": "system_reset"}"#), ["event RESET", r#"{"return": {}}"#]);
    }
}
