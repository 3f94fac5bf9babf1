//! The result of a conformance run and its three renderings: human-readable text, JSON and
//! JUnit XML. Nothing here runs checks; it only records and prints what the runner found.

use std::fmt::Write as _;
use std::time::Duration;

use serde::Serialize;

/// What one check concluded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "status", rename_all = "lowercase")]
pub enum Outcome {
    /// The plugin behaved as required; `detail` says what was observed (may be empty).
    Passed {
        /// What was observed, for the curious reader.
        detail: String,
    },
    /// The plugin broke the rule the check tests.
    Failed {
        /// What went wrong and, where possible, how to fix it.
        reason: String,
    },
    /// The check did not apply (a capability not declared, a precondition not met, …).
    Skipped {
        /// Why the check did not run.
        reason: String,
    },
    /// Not a rule the plugin broke but advice: what the host guarantees by itself, which the
    /// plugin would do well to guarantee too (e.g. its own parent watch). Never a failure.
    Recommendation {
        /// What is recommended, and why.
        reason: String,
    },
}

impl Outcome {
    /// A short upper-case label: `PASS`, `FAIL`, `SKIP` or `NOTE` (a recommendation).
    #[must_use]
    pub fn label(&self) -> &'static str {
        match self {
            Outcome::Passed { .. } => "PASS",
            Outcome::Failed { .. } => "FAIL",
            Outcome::Skipped { .. } => "SKIP",
            Outcome::Recommendation { .. } => "NOTE",
        }
    }

    /// True for [`Outcome::Recommendation`].
    #[must_use]
    pub fn is_recommendation(&self) -> bool {
        matches!(self, Outcome::Recommendation { .. })
    }

    /// True for [`Outcome::Failed`].
    #[must_use]
    pub fn is_failed(&self) -> bool {
        matches!(self, Outcome::Failed { .. })
    }

    /// True for [`Outcome::Passed`].
    #[must_use]
    pub fn is_passed(&self) -> bool {
        matches!(self, Outcome::Passed { .. })
    }

    /// True for [`Outcome::Skipped`].
    #[must_use]
    pub fn is_skipped(&self) -> bool {
        matches!(self, Outcome::Skipped { .. })
    }

    fn text(&self) -> &str {
        match self {
            Outcome::Passed { detail } => detail,
            Outcome::Failed { reason }
            | Outcome::Skipped { reason }
            | Outcome::Recommendation { reason } => reason,
        }
    }
}

/// One check's entry in the report.
#[derive(Debug, Clone, Serialize)]
pub struct CheckReport {
    /// The check's name, `area/what`, e.g. `handshake/no-cookie`.
    pub name: String,
    /// One sentence saying what the check requires of a plugin.
    pub description: String,
    /// The verdict.
    #[serde(flatten)]
    pub outcome: Outcome,
    /// Wall time the check took, in milliseconds.
    #[serde(rename = "duration_ms", serialize_with = "as_millis")]
    pub duration: Duration,
}

fn as_millis<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_u64(u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// The result of a whole run over one plugin.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// What was tested: the command line or the socket path.
    pub target: String,
    /// Every selected check, in the order they ran.
    pub checks: Vec<CheckReport>,
    /// Wall time of the whole run, in milliseconds.
    #[serde(rename = "duration_ms", serialize_with = "as_millis")]
    pub duration: Duration,
}

impl Report {
    /// True when no check failed.
    #[must_use]
    pub fn passed(&self) -> bool {
        !self.checks.iter().any(|c| c.outcome.is_failed())
    }

    /// The names of the failed checks, in run order.
    #[must_use]
    pub fn failed_names(&self) -> Vec<&str> {
        self.names_where(Outcome::is_failed)
    }

    /// The names of the passed checks, in run order.
    #[must_use]
    pub fn passed_names(&self) -> Vec<&str> {
        self.names_where(Outcome::is_passed)
    }

    /// The names of the skipped checks, in run order.
    #[must_use]
    pub fn skipped_names(&self) -> Vec<&str> {
        self.names_where(Outcome::is_skipped)
    }

    /// The names of the checks that ended with a recommendation, in run order.
    #[must_use]
    pub fn recommendation_names(&self) -> Vec<&str> {
        self.names_where(Outcome::is_recommendation)
    }

    /// The entry of the check called `name`, if it was selected.
    #[must_use]
    pub fn get(&self, name: &str) -> Option<&CheckReport> {
        self.checks.iter().find(|c| c.name == name)
    }

    fn names_where(&self, keep: fn(&Outcome) -> bool) -> Vec<&str> {
        let hits = self.checks.iter().filter(|c| keep(&c.outcome));
        hits.map(|c| c.name.as_str()).collect()
    }

