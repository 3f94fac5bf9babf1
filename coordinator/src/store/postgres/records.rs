//! The configuration records (event types, connections, subscriptions), one row each with its
//! JSON body, and the caches that spare the hot path a query: the event types a publish looks
//! up and the snapshot of every subscription that fan-out walks. Another coordinator may change
//! them, so every change notifies (`switchyard_config`); the LISTEN task then bumps the caches'
//! generation ([`Caches::generation`]), and a snapshot older than [`MAX_AGE`] is reread anyway
//! (should a notification be lost with a dropped connection).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use serde::Serialize;
use serde::de::DeserializeOwned;

use super::{PgStore, backend};
use crate::model::{
    Connection, ConnectionId, EventType, Subscription, SubscriptionFilter, SubscriptionId,
};
use crate::store::{StoreError, StoreResult};

/// The longest a cached snapshot is used without a reread.
const MAX_AGE: Duration = Duration::from_secs(5);

pub(super) fn subscription_matches(s: &Subscription, f: &SubscriptionFilter) -> bool {
    f.provider_id.as_deref().is_none_or(|p| p == s.provider_id)
        && f.enabled.is_none_or(|e| e == s.enabled)
        && f.event_type
            .as_deref()
            .is_none_or(|t| s.event_types.iter().any(|p| p == t) || s.matches_event_type(t))
}

pub(super) fn enc<T: Serialize>(value: &T) -> StoreResult<Vec<u8>> {
    serde_json::to_vec(value).map_err(|e| StoreError::Corrupt {
        tree: "(encode)",
        message: e.to_string(),
    })
}

pub(super) fn dec<T: DeserializeOwned>(table: &'static str, bytes: &[u8]) -> StoreResult<T> {
    serde_json::from_slice(bytes).map_err(|e| StoreError::Corrupt {
        tree: table,
        message: e.to_string(),
    })
}

/// A snapshot and when (and at which generation) it was read.
#[derive(Debug)]
struct Snapshot<T> {
    value: T,
    generation: u64,
    read_at: Instant,
}

/// The caches of configuration records.
#[derive(Debug, Default)]
pub(super) struct Caches {
    generation: Arc<AtomicU64>,
    subscriptions: Mutex<Option<Snapshot<Arc<[Subscription]>>>>,
    event_types: Mutex<Option<Snapshot<HashMap<String, EventType>>>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A cache: whatever a panic left behind is consistent enough to read or replace.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Caches {
    /// The counter whose change invalidates every cache (the LISTEN task bumps it).
    pub(super) fn generation(&self) -> Arc<AtomicU64> {
        Arc::clone(&self.generation)
    }

    fn current(&self) -> u64 {
        self.generation.load(Ordering::SeqCst)
    }

    fn invalidate(&self) {
        self.generation.fetch_add(1, Ordering::SeqCst);
    }

    fn fresh<T>(&self, s: &Snapshot<T>) -> bool {
        s.generation == self.current() && s.read_at.elapsed() < MAX_AGE
    }
}

/// One configuration table: its name, for queries and errors, and its record kind.
struct Table {
    name: &'static str,
    kind: &'static str,
}

const EVENT_TYPES: Table = Table {
    name: "event_types",
    kind: "event type",
};
const CONNECTIONS: Table = Table {
    name: "connections",
    kind: "connection",
};
const SUBSCRIPTIONS: Table = Table {
    name: "subscriptions",
    kind: "subscription",
};

impl PgStore {
    /// Tells every coordinator (this one included) that configuration changed.
    pub(super) async fn config_changed(&self) -> StoreResult<()> {
        self.caches.invalidate();
        let client = self.client().await?;
        client
            .execute("SELECT pg_notify('switchyard_config', '')", &[])
            .await
            .map_err(backend)?;
        Ok(())
    }

    async fn get_body<T: DeserializeOwned>(
        &self,
        table: &Table,
        id: &(dyn tokio_postgres::types::ToSql + Sync),
    ) -> StoreResult<Option<T>> {
        let client = self.client().await?;
        let sql = format!("SELECT body FROM {} WHERE id = $1", table.name);
        let row = client.query_opt(&sql, &[id]).await.map_err(backend)?;
        row.map(|r| dec(table.name, r.get::<_, &[u8]>(0)))
            .transpose()
    }

    async fn all_bodies<T: DeserializeOwned>(&self, table: &Table) -> StoreResult<Vec<T>> {
        let client = self.client().await?;
        let sql = format!("SELECT body FROM {} ORDER BY id", table.name);
        let rows = client.query(&sql, &[]).await.map_err(backend)?;
        rows.iter()
            .map(|r| dec(table.name, r.get::<_, &[u8]>(0)))
            .collect()
    }

