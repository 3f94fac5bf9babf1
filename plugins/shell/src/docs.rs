//! The shell provider's user-facing documentation: what the operator configures, what a
//! subscription chooses, the command's environment and input, and the exit code convention.

use serde_json::json;
use switchyard_plugin_sdk::{Documentation, HeaderDoc};

const SETUP_GUIDE: &str = "\
## Shell command

Runs a command on the Switchyard host for each event. The **operator** decides what may run:
only the commands listed in the coordinator's configuration (`[shell.commands.NAME]`, see
`switchyard serve --print-default-config`) can be chosen, by name, and a subscription never
supplies a path or a script. With no command listed, this provider is not offered.

### For the operator
```toml
[shell.commands.page-oncall]
path = \"/usr/local/bin/page-oncall\"   # absolute; no PATH lookup, no shell
args = [\"--team\", \"sre\"]             # always passed first
allow_args = false                     # may subscriptions append arguments?
timeout = \"15s\"                        # then killed with every process it started
env = { LANG = \"C.UTF-8\" }             # extra variables (values hidden in its output)
pass_env = [\"ONCALL_TOKEN\"]            # copied from the coordinator's environment (hidden too)
uid = 990                              # its own user makes the process limit exact
cpu_seconds = 20
memory_mb = 1024
open_files = 256
processes = 64
```
The command runs without a shell (unless you list one as `path`), in a fresh temporary
working directory removed afterwards, in its own process group — killed with SIGKILL when the
command exits or its timeout passes, so nothing it starts outlives it — and under the limits
above (RLIMIT_CPU, RLIMIT_AS, RLIMIT_NOFILE, RLIMIT_NPROC). When the coordinator runs as root
and no `uid` is set, commands run as nobody (65534), because the process limit does not bind
root. It is killed too if the plugin dies.

### For a subscription
Pick the **command** by name; add **args** only if the operator allows them for it; a
**secret** (a token the command needs) is stored encrypted and handed over in
`SUBSCRIPTION_SECRET`.

### What the command gets
Nothing of the coordinator's environment. Only:
- `EVENT_ID`, `EVENT_TYPE`, `DELIVERY_ID`, `ATTEMPT` (1 for the first), `TIMESTAMP`
  (RFC 3339), `SUBSCRIPTION_ID`, `SUBSCRIPTION_NAME`, `SUBSCRIPTION_SECRET` (when set);
- the payload flattened: `PAYLOAD_<KEY>` for each field, nested objects joined with `_`, keys
  upper-cased with other characters as `_` (`incidentId` → `PAYLOAD_INCIDENTID`,
  `meta.count` → `PAYLOAD_META_COUNT`), arrays as JSON text; and whole in `PAYLOAD_JSON`
  (values over 64 KiB are left out);
- `PATH` (`/usr/local/bin:/usr/bin:/bin`), `HOME` and `TMPDIR` (the working directory);
- the operator's `env` and `pass_env` variables (never the coordinator's own `SWITCHYARD_*`).

The payload is also written, as JSON, to its **stdin**.

### Exit codes
- **0**: delivered; the first line of stdout is the external id.
- **75** (`EX_TEMPFAIL`): failed for now, retried on the subscription's schedule.
- **anything else**: failed for good; the end of stderr is the error.
- a timeout is retried; death by a signal (such as SIGXCPU at the CPU limit) is final.

The first 64 KiB of stdout and the last 64 KiB of stderr are kept; secrets (the
subscription's and the values of the operator's `env` and `pass_env`) are hidden in all of it.
";

/// The provider's documentation.
#[must_use]
pub fn documentation() -> Documentation {
    Documentation {
        setup_guide: SETUP_GUIDE.to_owned(),
        example_payload: Some(json!({
            "incidentId": "inc-42",
            "title": "Checkout API down",
            "severity": "critical",
            "systemIds": ["sys-1"]
        })),
        headers: vec![
            HeaderDoc::new(
                "EVENT_ID, EVENT_TYPE, DELIVERY_ID, ATTEMPT",
                "the event and this attempt",
            ),
            HeaderDoc::new("SUBSCRIPTION_ID, SUBSCRIPTION_NAME", "the subscription"),
            HeaderDoc::new(
                "PAYLOAD_*, PAYLOAD_JSON",
                "the payload, flattened and whole",
            ),
        ],
        external_docs_url: None,
    }
}
