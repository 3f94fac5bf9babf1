//! The `switchyard` binary: `switchyard serve` runs the coordinator; every other subcommand is
//! a client of a running coordinator's platform API. All the work is in [`switchyard::cli`].

use std::process::ExitCode;

fn main() -> ExitCode {
    switchyard::cli::main()
}
