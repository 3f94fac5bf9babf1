//! Shared by the harness's own tests: finding the workspace's built binaries (the plugins under
//! test live beside this test binary's `deps/` directory).

use std::path::{Path, PathBuf};

/// The path of a workspace binary, with a clear message when it has not been built.
pub fn binary(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("the test binary's path");
    // target/debug/deps/<test>-<hash> → target/debug
    let dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("a target directory");
    let path = dir.join(name);
    assert!(
        path.exists(),
        "{} is missing: run `cargo build --workspace --bins` first",
        path.display()
    );
    path
}

/// The fixture plugin binary.
#[allow(dead_code)] // not every test binary that includes this module uses it
pub fn fixture() -> PathBuf {
    binary("switchyard-fixture-plugin")
}