    async fn insert_body(
        &self,
        table: &Table,
        id: uuid::Uuid,
        extra: Option<&str>,
        body: Vec<u8>,
    ) -> StoreResult<()> {
        let client = self.client().await?;
        let n = if let Some(provider) = extra {
            let sql = format!(
                "INSERT INTO {} (id, provider_id, body) VALUES ($1, $2, $3) \
                 ON CONFLICT (id) DO NOTHING",
                table.name
            );
            client.execute(&sql, &[&id, &provider, &body]).await
        } else {
            let sql = format!(
                "INSERT INTO {} (id, body) VALUES ($1, $2) ON CONFLICT (id) DO NOTHING",
                table.name
            );
            client.execute(&sql, &[&id, &body]).await
        }
        .map_err(backend)?;
        if n == 0 {
            return Err(StoreError::AlreadyExists {
                kind: table.kind,
                id: id.to_string(),
            });
        }
        Ok(())
    }

    async fn replace_body(
        &self,
        table: &Table,
        id: uuid::Uuid,
        extra: Option<&str>,
        body: Vec<u8>,
    ) -> StoreResult<()> {
        let client = self.client().await?;
        let n = if let Some(provider) = extra {
            let sql = format!(
                "UPDATE {} SET body = $2, provider_id = $3 WHERE id = $1",
                table.name
            );
            client.execute(&sql, &[&id, &body, &provider]).await
        } else {
            let sql = format!("UPDATE {} SET body = $2 WHERE id = $1", table.name);
            client.execute(&sql, &[&id, &body]).await
        }
        .map_err(backend)?;
        if n == 0 {
            return Err(StoreError::NotFound {
                kind: table.kind,
                id: id.to_string(),
            });
        }
        Ok(())
    }

    async fn delete_row(&self, table: &Table, id: uuid::Uuid) -> StoreResult<bool> {
        let client = self.client().await?;
        let sql = format!("DELETE FROM {} WHERE id = $1", table.name);
        Ok(client.execute(&sql, &[&id]).await.map_err(backend)? > 0)
    }

    /// Compare-and-swap on the body: rereads and reruns `f` whenever the row changed between
    /// its read and the write, so a concurrent update (by any coordinator) is never lost.
    async fn modify_body<T: Serialize + DeserializeOwned>(
        &self,
        table: &Table,
        id: uuid::Uuid,
        provider_of: Option<&dyn Fn(&T) -> String>,
        f: &mut dyn FnMut(&T) -> Option<T>,
    ) -> StoreResult<bool> {
        let client = self.client().await?;
        let read = format!("SELECT body FROM {} WHERE id = $1", table.name);
        let write = match provider_of {
            Some(_) => format!(
                "UPDATE {} SET body = $2, provider_id = $4 WHERE id = $1 AND body = $3",
                table.name
            ),
            None => format!(
                "UPDATE {} SET body = $2 WHERE id = $1 AND body = $3",
                table.name
            ),
        };
        loop {
            let Some(row) = client.query_opt(&read, &[&id]).await.map_err(backend)? else {
                return Ok(false);
            };
            let old: Vec<u8> = row.get(0);
            let Some(new) = f(&dec(table.name, &old)?) else {
                return Ok(false);
            };
            let body = enc(&new)?;
            let n = match provider_of {
                Some(p) => {
                    let provider = p(&new);
                    client.execute(&write, &[&id, &body, &old, &provider]).await
                }
                None => client.execute(&write, &[&id, &body, &old]).await,
            }
            .map_err(backend)?;
            if n == 1 {
                return Ok(true);
            }
        }
    }

    pub(super) async fn put_event_type(&self, event_type: &EventType) -> StoreResult<EventType> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(backend)?;
        let old = tx
            .query_opt(
                "SELECT body FROM event_types WHERE id = $1 FOR UPDATE",
                &[&event_type.id],
            )
            .await
            .map_err(backend)?;
        let mut stored = event_type.clone();
        if let Some(row) = old {
            let old: EventType = dec("event_types", row.get::<_, &[u8]>(0))?;
            stored.created_at = old.created_at;
        }
        tx.execute(
            "INSERT INTO event_types (id, body) VALUES ($1, $2) \
             ON CONFLICT (id) DO UPDATE SET body = excluded.body",
            &[&stored.id, &enc(&stored)?],
        )
        .await
        .map_err(backend)?;
        tx.commit().await.map_err(backend)?;
        drop(client);
        self.config_changed().await?;
        Ok(stored)
    }

