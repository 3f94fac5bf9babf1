//! ValidateConfig at save time: after the schema check and before anything is stored, a
//! provider that declares `validate_config` is asked about the plaintext config (in memory
//! only). Its diagnostics refuse the save with INVALID_ARGUMENT naming each JSON path, exactly
//! like schema problems (their messages scrubbed of the secrets the call carried); a plugin that
//! is down refuses it with UNAVAILABLE. A plugin that
//! declares the capability but answers UNIMPLEMENTED (an older build) is taken as having
//! nothing to add: the schema check already passed, and refusing every save would lock the
//! provider's users out.

use serde_json::Value;
use switchyard_proto::plugin::v1 as plugin;

use super::config_pipeline::Kind;
use super::error::{AppError, AppResult};
use crate::host::{CallError, ProviderEntry};
use crate::schema::SchemaProblem;

/// A config that passed the schema check and awaits the plugin's verdict before being stored.
#[derive(Debug)]
pub(crate) struct Pending {
    /// The provider it is for.
    pub(crate) entry: ProviderEntry,
    /// Which of its schemas the config follows.
    pub(crate) kind: Kind,
    /// The request field the config came in, for the error message.
    pub(crate) field: &'static str,
    /// The config, plaintext, defaults applied.
    pub(crate) config: Value,
    /// The decrypted connection config a provider config uses, as JSON text; empty for none.
    pub(crate) connection_json: String,
    /// The connection it uses failed to migrate: its config follows an older schema, so it
    /// cannot be handed to the plugin, and the check is skipped. Such a subscription cannot be
    /// enabled until the connection is fixed (`app::subscriptions`).
    pub(crate) connection_broken: bool,
}

impl Pending {
    /// Whether `entry` declares ValidateConfig (so the connection config is worth decrypting).
    pub(crate) fn wanted(entry: &ProviderEntry) -> bool {
        entry
            .provider
            .capabilities
            .is_some_and(|c| c.validate_config)
    }

    /// Asks the plugin, when the provider declares the capability. `Ok` hands back the config,
    /// to be stored.
    pub(crate) async fn check(self) -> AppResult<Value> {
        if !Self::wanted(&self.entry) || self.connection_broken {
            return Ok(self.config);
        }
        let kind = match self.kind {
            Kind::Provider => plugin::ConfigKind::Provider,
            Kind::Connection => plugin::ConfigKind::Connection,
        };
        let secrets = super::config_pipeline::scrubber_of(
            &self.entry,
            self.kind,
            &self.config,
            &self.connection_json,
        );
        let call = plugin::ValidateConfigRequest {
            provider_id: self.entry.local_id().to_owned(),
            kind: kind.into(),
            config_json: self.config.to_string(),
            connection_json: self.connection_json.clone(),
        };
        match self.entry.plugin.validate_config(call).await {
            Ok(answer) if answer.diagnostics.is_empty() => Ok(self.config),
            Ok(answer) => {
                // The plugin's messages may quote a secret it was handed.
                let diagnostics = answer
                    .diagnostics
                    .into_iter()
                    .map(|d| plugin::Diagnostic {
                        message: secrets.scrub(&d.message).into_owned(),
                        ..d
                    })
                    .collect();
                Err(refusal(self.field, diagnostics))
            }
            Err(CallError::Unimplemented(message)) => {
                tracing::warn!(
                    provider = %self.entry.qualified_id,
                    %message,
                    "the provider declares validate_config but does not implement it; saved on the schema check alone"
                );
                Ok(self.config)
            }
            Err(e) => Err(e.scrubbed(&secrets).into()),
        }
    }
}

/// INVALID_ARGUMENT listing the plugin's diagnostics as schema problems of `field`.
pub(crate) fn refusal(field: &str, diagnostics: Vec<plugin::Diagnostic>) -> AppError {
    let problems: Vec<SchemaProblem> = diagnostics
        .into_iter()
        .map(|d| SchemaProblem::new(d.json_path, d.message))
        .collect();
    AppError::schema(field, &problems)
}
