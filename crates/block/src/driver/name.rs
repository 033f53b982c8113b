//! Node names, with QEMU's rules.

use crate::error::OpenError;

/// Longest node name QEMU accepts (its buffer holds 31 bytes plus NUL).
pub const MAX_NODE_NAME: usize = 31;

/// A user-given node name: a letter, then letters, digits, `-`, `.`, `_`;
/// at most 31 bytes.
pub fn check_node_name(name: &str) -> Result<(), OpenError> {
    let mut chars = name.chars();
    let well_formed = chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_'));
    if !well_formed {
        return Err(OpenError::Invalid(format!("Invalid node-name: '{name}'")));
    }
    if name.len() > MAX_NODE_NAME {
        return Err(OpenError::Invalid("Node name too long".to_string()));
    }
    Ok(())
}

/// Whether `name` is an automatic name (users cannot start one with `#`).
pub fn is_auto_name(name: &str) -> bool {
    name.starts_with('#')
}

/// Generator of automatic node names for `-drive` backends and inline
/// children: `#block100`, `#block101`, ... QEMU's automatic names are
/// `#block` plus a counter and two random digits, so at least three digits;
/// ironide keeps the shape but counts deterministically from 100 so that
/// runs are reproducible. They cannot collide with user names, which must
/// start with a letter.
#[derive(Debug, Clone)]
pub struct AutoNames {
    next: u64,
}

impl Default for AutoNames {
    fn default() -> Self {
        AutoNames { next: 100 }
    }
}

impl AutoNames {
    pub fn new() -> Self {
        Self::default()
    }

    /// The next unused name.
    pub fn next_name(&mut self) -> String {
        let n = self.next;
        self.next += 1;
        format!("#block{n:03}")
    }
}

impl Iterator for AutoNames {
    type Item = String;
    fn next(&mut self) -> Option<String> {
        Some(self.next_name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules() {
        for ok in ["a", "disk0", "my-disk.2_x", "A", "a234567890123456789012345678901"] {
            assert!(check_node_name(ok).is_ok(), "{ok}");
        }
        for bad in ["1abc", "", "#block100", "-a", "a b", "a/b", "é"] {
            assert_eq!(check_node_name(bad).unwrap_err().to_string(), format!("Invalid node-name: '{bad}'"));
        }
        assert_eq!(check_node_name("a2345678901234567890123456789012").unwrap_err().to_string(), "Node name too long");
    }

    #[test]
    fn auto_names() {
        let mut a = AutoNames::new();
        assert_eq!(a.next_name(), "#block100");
        assert_eq!(a.next(), Some("#block101".to_string()));
        assert!(is_auto_name("#block101"));
        assert!(check_node_name("#block101").is_err());
    }
}
