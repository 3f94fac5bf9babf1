//! The `switchyard` binary: server and CLI client in one.
fn main() {}
