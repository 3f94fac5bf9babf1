//! Secret-key rotation in a running coordinator: a new key starts encrypting, every stored
//! secret of every connection and subscription is re-encrypted under it while deliveries keep
//! flowing, and only then is the old key retired.
//!
//! Steps, each safe to crash after:
//! 1. A new key is generated and the key file is replaced by `new, old…` (atomically, synced)
//!    before anything uses it; then the new key becomes current in memory. The key file now
//!    records that a rotation is unfinished: it holds more than one key.
//! 2. Pass over every record: values not sealed under the current key are re-encrypted, one
//!    record per compare-and-swap ([`Store::modify_subscription`]), so a record an API call
//!    rewrote meanwhile is re-read, never overwritten. Re-encryption is idempotent.
//! 3. A final pass while holding [`Secrets::writing`] exclusively: every writer that may
//!    have read or encrypted a config under the old key has stored it by then, and later ones
//!    use the new key. Then the store is flushed.
//! 4. The key file is replaced by `new` alone; the old key is retired in memory (see
//!    [`super::keyring`]).
//!
//! After a crash anywhere, the next start finds a key file with previous keys and runs steps
//! 2–4 ([`Rotation::resume`]). Keys from `SWITCHYARD_SECRET_KEY` cannot be written: there
//! the operator puts the new key first in the variable and restarts, and the rotation runs
//! steps 2–4 and says which keys the variable no longer needs.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use serde_json::Value;
use tokio_util::sync::CancellationToken;

use super::keyring::Key;
use super::{KeyId, KeySource, Secrets, SecretsError, keyfile};
use crate::store::{Store, StoreError, StoreResult};

/// Why a rotation did not finish. The old key stays configured and valid in every case.
#[derive(Debug, thiserror::Error)]
pub enum RotateError {
    /// The keys come from a source the coordinator cannot write.
    #[error(
        "the secret keys come from {0}, which the coordinator cannot change: generate a new key \
         (`head -c 32 /dev/urandom | base64`), set SWITCHYARD_SECRET_KEY to the new key, a comma \
         and the old key, restart the coordinator, then run `switchyard secrets rotate` to \
         re-encrypt every secret under the new key"
    )]
    ReadOnlyKeys(KeySource),
    /// The key file could not be replaced.
    #[error("{0}; nothing was re-encrypted with a key that is not saved")]
    KeyFile(SecretsError),
    /// A stored secret does not decrypt.
    #[error("{kind} {id}: {source}; the rotation stopped and the old keys stay configured")]
    Record {
        /// "connection" or "subscription".
        kind: &'static str,
        /// Its id.
        id: String,
        /// What failed.
        source: SecretsError,
    },
    /// The store failed.
    #[error("secret key rotation: {0}")]
    Store(#[from] StoreError),
    /// The coordinator is stopping.
    #[error("the coordinator is shutting down; the rotation finishes at its next start")]
    ShuttingDown,
}

/// What a finished rotation did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RotateReport {
    /// The key that encrypts every stored secret now.
    pub key_id: KeyId,
    /// The keys no longer needed.
    pub retired: Vec<KeyId>,
    /// Connections rewritten.
    pub connections: usize,
    /// Subscriptions rewritten.
    pub subscriptions: usize,
    /// Whether it finished an earlier, interrupted rotation instead of adding a key.
    pub resumed: bool,
    /// Where the keys live (for the environment variable: remove `retired` from it).
    pub source: KeySource,
}

/// Options of [`Rotation`].
#[derive(Debug, Clone, Copy, Default)]
pub struct RotationOptions {
    /// Test hook (`SWITCHYARD_TEST_ROTATION_PAUSE_AFTER`): after this many records have been
    /// re-encrypted and flushed, the rotation waits for shutdown, so that a test can SIGKILL
    /// the coordinator at a known point mid-rotation.
    pub pause_after: Option<usize>,
}

/// Runs rotations, one at a time. Shared by the API and the resume at start.
#[derive(Debug)]
pub struct Rotation {
    secrets: Arc<Secrets>,
    store: Arc<dyn Store>,
    opts: RotationOptions,
    one_at_a_time: tokio::sync::Mutex<()>,
    rewritten: AtomicUsize,
}

