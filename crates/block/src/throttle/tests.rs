//! Scenario tests and property tests across the throttle module.
