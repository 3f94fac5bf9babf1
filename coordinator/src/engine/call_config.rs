//! A subscription's config as its plugin gets it — decrypted, as JSON text — with what the
//! scrubber of the call's secrets needs from it, made once per subscription and reused by every
//! attempt until the subscription or its provider's description changes.
//!
//! Why: decrypting the `x-secret` fields, walking the schema for their paths and serialising
//! the config were a twentieth of the coordinator's CPU per delivery (docs/benchmarks.md,
//! "Throughput before and after issue 17"), for a result that depends only on the stored
//! config and the schema.
//!
//! An entry is valid for one subscription snapshot of the store (a subscription's every change
//! makes a new snapshot) and one [`Resolved`] provider description (a reload makes a new one);
//! both are held by the entry, so their addresses cannot be reused while it is compared with
//! them. The plaintext lives in memory only, as it does during every call anyway.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use switchyard_scrub::{Builder as ScrubBuilder, Scrubber};

use super::SubRef;
use super::providers::Resolved;
use crate::model::{Subscription, SubscriptionId};
use crate::secrets::{Secrets, secret_pointers};

/// What every attempt of one subscription sends and hides of its config.
// No `Debug`: it holds decrypted secrets.
pub(super) struct CallConfig {
    /// The decrypted config's JSON text (`DeliverRequest.config_json`).
    pub(super) config_json: String,
    /// The config's secrets and other strings, to which a connection's are added.
    pub(super) secrets: ScrubBuilder,
    /// The scrubber of the config alone (for a subscription without a connection).
    pub(super) scrubber: Scrubber,
}

struct Entry {
    snapshot: Arc<[Subscription]>,
    provider: Arc<Resolved>,
    config: Arc<CallConfig>,
}

impl Entry {
    fn serves(&self, sub: &SubRef, provider: &Arc<Resolved>) -> bool {
        Arc::ptr_eq(&self.snapshot, &sub.snapshot) && Arc::ptr_eq(&self.provider, provider)
    }
}

/// The [`CallConfig`]s of the subscriptions attempted lately, by id.
#[derive(Default)]
pub(super) struct CallConfigs {
    entries: Mutex<HashMap<SubscriptionId, Entry>>,
}

impl CallConfigs {
    /// The call config of `sub` (its config at the provider's current version) for
    /// `provider`: cached, or made and cached.
    ///
    /// # Errors
    /// A secret that cannot be decrypted (nothing is cached then).
    pub(super) fn get(
        &self,
        sub: &SubRef,
        provider: &Arc<Resolved>,
        secrets: &Secrets,
    ) -> Result<Arc<CallConfig>, String> {
        if let Some(e) = self.lock().get(&sub.id)
            && e.serves(sub, provider)
        {
            return Ok(Arc::clone(&e.config));
        }
        let config = Arc::new(make(sub, provider, secrets)?);
        let mut entries = self.lock();
        // Entries of an older snapshot are stale: drop them all at once rather than one by one.
        entries.retain(|_, e| Arc::ptr_eq(&e.snapshot, &sub.snapshot));
        entries.insert(
            sub.id,
            Entry {
                snapshot: Arc::clone(&sub.snapshot),
                provider: Arc::clone(provider),
                config: Arc::clone(&config),
            },
        );
        Ok(config)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<SubscriptionId, Entry>> {
        self.entries.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl std::fmt::Debug for CallConfigs {
    // Never the configs: they hold decrypted secrets.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CallConfigs")
            .field("subscriptions", &self.lock().len())
            .finish()
    }
}

/// Decrypts the config of `sub` and collects its secrets.
///
/// # Errors
/// A secret that cannot be decrypted.
pub(super) fn make(
    sub: &Subscription,
    provider: &Resolved,
    secrets: &Secrets,
) -> Result<CallConfig, String> {
    let mut config = sub.config.clone();
    secrets
        .decrypt_secrets(&provider.config_schema, &mut config)
        .map_err(|e| e.to_string())?;
    let mut builder = ScrubBuilder::default();
    builder.config(&config, &secret_pointers(&provider.config_schema, &config));
    Ok(CallConfig {
        config_json: config.to_string(),
        scrubber: builder.build(),
        secrets: builder,
    })
}