#[derive(Default)]
struct Counts {
    connections: usize,
    subscriptions: usize,
}

impl Rotation {
    /// A rotation of `secrets` over the records of `store`.
    pub fn new(secrets: Arc<Secrets>, store: Arc<dyn Store>, opts: RotationOptions) -> Self {
        Self {
            secrets,
            store,
            opts,
            one_at_a_time: tokio::sync::Mutex::new(()),
            rewritten: AtomicUsize::new(0),
        }
    }

    /// Whether a rotation is running now.
    pub fn running(&self) -> bool {
        self.one_at_a_time.try_lock().is_err()
    }

    /// Rotates: adds a new key and re-encrypts everything under it, or, when the keys already
    /// include previous ones (an interrupted rotation, or the operator's new key in the
    /// variable), finishes that rotation. Waits for a rotation already running, then runs.
    ///
    /// # Errors
    /// [`RotateError`]; the old keys stay configured.
    pub async fn rotate(&self, shutdown: &CancellationToken) -> Result<RotateReport, RotateError> {
        let _one = self.one_at_a_time.lock().await;
        let resumed = !self.secrets.status().previous.is_empty();
        if !resumed {
            self.add_key()?;
        }
        self.finish(resumed, shutdown).await
    }

    /// Finishes an interrupted rotation, if the keys say there is one (see the module doc).
    ///
    /// # Errors
    /// [`RotateError`]; the old keys stay configured.
    pub async fn resume(
        &self,
        shutdown: &CancellationToken,
    ) -> Option<Result<RotateReport, RotateError>> {
        let _one = self.one_at_a_time.lock().await;
        let previous = self.secrets.status().previous;
        if previous.is_empty() {
            return None;
        }
        let previous = id_list(&previous);
        tracing::info!(%previous, "finishing an unfinished secret key rotation");
        Some(self.finish(true, shutdown).await)
    }

    /// Step 1: the new key is saved before it encrypts anything.
    fn add_key(&self) -> Result<(), RotateError> {
        let path = match &self.secrets.source {
            KeySource::File(path) => path,
            other => return Err(RotateError::ReadOnlyKeys(other.clone())),
        };
        let new = Key::generate();
        let mut keys = vec![new.clone()];
        {
            let ring = self.secrets.ring();
            keys.push(ring.current().clone());
            keys.extend(ring.previous().iter().cloned());
        }
        keyfile::replace(path, &keys).map_err(RotateError::KeyFile)?;
        let (kid, old) = (new.id().clone(), keys[1].id().clone());
        self.secrets.ring_mut().install(new);
        tracing::info!(key = %kid, old = %old, "secret key rotation started: the new key encrypts, the old one still decrypts");
        Ok(())
    }

    /// Steps 2–4.
    async fn finish(
        &self,
        resumed: bool,
        shutdown: &CancellationToken,
    ) -> Result<RotateReport, RotateError> {
        let mut counts = Counts::default();
        self.pass(&mut counts, shutdown).await?;
        let exclusive = Arc::clone(&self.secrets.writers).write_owned().await;
        self.pass(&mut counts, shutdown).await?;
        self.flush().await?;
        if let KeySource::File(path) = &self.secrets.source {
            let current = self.secrets.ring().current().clone();
            keyfile::replace(path, &[current]).map_err(RotateError::KeyFile)?;
        }
        let retired = self.secrets.ring_mut().retire_previous();
        drop(exclusive);
        let report = RotateReport {
            key_id: self.secrets.status().current,
            retired,
            connections: counts.connections,
            subscriptions: counts.subscriptions,
            resumed,
            source: self.secrets.source.clone(),
        };
        tracing::info!(
            key = %report.key_id,
            retired = %id_list(&report.retired),
            connections = report.connections,
            subscriptions = report.subscriptions,
            "secret key rotation finished: every stored secret is encrypted under the current key"
        );
        Ok(report)
    }

