//! The Switchyard plugin SDK for Rust.
