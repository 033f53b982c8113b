//! Command-line errors. Every error is one line naming the option and its
//! argument, QEMU-style (`-drive file=x,if=scsi: invalid if= value 'scsi'`);
//! the binary prints it after `ironide: ` and exits 1.

use std::fmt;

use ironide_block::throttle::ThrottleConfigError;

/// What is wrong with an option's argument.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Problem {
    #[error("invalid parameter '{0}'")]
    UnknownKey(String),
    #[error("parameter '{0}' is missing")]
    Missing(&'static str),
    #[error("parameter '{key}' expects 'on' or 'off', not '{value}'")]
    BadBool { key: String, value: String },
    #[error("parameter '{key}' expects a number, not '{value}'")]
    BadNumber { key: String, value: String },
    #[error("parameter '{key}' expects a size (like 512, 64M or 1G), not '{value}'")]
    BadSize { key: String, value: String },
    /// An enumerated value outside its set: `invalid if= value 'scsi'`.
    #[error("invalid {key}= value '{value}'")]
    BadValue { key: String, value: String },
    #[error("{0}")]
    Throttle(#[from] ThrottleConfigError),
    /// Anything more specific (conflicts, unknown names, ranges).
    #[error("{0}")]
    Msg(String),
}

/// A command-line error.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CmdlineError {
    #[error("invalid option: {0}")]
    UnknownOption(String),
    #[error("{0}: requires an argument")]
    MissingArgument(String),
    #[error("{}", Located { option, arg, problem })]
    Invalid { option: String, arg: String, problem: Problem },
}

impl CmdlineError {
    pub fn invalid(option: &str, arg: &str, problem: Problem) -> Self {
        CmdlineError::Invalid { option: option.to_string(), arg: arg.to_string(), problem }
    }

    /// The problem, for `Invalid` errors.
    pub fn problem(&self) -> Option<&Problem> {
        match self {
            CmdlineError::Invalid { problem, .. } => Some(problem),
            _ => None,
        }
    }
}

struct Located<'a> {
    option: &'a str,
    arg: &'a str,
    problem: &'a Problem,
}

impl fmt::Display for Located<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.arg.is_empty() {
            write!(f, "{}: {}", self.option, self.problem)
        } else {
            write!(f, "{} {}: {}", self.option, self.arg, self.problem)
        }
    }
}

/// Where an option came from, carried along so that errors found later
/// (placement, names) still name the option that caused them.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Origin {
    pub option: String,
    pub arg: String,
}

impl Origin {
    pub fn new(option: &str, arg: &str) -> Self {
        Origin { option: option.to_string(), arg: arg.to_string() }
    }

    pub fn err(&self, problem: Problem) -> CmdlineError {
        CmdlineError::invalid(&self.option, &self.arg, problem)
    }

    pub fn msg(&self, text: impl Into<String>) -> CmdlineError {
        self.err(Problem::Msg(text.into()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_messages() {
        let e = CmdlineError::invalid(
            "-drive",
            "file=x,if=scsi",
            Problem::BadValue { key: "if".into(), value: "scsi".into() },
        );
        assert_eq!(e.to_string(), "-drive file=x,if=scsi: invalid if= value 'scsi'");
        assert_eq!(CmdlineError::UnknownOption("-foo".into()).to_string(), "invalid option: -foo");
        assert_eq!(CmdlineError::MissingArgument("-m".into()).to_string(), "-m: requires an argument");
        let e = CmdlineError::invalid("-initrd", "", Problem::Msg("only allowed with -kernel".into()));
        assert_eq!(e.to_string(), "-initrd: only allowed with -kernel");
    }
}