    /// Re-encrypts every record that holds a value not sealed under the current key.
    async fn pass(
        &self,
        counts: &mut Counts,
        shutdown: &CancellationToken,
    ) -> Result<(), RotateError> {
        let connections: Vec<_> = self.store.list_connections(None)?;
        for id in connections.into_iter().map(|c| c.id) {
            let store = &self.store;
            let wrote = self.reseal("connection", &id.to_string(), |f| {
                store.modify_connection(id, &mut |c| {
                    f(&c.config).map(|config| crate::model::Connection {
                        config,
                        ..c.clone()
                    })
                })
            })?;
            counts.connections += usize::from(wrote);
            self.step(wrote, shutdown).await?;
        }
        let subscriptions: Vec<_> = self.store.subscriptions()?.iter().map(|s| s.id).collect();
        for id in subscriptions {
            let store = &self.store;
            let wrote = self.reseal("subscription", &id.to_string(), |f| {
                store.modify_subscription(id, &mut |s| {
                    f(&s.config).map(|config| crate::model::Subscription {
                        config,
                        ..s.clone()
                    })
                })
            })?;
            counts.subscriptions += usize::from(wrote);
            self.step(wrote, shutdown).await?;
        }
        Ok(())
    }

    /// Runs `modify` with a function that re-encrypts a config (`None`: nothing to do).
    fn reseal(
        &self,
        kind: &'static str,
        id: &str,
        modify: impl FnOnce(&mut dyn FnMut(&Value) -> Option<Value>) -> StoreResult<bool>,
    ) -> Result<bool, RotateError> {
        let mut failed = None;
        let wrote = modify(&mut |config| {
            let mut config = config.clone();
            match self.secrets.reseal_envelopes(&mut config) {
                Ok(0) => None,
                Ok(_) => Some(config),
                Err(e) => {
                    failed = Some(e);
                    None
                }
            }
        })?;
        match failed {
            Some(source) => Err(RotateError::Record {
                kind,
                id: id.to_owned(),
                source,
            }),
            None => Ok(wrote),
        }
    }

    /// Between two records: a safe point for shutdown, room for deliveries, the test hook.
    async fn step(&self, wrote: bool, shutdown: &CancellationToken) -> Result<(), RotateError> {
        if shutdown.is_cancelled() {
            return Err(RotateError::ShuttingDown);
        }
        tokio::task::yield_now().await;
        let rewritten = self
            .rewritten
            .fetch_add(usize::from(wrote), Ordering::SeqCst);
        if wrote && self.opts.pause_after == Some(rewritten + 1) {
            self.flush().await?;
            tracing::warn!(
                records = rewritten + 1,
                "secret key rotation paused by SWITCHYARD_TEST_ROTATION_PAUSE_AFTER"
            );
            shutdown.cancelled().await;
            return Err(RotateError::ShuttingDown);
        }
        Ok(())
    }

    async fn flush(&self) -> Result<(), RotateError> {
        let store = Arc::clone(&self.store);
        match tokio::task::spawn_blocking(move || store.flush()).await {
            Ok(result) => Ok(result?),
            Err(e) => Err(StoreError::NotDurable(format!("the flush task failed: {e}")).into()),
        }
    }
}

