//! What a finished run means for the delivery — the exit code convention: 0 delivered (the
//! external id is the first line of stdout), 75 (`EX_TEMPFAIL` of sysexits.h) retry later,
//! any other code permanent; a timeout is retryable (the next attempt may be faster); a
//! signal (the CPU limit's SIGXCPU, a crash) is permanent. The error carries the end of
//! stderr. Every text that leaves here is scrubbed of the run's secrets (the subscription's
//! `secret` and the values of the operator's `env`), in the forms a command may print them.

use serde_json::Value;
use switchyard_plugin_sdk::DeliveryResult;
use switchyard_plugin_sdk::lifecycle::cut_chars;
use switchyard_scrub::Scrubber;

use crate::run::{Ended, Finished};

/// The exit code that asks for a retry (sysexits.h `EX_TEMPFAIL`).
pub const EX_TEMPFAIL: i32 = 75;
/// The longest external id kept.
const ID_CHARS: usize = 255;
/// How much of stderr goes into an error.
const ERROR_TAIL_CHARS: usize = 1000;
/// How much of the output goes into the attempt's response excerpt.
const EXCERPT_CHARS: usize = 4000;

/// The scrubber of one run: `secrets` are hidden in every form the scrub crate knows.
#[must_use]
pub fn scrubber<'a>(secrets: impl IntoIterator<Item = &'a str>) -> Scrubber {
    let values: Vec<Value> = secrets
        .into_iter()
        .map(|s| Value::String(s.into()))
        .collect();
    Scrubber::new(values.iter(), std::iter::empty())
}

/// The delivery result of `finished`, its texts scrubbed by `scrub`.
#[must_use]
pub fn result(finished: &Finished, timeout_secs: f64, scrub: &Scrubber) -> DeliveryResult {
    let clean = |bytes: &[u8]| scrub.scrub(&String::from_utf8_lossy(bytes)).into_owned();
    let stderr = clean(&finished.stderr);
    let tail = tail_of(stderr.trim_end());
    let result = match finished.ended {
        Ended::Exited(0) => {
            let stdout = clean(&finished.stdout);
            let id = stdout.lines().next().map(str::trim).unwrap_or_default();
            let id = (!id.is_empty()).then(|| cut_chars(id, ID_CHARS));
            return DeliveryResult::delivered(id);
        }
        Ended::Exited(EX_TEMPFAIL) => DeliveryResult::retryable(format!(
            "the command asked to be retried (exit {EX_TEMPFAIL}): {tail}"
        )),
        Ended::Exited(code) => {
            DeliveryResult::permanent(format!("the command failed (exit {code}): {tail}"))
        }
        Ended::TimedOut => DeliveryResult::retryable(format!(
            "the command timed out after {timeout_secs}s and was killed with every process it \
             started: {tail}"
        )),
        Ended::Signalled(signal) => DeliveryResult::permanent(format!(
            "the command was killed by {}: {tail}",
            signal_name(signal)
        )),
    };
    result.with_response_excerpt(cut_chars(stderr.trim_end(), EXCERPT_CHARS))
}

fn tail_of(stderr: &str) -> String {
    if stderr.is_empty() {
        return "it wrote nothing to stderr".into();
    }
    let count = stderr.chars().count();
    if count <= ERROR_TAIL_CHARS {
        return stderr.to_owned();
    }
    let tail: String = stderr.chars().skip(count - ERROR_TAIL_CHARS).collect();
    format!("…{tail}")
}

fn signal_name(signal: i32) -> String {
    match signal {
        libc::SIGXCPU => "SIGXCPU (it used up its CPU time limit, cpu_seconds)".into(),
        libc::SIGKILL => {
            "SIGKILL (the CPU hard limit, or the kernel's out-of-memory killer)".into()
        }
        libc::SIGSEGV => {
            "SIGSEGV (a crash; also how some programs end when memory_mb is too low)".into()
        }
        other => nix::sys::signal::Signal::try_from(other)
            .map_or_else(|_| format!("signal {other}"), |s| s.as_str().to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use switchyard_plugin_sdk::Outcome;

    fn finished(ended: Ended, stdout: &str, stderr: &str) -> Finished {
        Finished {
            ended,
            stdout: stdout.into(),
            stderr: stderr.into(),
        }
    }

    #[test]
    fn exit_codes_follow_the_convention() {
        let none = Scrubber::default();
        let ok = result(
            &finished(Ended::Exited(0), " TICKET-9 \nmore", ""),
            1.0,
            &none,
        );
        assert_eq!(
            ok.outcome,
            Outcome::Delivered {
                external_id: Some("TICKET-9".into())
            }
        );
        let retry = result(&finished(Ended::Exited(75), "", "busy\n"), 1.0, &none);
        assert!(
            matches!(&retry.outcome, Outcome::Retryable { error, .. } if error.ends_with("busy"))
        );
        let failed = result(&finished(Ended::Exited(3), "", ""), 1.0, &none);
        assert!(
            matches!(&failed.outcome, Outcome::Permanent { error } if error.contains("exit 3"))
        );
        let cpu = result(
            &finished(Ended::Signalled(libc::SIGXCPU), "", ""),
            1.0,
            &none,
        );
        assert!(
            matches!(&cpu.outcome, Outcome::Permanent { error } if error.contains("cpu_seconds"))
        );
        let slow = result(&finished(Ended::TimedOut, "", ""), 2.5, &none);
        assert!(
            matches!(&slow.outcome, Outcome::Retryable { error, .. } if error.contains("2.5s"))
        );
    }

    #[test]
    fn secrets_are_hidden_in_ids_and_errors() {
        let scrub = scrubber(["hunter22-token"]);
        let ok = result(
            &finished(Ended::Exited(0), "id-hunter22-token", ""),
            1.0,
            &scrub,
        );
        assert_eq!(
            ok.outcome,
            Outcome::Delivered {
                external_id: Some("id-[REDACTED]".into())
            }
        );
        let failed = result(
            &finished(Ended::Exited(1), "", "bad token hunter22-token"),
            1.0,
            &scrub,
        );
        assert!(!format!("{failed:?}").contains("hunter22"), "{failed:?}");
    }
}