    pub(super) async fn get_event_type(&self, id: &str) -> StoreResult<Option<EventType>> {
        {
            let cache = lock(&self.caches.event_types);
            if let Some(s) = cache.as_ref().filter(|s| self.caches.fresh(s)) {
                return Ok(s.value.get(id).cloned());
            }
        }
        let generation = self.caches.current();
        let all: Vec<EventType> = self.all_bodies(&EVENT_TYPES).await?;
        let by_id: HashMap<String, EventType> =
            all.into_iter().map(|t| (t.id.clone(), t)).collect();
        let found = by_id.get(id).cloned();
        *lock(&self.caches.event_types) = Some(Snapshot {
            value: by_id,
            generation,
            read_at: Instant::now(),
        });
        Ok(found)
    }

    pub(super) async fn list_event_types(&self) -> StoreResult<Vec<EventType>> {
        self.all_bodies(&EVENT_TYPES).await
    }

    pub(super) async fn insert_connection(&self, c: &Connection) -> StoreResult<()> {
        let body = enc(c)?;
        self.insert_body(&CONNECTIONS, *c.id.as_uuid(), Some(&c.provider_id), body)
            .await
    }

    pub(super) async fn update_connection(&self, c: &Connection) -> StoreResult<()> {
        let body = enc(c)?;
        self.replace_body(&CONNECTIONS, *c.id.as_uuid(), Some(&c.provider_id), body)
            .await
    }

    pub(super) async fn get_connection(&self, id: ConnectionId) -> StoreResult<Option<Connection>> {
        self.get_body(&CONNECTIONS, id.as_uuid()).await
    }

    pub(super) async fn list_connections(
        &self,
        provider_id: Option<&str>,
    ) -> StoreResult<Vec<Connection>> {
        let all: Vec<Connection> = self.all_bodies(&CONNECTIONS).await?;
        Ok(all
            .into_iter()
            .filter(|c| provider_id.is_none_or(|p| p == c.provider_id))
            .collect())
    }

    pub(super) async fn delete_connection(&self, id: ConnectionId) -> StoreResult<bool> {
        self.delete_row(&CONNECTIONS, *id.as_uuid()).await
    }

    pub(super) async fn modify_connection(
        &self,
        id: ConnectionId,
        f: &mut dyn FnMut(&Connection) -> Option<Connection>,
    ) -> StoreResult<bool> {
        let provider = |c: &Connection| c.provider_id.clone();
        self.modify_body(&CONNECTIONS, *id.as_uuid(), Some(&provider), f)
            .await
    }

    pub(super) async fn insert_subscription(&self, s: &Subscription) -> StoreResult<()> {
        let r = self
            .insert_body(&SUBSCRIPTIONS, *s.id.as_uuid(), None, enc(s)?)
            .await;
        self.config_changed().await?;
        r
    }

    pub(super) async fn update_subscription(&self, s: &Subscription) -> StoreResult<()> {
        let r = self
            .replace_body(&SUBSCRIPTIONS, *s.id.as_uuid(), None, enc(s)?)
            .await;
        self.config_changed().await?;
        r
    }

    pub(super) async fn modify_subscription(
        &self,
        id: SubscriptionId,
        f: &mut dyn FnMut(&Subscription) -> Option<Subscription>,
    ) -> StoreResult<bool> {
        let wrote = self
            .modify_body(&SUBSCRIPTIONS, *id.as_uuid(), None, f)
            .await;
        self.config_changed().await?;
        wrote
    }

    pub(super) async fn get_subscription(
        &self,
        id: SubscriptionId,
    ) -> StoreResult<Option<Subscription>> {
        self.get_body(&SUBSCRIPTIONS, id.as_uuid()).await
    }

    pub(super) async fn delete_subscription(&self, id: SubscriptionId) -> StoreResult<bool> {
        let existed = self.delete_row(&SUBSCRIPTIONS, *id.as_uuid()).await;
        self.config_changed().await?;
        existed
    }

    pub(super) async fn subscriptions(&self) -> StoreResult<Arc<[Subscription]>> {
        {
            let cache = lock(&self.caches.subscriptions);
            if let Some(s) = cache.as_ref().filter(|s| self.caches.fresh(s)) {
                return Ok(Arc::clone(&s.value));
            }
        }
        let generation = self.caches.current();
        let all: Arc<[Subscription]> = self.all_bodies(&SUBSCRIPTIONS).await?.into();
        *lock(&self.caches.subscriptions) = Some(Snapshot {
            value: Arc::clone(&all),
            generation,
            read_at: Instant::now(),
        });
        Ok(all)
    }
}
