//! Character devices and sockets: `-serial`, `-chardev`, `-qmp`, `-mon`,
//! `-qtest`.

use std::path::PathBuf;

use super::error::{CmdlineError, Origin, Problem};
use super::opts::Opts;
use crate::config::{CharBackend, QmpConfig};

/// What `-serial` asked for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SerialSpec {
    Backend(CharBackend),
    /// `chardev:ID`, resolved once all `-chardev`s are known.
    Chardev(String),
    /// `-serial none`: no COM1 at all.
    None,
}

/// A `-chardev` definition.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Chardev {
    Char(CharBackend),
    /// `socket,path=`: only usable as a monitor (`-mon`).
    Socket(QmpConfig),
}

pub fn serial(origin: &Origin) -> Result<SerialSpec, CmdlineError> {
    let a = origin.arg.as_str();
    Ok(match a {
        "stdio" | "mon:stdio" => SerialSpec::Backend(CharBackend::Stdio),
        "null" => SerialSpec::Backend(CharBackend::Null),
        "none" => SerialSpec::None,
        _ => {
            if let Some(p) = a.strip_prefix("file:").filter(|p| !p.is_empty()) {
                SerialSpec::Backend(CharBackend::File(PathBuf::from(p)))
            } else if let Some(id) = a.strip_prefix("chardev:").filter(|p| !p.is_empty()) {
                SerialSpec::Chardev(id.to_string())
            } else {
                return Err(
                    origin.msg(format!("character device '{a}' is not supported (use stdio, null, none or file:PATH)"))
                );
            }
        }
    })
}

/// `server`/`wait` with QEMU's defaults (client; a server waits unless told not to).
fn socket_flags(o: &mut Opts) -> Result<(bool, bool), CmdlineError> {
    let server = o.take_bool("server")?.unwrap_or(false);
    let wait = o.take_bool("wait")?.unwrap_or(server);
    Ok((server, wait))
}

pub fn chardev(origin: &Origin) -> Result<(String, Chardev), CmdlineError> {
    let mut o = Opts::parse(origin, Some("backend"));
    let backend = o.take("backend").ok_or_else(|| o.err(Problem::Missing("backend")))?;
    let id = o.take("id").ok_or_else(|| o.err(Problem::Missing("id")))?;
    let path = |o: &mut Opts| o.take("path").map(PathBuf::from).ok_or_else(|| o.err(Problem::Missing("path")));
    let dev = match backend.as_str() {
        "file" => {
            let p = path(&mut o)?;
            o.ignore(&["append"]);
            Chardev::Char(CharBackend::File(p))
        }
        "stdio" => {
            o.ignore(&["signal", "mux"]);
            Chardev::Char(CharBackend::Stdio)
        }
        "null" => Chardev::Char(CharBackend::Null),
        "socket" => {
            let p = path(&mut o)?;
            let (server, wait) = socket_flags(&mut o)?;
            Chardev::Socket(QmpConfig { path: p, server, wait })
        }
        other => return Err(o.err(Problem::BadValue { key: "backend".into(), value: other.into() })),
    };
    o.finish()?;
    Ok((id, dev))
}

/// `unix:PATH[,server=on|off,wait=on|off]` (and the legacy `server,nowait`).
pub fn qmp(origin: &Origin) -> Result<QmpConfig, CmdlineError> {
    let Some(rest) = origin.arg.strip_prefix("unix:") else {
        return Err(origin.msg("only unix:PATH sockets are supported"));
    };
    let mut o = Opts::parse_str(origin, rest, Some("path"));
    let path = o.take("path").filter(|p| !p.is_empty()).ok_or_else(|| o.err(Problem::Missing("path")))?;
    let (server, wait) = socket_flags(&mut o)?;
    o.ignore(&["pretty"]);
    o.finish()?;
    Ok(QmpConfig { path: PathBuf::from(path), server, wait })
}

/// `-mon chardev=ID,mode=control`: the chardev id (only QMP monitors).
pub fn mon(origin: &Origin) -> Result<String, CmdlineError> {
    let mut o = Opts::parse(origin, Some("chardev"));
    let id = o.take("chardev").ok_or_else(|| o.err(Problem::Missing("chardev")))?;
    match o.take("mode").as_deref() {
        Some("control") => {}
        Some(m) => return Err(o.err(Problem::BadValue { key: "mode".into(), value: m.into() })),
        None => return Err(o.err(Problem::Msg("only mode=control (QMP) monitors are supported".into()))),
    }
    o.ignore(&["pretty"]);
    o.finish()?;
    Ok(id)
}

