//! The shell provider's subscription configuration (schema version 1): which of the
//! operator's commands to run (a name from the options resolver, never a path or a script),
//! the arguments appended when the operator allows them, and an optional secret handed to the
//! command in `SUBSCRIPTION_SECRET`.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use switchyard_plugin_sdk::{Diagnostic, Secret};

use crate::allowed::Allowed;

/// The options resolver listing the operator's commands.
pub const COMMAND_RESOLVER: &str = "commands";

/// A shell subscription's settings.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schemars(title = "Shell command")]
pub struct ShellConfig {
    /// The command to run, by the name the operator gave it in the coordinator's
    /// `[shell.commands]`.
    #[schemars(length(min = 1, max = 64), extend("x-options-resolver" = COMMAND_RESOLVER))]
    pub command: String,
    /// Arguments appended to the operator's own, one per item (no shell parses them). Only
    /// when the operator allows it for this command (`allow_args`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 32), inner(length(max = 4096)))]
    pub args: Vec<String>,
    /// A secret for the command (a token it needs), in its `SUBSCRIPTION_SECRET` variable.
    /// Stored encrypted; hidden in everything the command prints that comes back.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<Secret>,
}

impl ShellConfig {
    /// What the schema cannot say: the command is on the operator's list, and arguments are
    /// given only where the operator allows them.
    #[must_use]
    pub fn problems(&self, allowed: &Allowed) -> Vec<Diagnostic> {
        let Some(command) = allowed.commands.get(&self.command) else {
            return vec![Diagnostic::new(
                "/command",
                format!(
                    "{:?} is not a command the operator allows on this host; allowed: {}",
                    self.command,
                    allowed.names()
                ),
            )];
        };
        let mut found = Vec::new();
        if !self.args.is_empty() && !command.allow_args {
            found.push(Diagnostic::new(
                "/args",
                format!(
                    "the command {:?} takes no arguments from a subscription (the operator did \
                     not set allow_args); remove them",
                    self.command
                ),
            ));
        }
        for (i, arg) in self.args.iter().enumerate() {
            if arg.contains('\0') {
                found.push(Diagnostic::new(
                    format!("/args/{i}"),
                    "an argument cannot hold a NUL character",
                ));
            }
        }
        found
    }
}
