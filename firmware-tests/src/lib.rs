//! Placeholder: real-guest tests arrive with the machine (issue 4).
