//! The `switchyard` binary: `switchyard serve` runs the coordinator; every other subcommand is
//! a client of a running coordinator's platform API. All the work is in [`switchyard::cli`].
//!
//! The binary uses mimalloc as its global allocator: the delivery path allocates and frees many
//! short-lived buffers (sled node copies, protobuf and JSON text), where glibc's malloc spent
//! about a sixth of the coordinator's CPU (`malloc_consolidate`, `unlink_chunk`) under load.

use std::process::ExitCode;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    switchyard::cli::main()
}
