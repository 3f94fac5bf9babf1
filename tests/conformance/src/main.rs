//! `switchyard-conformance`: run the conformance checks against a plugin binary.
fn main() {}