/// Key ids as `a, b` for logs.
fn id_list(ids: &[KeyId]) -> String {
    let ids: Vec<&str> = ids.iter().map(KeyId::as_str).collect();
    ids.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Subscription, SubscriptionId};
    use crate::store::SledStore;
    use serde_json::json;

    fn schema() -> Value {
        json!({"type": "object", "properties": {"token": {"type": "string", "x-secret": true}}})
    }

    fn subscription(secrets: &Secrets, token: &str) -> Subscription {
        let now = chrono::Utc::now();
        let mut config = json!({"url": "https://example.test", "token": token});
        secrets
            .encrypt_secrets(&schema(), &mut config)
            .expect("encrypt");
        Subscription {
            id: SubscriptionId::new(),
            name: token.into(),
            description: String::new(),
            provider_id: "webhook.webhook".into(),
            config,
            schema_version: 1,
            event_types: vec!["*".into()],
            system_ids: vec![],
            enabled: true,
            disabled_reason: None,
            retry_policy: None,
            created_at: now,
            updated_at: now,
            rate_limit: None,
        }
    }

    struct Setup {
        dir: tempfile::TempDir,
        secrets: Arc<Secrets>,
        store: Arc<dyn Store>,
    }

    fn setup(subs: usize) -> Setup {
        let dir = tempfile::tempdir().expect("tempdir");
        let secrets = Arc::new(Secrets::load_or_generate(dir.path(), None, None).expect("key"));
        let store: Arc<dyn Store> =
            Arc::new(SledStore::open(&dir.path().join("db")).expect("store"));
        for n in 0..subs {
            let sub = subscription(&secrets, &format!("tok-{n}"));
            store.insert_subscription(&sub).expect("insert");
        }
        Setup {
            dir,
            secrets,
            store,
        }
    }

    fn key_file(s: &Setup) -> Vec<String> {
        let text = std::fs::read_to_string(s.dir.path().join(keyfile::KEY_FILE_NAME));
        text.expect("key file").lines().map(str::to_owned).collect()
    }

    /// Every stored token, decrypted with a fresh load of the key file (as after a restart).
    fn tokens_after_restart(s: &Setup) -> Vec<String> {
        let fresh = Secrets::load_or_generate(s.dir.path(), None, None).expect("reload");
        let mut out: Vec<String> = s
            .store
            .subscriptions()
            .expect("subs")
            .iter()
            .map(|sub| {
                let mut c = sub.config.clone();
                fresh.decrypt_secrets(&schema(), &mut c).expect("decrypts");
                c["token"].as_str().expect("token").to_owned()
            })
            .collect();
        out.sort();
        out
    }

    fn connection(secrets: &Secrets) -> crate::model::Connection {
        let now = chrono::Utc::now();
        let mut config = json!({"token": "conn-tok"});
        secrets
            .encrypt_secrets(&schema(), &mut config)
            .expect("encrypt");
        crate::model::Connection {
            id: crate::model::ConnectionId::new_at(now),
            provider_id: "webhook.webhook".into(),
            name: "c".into(),
            config,
            schema_version: 1,
            migration_error: None,
            created_at: now,
            updated_at: now,
        }
    }

    #[tokio::test]
    async fn rotation_reencrypts_every_record_and_leaves_only_the_new_key_in_the_file() {
        let s = setup(3);
        let conn = connection(&s.secrets);
        s.store.insert_connection(&conn).expect("insert connection");
        let old = s.secrets.status().current;
        let rotation = Rotation::new(
            s.secrets.clone(),
            s.store.clone(),
            RotationOptions::default(),
        );
        let report = rotation
            .rotate(&CancellationToken::new())
            .await
            .expect("rotate");
        assert_ne!(report.key_id, old);
        assert_eq!(report.retired, vec![old.clone()]);
        assert_eq!((report.subscriptions, report.connections), (3, 1));
        let mut stored = s
            .store
            .get_connection(conn.id)
            .expect("get")
            .expect("present")
            .config;
        let fresh = Secrets::load_or_generate(s.dir.path(), None, None).expect("reload");
        fresh
            .decrypt_secrets(&schema(), &mut stored)
            .expect("new key alone");
        assert_eq!(stored, json!({"token": "conn-tok"}));
        assert!(!report.resumed);
        assert_eq!(key_file(&s).len(), 1, "only the new key is saved");
        let status = s.secrets.status();
        assert!(status.previous.is_empty());
        for sub in s.store.subscriptions().expect("subs").iter() {
            let text = sub.config["token"].as_str().expect("sealed");
            assert!(
                text.starts_with(&format!("$enc:v2:{}:", report.key_id)),
                "{text}"
            );
        }
        assert_eq!(tokens_after_restart(&s), ["tok-0", "tok-1", "tok-2"]);
    }

    #[tokio::test]
    async fn an_interrupted_rotation_is_finished_by_resume_with_both_keys_valid_meanwhile() {
        let s = setup(4);
        let opts = RotationOptions {
            pause_after: Some(2),
        };
        let rotation = Arc::new(Rotation::new(s.secrets.clone(), s.store.clone(), opts));
        let stop = CancellationToken::new();
        let task = {
            let (rotation, stop) = (rotation.clone(), stop.clone());
            tokio::spawn(async move { rotation.rotate(&stop).await })
        };
        // The hook holds the rotation after two records; `running` says so until then.
        while s.secrets.status().previous.is_empty()
            || rotation.rewritten.load(Ordering::SeqCst) < 2
        {
            tokio::task::yield_now().await;
        }
        stop.cancel();
        let err = task.await.expect("task").expect_err("interrupted");
        assert!(matches!(err, RotateError::ShuttingDown), "{err}");
        assert_eq!(key_file(&s).len(), 2, "new and old key saved mid-rotation");
        assert_eq!(
            tokens_after_restart(&s),
            ["tok-0", "tok-1", "tok-2", "tok-3"]
        );

        let restarted =
            Arc::new(Secrets::load_or_generate(s.dir.path(), None, None).expect("load"));
        let again = Rotation::new(
            restarted.clone(),
            s.store.clone(),
            RotationOptions::default(),
        );
        let report = again
            .resume(&CancellationToken::new())
            .await
            .expect("something to resume")
            .expect("resumed");
        assert!(report.resumed);
        assert_eq!(
            report.subscriptions, 2,
            "the other two were done before the stop"
        );
        assert_eq!(key_file(&s).len(), 1);
        assert_eq!(
            tokens_after_restart(&s),
            ["tok-0", "tok-1", "tok-2", "tok-3"]
        );
        assert!(again.resume(&CancellationToken::new()).await.is_none());
    }

    #[tokio::test]
    async fn a_stale_write_back_by_a_writer_in_flight_is_reencrypted_before_the_old_key_goes() {
        let s = setup(2);
        let stale = s.store.subscriptions().expect("subs")[0].clone();
        let old = s.secrets.status().current;
        let writer = s.secrets.writing().await;
        let rotation = Arc::new(Rotation::new(
            s.secrets.clone(),
            s.store.clone(),
            RotationOptions::default(),
        ));
        let task = {
            let rotation = rotation.clone();
            tokio::spawn(async move { rotation.rotate(&CancellationToken::new()).await })
        };
        // Wait until the rotation asks for the writers to be done (its first pass is over):
        // a queued exclusive request takes every free permit, so a shared try fails.
        let queued = |s: &Setup| s.secrets.writers.try_read().is_err();
        while !queued(&s) && !task.is_finished() {
            tokio::task::yield_now().await;
        }
        let sealed_new = |s: &Setup| {
            let subs = s.store.subscriptions().expect("subs");
            let kid = s.secrets.status().current;
            kid != old
                && subs.iter().all(|sub| {
                    let token = sub.config["token"].as_str().unwrap_or_default();
                    token.starts_with(&format!("$enc:v2:{kid}:"))
                })
        };
        assert!(
            sealed_new(&s),
            "the first pass moved every record to the new key"
        );
        // A writer that read the record before that pass now stores it back, old key and all.
        s.store.update_subscription(&stale).expect("stale write");
        assert!(!task.is_finished(), "the rotation waits for the writer");
        drop(writer);
        let report = task.await.expect("task").expect("rotate");
        assert_eq!(report.retired, vec![old.clone()]);
        assert!(sealed_new(&s), "the stale record was re-encrypted");
        assert_eq!(tokens_after_restart(&s), ["tok-0", "tok-1"]);
    }

    #[tokio::test]
    async fn keys_from_the_environment_are_not_rotated_in_place() {
        let dir = tempfile::tempdir().expect("tempdir");
        let env = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, [7u8; 32]);
        let secrets =
            Arc::new(Secrets::load_or_generate(dir.path(), None, Some(env)).expect("key"));
        let store: Arc<dyn Store> = Arc::new(SledStore::open(&dir.path().join("db")).expect("db"));
        let before = secrets.status();
        let rotation = Rotation::new(secrets.clone(), store, RotationOptions::default());
        let err = rotation
            .rotate(&CancellationToken::new())
            .await
            .expect_err("read-only keys");
        assert!(
            matches!(err, RotateError::ReadOnlyKeys(KeySource::Env)),
            "{err}"
        );
        assert!(err.to_string().contains("SWITCHYARD_SECRET_KEY"), "{err}");
        assert_eq!(secrets.status(), before, "nothing changed");
        assert!(!dir.path().join(keyfile::KEY_FILE_NAME).exists());
    }
}