/// `-qtest unix:PATH`: we connect to the test's listening socket.
pub fn qtest(origin: &Origin) -> Result<PathBuf, CmdlineError> {
    match origin.arg.strip_prefix("unix:") {
        Some(p) if !p.is_empty() && !p.contains(',') => Ok(PathBuf::from(p)),
        _ => Err(origin.msg("expected unix:PATH")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn o(opt: &str, a: &str) -> Origin {
        Origin::new(opt, a)
    }

    #[test]
    fn serial_forms() {
        assert_eq!(serial(&o("-serial", "stdio")).unwrap(), SerialSpec::Backend(CharBackend::Stdio));
        assert_eq!(serial(&o("-serial", "null")).unwrap(), SerialSpec::Backend(CharBackend::Null));
        assert_eq!(serial(&o("-serial", "none")).unwrap(), SerialSpec::None);
        assert_eq!(
            serial(&o("-serial", "file:/tmp/s.log")).unwrap(),
            SerialSpec::Backend(CharBackend::File("/tmp/s.log".into()))
        );
        assert_eq!(serial(&o("-serial", "chardev:c0")).unwrap(), SerialSpec::Chardev("c0".into()));
        assert!(serial(&o("-serial", "tcp:1:2")).unwrap_err().to_string().starts_with("-serial tcp:1:2: "));
        assert!(serial(&o("-serial", "file:")).is_err());
    }

    #[test]
    fn chardevs() {
        let (id, c) = chardev(&o("-chardev", "file,id=dbg,path=/tmp/d.log")).unwrap();
        assert_eq!((id.as_str(), c), ("dbg", Chardev::Char(CharBackend::File("/tmp/d.log".into()))));
        let (_, c) = chardev(&o("-chardev", "socket,path=/tmp/q,id=char0")).unwrap();
        assert_eq!(c, Chardev::Socket(QmpConfig { path: "/tmp/q".into(), server: false, wait: false }));
        assert_eq!(chardev(&o("-chardev", "stdio,id=s,signal=off")).unwrap().1, Chardev::Char(CharBackend::Stdio));
        let t = |a: &str| chardev(&o("-chardev", a)).unwrap_err().to_string();
        assert_eq!(t("file,id=x"), "-chardev file,id=x: parameter 'path' is missing");
        assert_eq!(t("file,path=/x"), "-chardev file,path=/x: parameter 'id' is missing");
        assert_eq!(t("pty,id=x"), "-chardev pty,id=x: invalid backend= value 'pty'");
    }

    #[test]
    fn qmp_forms() {
        let q = qmp(&o("-qmp", "unix:/tmp/q.sock")).unwrap();
        assert_eq!(q, QmpConfig { path: "/tmp/q.sock".into(), server: false, wait: false });
        let q = qmp(&o("-qmp", "unix:/tmp/q.sock,server=on,wait=off")).unwrap();
        assert_eq!((q.server, q.wait), (true, false));
        let q = qmp(&o("-qmp", "unix:/tmp/q.sock,server,nowait")).unwrap();
        assert_eq!((q.server, q.wait), (true, false));
        let q = qmp(&o("-qmp", "unix:/tmp/q.sock,server")).unwrap();
        assert_eq!((q.server, q.wait), (true, true));
        let q = qmp(&o("-qmp", "unix:/tmp/a,,b")).unwrap();
        assert_eq!(q.path, PathBuf::from("/tmp/a,b"));
        assert_eq!(
            qmp(&o("-qmp", "tcp:0:4444")).unwrap_err().to_string(),
            "-qmp tcp:0:4444: only unix:PATH sockets are supported"
        );
        assert!(qmp(&o("-qmp", "unix:/q,server=maybe")).is_err());
        assert_eq!(mon(&o("-mon", "chardev=char0,mode=control")).unwrap(), "char0");
        assert!(mon(&o("-mon", "chardev=char0,mode=readline")).is_err());
        assert_eq!(qtest(&o("-qtest", "unix:/tmp/qt")).unwrap(), PathBuf::from("/tmp/qt"));
        assert!(qtest(&o("-qtest", "tcp:1")).is_err());
    }
}