    /// Counts of (passed, failed, skipped).
    #[must_use]
    pub fn counts(&self) -> (usize, usize, usize) {
        let n = |f: fn(&Outcome) -> bool| self.checks.iter().filter(|c| f(&c.outcome)).count();
        (
            n(Outcome::is_passed),
            n(Outcome::is_failed),
            n(Outcome::is_skipped),
        )
    }

    /// Human-readable text: one line per check, the reason indented below failures and skips.
    #[must_use]
    pub fn to_text(&self) -> String {
        let mut out = format!("conformance run over {}\n", self.target);
        for c in &self.checks {
            let ms = c.duration.as_millis();
            let _ = writeln!(out, "{} {} ({ms} ms)", c.outcome.label(), c.name);
            let text = c.outcome.text();
            if !text.is_empty() && !c.outcome.is_passed() {
                for line in text.lines() {
                    let _ = writeln!(out, "     {line}");
                }
            }
        }
        let (p, f, s) = self.counts();
        let secs = self.duration.as_secs_f64();
        let notes = match self.recommendation_names().len() {
            0 => String::new(),
            n => format!(", {n} recommendation{}", if n == 1 { "" } else { "s" }),
        };
        let _ = writeln!(
            out,
            "{p} passed, {f} failed, {s} skipped{notes} in {secs:.2} s"
        );
        out
    }

    /// The report as pretty-printed JSON: this type's serde form plus `passed` (no failure)
    /// and `counts` (`passed`, `failed`, `skipped`, `recommendations`).
    #[must_use]
    pub fn to_json(&self) -> String {
        let mut value = serde_json::to_value(self).unwrap_or_default();
        let (passed, failed, skipped) = self.counts();
        if let Some(map) = value.as_object_mut() {
            map.insert("passed".to_owned(), self.passed().into());
            let counts = serde_json::json!({
                "passed": passed,
                "failed": failed,
                "skipped": skipped,
                "recommendations": self.recommendation_names().len(),
            });
            map.insert("counts".to_owned(), counts);
        }
        serde_json::to_string_pretty(&value).unwrap_or_default()
    }

    /// The report as JUnit XML: one `<testsuite>` per run, one `<testcase>` per check, with
    /// `<failure>` or `<skipped>` children.
    #[must_use]
    pub fn to_junit(&self) -> String {
        let (_, failures, skipped) = self.counts();
        let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
        let _ = writeln!(
            out,
            "<testsuites name=\"switchyard-conformance\" tests=\"{}\" failures=\"{failures}\" \
             skipped=\"{skipped}\" time=\"{:.3}\">",
            self.checks.len(),
            self.duration.as_secs_f64()
        );
        let _ = writeln!(
            out,
            "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{failures}\" errors=\"0\" \
             skipped=\"{skipped}\" time=\"{:.3}\">",
            xml_escape(&self.target),
            self.checks.len(),
            self.duration.as_secs_f64()
        );
        for c in &self.checks {
            junit_case(&mut out, c);
        }
        out.push_str("  </testsuite>\n</testsuites>\n");
        out
    }
}

fn junit_case(out: &mut String, c: &CheckReport) {
    let (area, _) = c.name.split_once('/').unwrap_or(("conformance", ""));
    let _ = write!(
        out,
        "    <testcase name=\"{}\" classname=\"{}\" time=\"{:.3}\"",
        xml_escape(&c.name),
        xml_escape(area),
        c.duration.as_secs_f64()
    );
    match &c.outcome {
        Outcome::Passed { .. } => out.push_str("/>\n"),
        Outcome::Failed { reason } => {
            let _ = write!(
                out,
                ">\n      <failure message=\"{}\" type=\"conformance\">{}</failure>\n    </testcase>\n",
                xml_escape(first_line(reason)),
                xml_escape(reason)
            );
        }
        Outcome::Skipped { reason } => {
            let _ = write!(
                out,
                ">\n      <skipped message=\"{}\"/>\n    </testcase>\n",
                xml_escape(reason)
            );
        }
        // A passed test case that says what is recommended.
        Outcome::Recommendation { reason } => {
            let _ = write!(
                out,
                ">\n      <system-out>recommendation: {}</system-out>\n    </testcase>\n",
                xml_escape(reason)
            );
        }
    }
}

fn first_line(s: &str) -> &str {
    s.lines().next().unwrap_or("")
}

/// Escapes text for XML attribute values and element content. Characters XML 1.0 cannot carry
/// at all (most C0 controls) are replaced by U+FFFD, since plugin output may contain them.
#[must_use]
pub fn xml_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for ch in s.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\n' => out.push_str("&#10;"),
            '\t' | '\r' => {
                let _ = write!(out, "&#{};", u32::from(ch));
            }
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup_and_controls() {
        assert_eq!(
            xml_escape("a<b>&\"c'\u{1}"),
            "a&lt;b&gt;&amp;&quot;c&apos;\u{FFFD}"
        );
    }
}
