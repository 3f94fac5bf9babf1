//! The Switchyard plugin conformance harness.
