//! The shell provider: for each event, runs the one command of the operator's list the
//! subscription names ([`run`](crate::run)), with the environment of
//! [`environment`](crate::environment), and maps how it ended to the delivery's outcome
//! ([`outcome`](crate::outcome)). A subscription never supplies a path or a script: a name not
//! on the list is refused when the subscription is saved (`validate_config`) and again at
//! delivery, and the names are what the `commands` resolver offers.

use std::sync::Arc;

use switchyard_plugin_sdk::{
    Capabilities, ConnectionOption, DeliveryContext, DeliveryResult, Diagnostic, Documentation,
    NoConnection, OptionsRequest, Provider, TestTarget,
};

use crate::allowed::Allowed;
use crate::config::ShellConfig;
use crate::environment::environment;
use crate::{outcome, run};

/// The shell provider over the operator's list of commands.
#[derive(Debug, Clone)]
pub struct ShellProvider {
    allowed: Arc<Allowed>,
}

impl ShellProvider {
    /// A provider that may run `allowed` and nothing else.
    #[must_use]
    pub fn new(allowed: Allowed) -> Self {
        Self {
            allowed: Arc::new(allowed),
        }
    }
}

impl Provider for ShellProvider {
    type Config = ShellConfig;
    type Connection = NoConnection;

    fn id(&self) -> &'static str {
        "shell"
    }

    fn display_name(&self) -> &'static str {
        "Shell command"
    }

    fn description(&self) -> &'static str {
        "Runs one of the commands the operator allows on this host for each event."
    }

    fn icon(&self) -> &'static str {
        "terminal"
    }

    fn documentation(&self) -> Documentation {
        crate::docs::documentation()
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            validate_config: true,
            connection_options: true,
            ..Capabilities::NONE
        }
    }

    async fn validate_config(
        &self,
        target: TestTarget<ShellConfig, NoConnection>,
    ) -> Vec<Diagnostic> {
        match target {
            TestTarget::Config { config, .. } => config.problems(&self.allowed),
            TestTarget::Connection(_) => Vec::new(),
        }
    }

    async fn get_connection_options(
        &self,
        _request: OptionsRequest<NoConnection>,
    ) -> Result<Vec<ConnectionOption>, Vec<Diagnostic>> {
        // The only resolver is `commands` (the SDK answers NOT_FOUND for any other name).
        Ok(self
            .allowed
            .commands
            .iter()
            .map(|(name, command)| ConnectionOption {
                value: name.clone(),
                label: name.clone(),
                description: Some(format!(
                    "{} {}{}",
                    command.path.display(),
                    command.args.join(" "),
                    if command.allow_args {
                        " [+ arguments]"
                    } else {
                        ""
                    }
                )),
            })
            .collect())
    }

    async fn deliver(&self, ctx: DeliveryContext<ShellConfig, NoConnection>) -> DeliveryResult {
        // Checked again: the operator's list may have shrunk since the subscription was saved.
        if let Some(problem) = ctx.config.problems(&self.allowed).into_iter().next() {
            return DeliveryResult::permanent(format!(
                "{}: {}",
                problem.json_path, problem.message
            ));
        }
        let Some(command) = self.allowed.commands.get(&ctx.config.command) else {
            return DeliveryResult::permanent("the command is not on the operator's list");
        };
        let secrets = command
            .env
            .values()
            .map(String::as_str)
            .chain(ctx.config.secret.as_ref().map(|s| s.expose()));
        let scrub = outcome::scrubber(secrets);
        let stdin = ctx.event.payload.to_string().into_bytes();
        let env = |dir: &std::path::Path| environment(&ctx, command, dir);
        match run::run(command, &ctx.config.args, env, stdin).await {
            Ok(finished) => outcome::result(&finished, command.timeout().as_secs_f64(), &scrub),
            // Too many processes of its user right now: later may work.
            Err(e) if is_too_many_processes(&e) => DeliveryResult::retryable(e.to_string()),
            Err(e) => DeliveryResult::permanent(e.to_string()),
        }
    }
}

fn is_too_many_processes(error: &run::RunError) -> bool {
    matches!(error, run::RunError::Spawn { source, .. } if source.raw_os_error() == Some(libc::EAGAIN))
}
