//! The harness's self-test: it passes the correct fixture and the real webhook plugin, and each
//! fault mode of `switchyard-fixture-plugin` fails exactly the checks that test the rule it
//! breaks — nothing more, nothing less. Needs the workspace's binaries built
//! (`cargo build --workspace --bins`; `scripts/test.sh` does that).

mod common;

use std::time::Duration;

use switchyard_conformance::{Options, Report, run};

fn fixture(mode: &str) -> Options {
    Options::command(common::fixture()).arg(mode)
}

/// Asserts that exactly `expected` failed, showing the whole report otherwise.
fn assert_fails_exactly(report: &Report, expected: &[&str]) {
    let mut failed = report.failed_names();
    failed.sort_unstable();
    let mut want = expected.to_vec();
    want.sort_unstable();
    assert_eq!(
        failed,
        want,
        "unexpected set of failed checks:\n{}",
        report.to_text()
    );
}

#[test]
fn passes_the_good_fixture_with_every_capability_exercised() {
    let report = run(fixture("good"));
    assert_fails_exactly(&report, &[]);
    // The good fixture declares every capability, so the declared-side checks must have run.
    for name in [
        "capabilities/test-connection-declared",
        "capabilities/connection-options-declared",
        "capabilities/unknown-resolver",
        "capabilities/migrate-config-declared",
        "secrets/not-in-output",
        "deliver/invalid-config",
        "lifecycle/parent-death",
    ] {
        let check = report.get(name).expect("selected");
        assert!(
            check.outcome.is_passed(),
            "{name} did not pass:\n{}",
            report.to_text()
        );
    }
}

#[test]
fn passes_the_webhook_plugin() {
    let report = run(Options::command(common::binary(
        "switchyard-plugin-webhook",
    )));
    assert_fails_exactly(&report, &[]);
    for name in [
        "deliver/answers",
        "deliver/cancel",
        "secrets/not-in-output",
        "deliver/payload-1mib",
    ] {
        let check = report.get(name).expect("selected");
        assert!(
            check.outcome.is_passed(),
            "{name} did not pass:\n{}",
            report.to_text()
        );
    }
}

/// One test per fault mode: `fault!(test_name, "mode", [expected failing checks])`.
macro_rules! fault {
    ($test:ident, $mode:literal, [$($check:literal),* $(,)?]) => {
        fault!($test, $mode, [$($check),*], |o: Options| o);
    };
    ($test:ident, $mode:literal, [$($check:literal),* $(,)?], $tweak:expr) => {
        #[test]
        fn $test() {
            let report = run($tweak(fixture($mode)));
            assert_fails_exactly(&report, &[$($check),*]);
        }
    };
}

fault!(
    garbage_handshake_fails_the_line_check,
    "garbage-handshake",
    ["handshake/line"]
);
fault!(
    stdout_noise_fails_the_line_check,
    "stdout-noise",
    ["handshake/line"]
);
fault!(
    exit_early_fails_the_line_check,
    "exit-early",
    ["handshake/line"]
);
fault!(
    hang_fails_the_line_check,
    "hang",
    ["handshake/line"],
    |mut o: Options| {
        // It never announces; waiting the default 10 s would only slow the suite down.
        o.timeouts.start = Duration::from_secs(2);
        o
    }
);
fault!(
    wrong_version_fails_the_version_checks,
    "wrong-version",
    ["handshake/version-offered", "describe/protocol-version",]
);
fault!(
    invalid_schema_fails_schema_validity,
    "invalid-schema",
    ["describe/schemas-valid"]
);
fault!(
    bad_x_keys_fail_schema_validity,
    "bad-x-keys",
    ["describe/schemas-valid"]
);
fault!(
    crash_on_deliver_fails_every_successful_delivery,
    "crash-on-deliver",
    [
        "deliver/answers",
        "deliver/concurrent-32",
        "deliver/cancel",
        "deliver/payload-empty",
        "deliver/payload-nested-64",
        "deliver/payload-1mib",
    ]
);
fault!(
    leak_secret_fails_the_secrets_check,
    "leak-secret",
    ["secrets/not-in-output"]
);
fault!(
    ignore_shutdown_fails_the_stop_checks,
    "ignore-shutdown",
    ["lifecycle/shutdown", "lifecycle/sigterm",]
);
fault!(
    an_orphaned_child_fails_the_parent_death_check,
    "orphan-child",
    ["lifecycle/parent-death"]
);
fault!(env_dump_breaks_no_conformance_rule, "env-dump", []);
fault!(control_chars_break_no_conformance_rule, "control-chars", []);
fault!(
    internal_on_bad_config_fails_the_in_band_check,
    "internal-on-bad-config",
    ["deliver/invalid-config",]
);
fault!(
    unimplemented_capability_fails_the_declared_check,
    "unimplemented-capability",
    ["capabilities/test-connection-declared",]
);
