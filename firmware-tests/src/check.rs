//! The `CHECK <name> PASS|FAIL <detail>` lines the project's guests (the test kit, the Linux
//! initramfs) print on the serial console, one per check.

/// One `CHECK` line of a guest's output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    pub name: String,
    pub pass: bool,
    /// What followed PASS/FAIL (the detail and values of a failure).
    pub detail: String,
}

/// A check from the text after `CHECK `: `<name> PASS|FAIL [detail]`; None for anything else.
pub fn parse(rest: &str) -> Option<Check> {
    let mut words = rest.trim_end_matches('\r').splitn(3, ' ');
    let name = words.next()?.to_string();
    let pass = match words.next()? {
        "PASS" => true,
        "FAIL" => false,
        _ => return None,
    };
    Some(Check { name, pass, detail: words.next().unwrap_or_default().to_string() })
}
