//! Placeholder: filled by a later issue (see docs/architecture.md).
