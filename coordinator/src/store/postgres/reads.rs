//! Reads of events and deliveries for the API: by id, by idempotency key, listed with filters
//! (newest first), their attempts, and the stats. A delivery under a live lease — whichever
//! coordinator holds it — reads as `InFlight`, so every coordinator shows every one's work.

use chrono::{DateTime, Utc};
use tokio_postgres::Row;

use super::delivery_row::shown;
use super::records::dec;
use super::{PgStore, backend, parse_status};
use crate::model::{
    Attempt, Delivery, DeliveryFilter, DeliveryId, DeliveryStatus, Event, EventId, Page,
    PageRequest, Stats, StatusCounts, SubscriptionId,
};
use crate::store::StoreResult;

/// The status a delivery reads as: `in_flight` under a live lease, else its saved status.
const SHOWN_STATUS: &str = "(CASE WHEN claim_token IS NOT NULL \
     AND lease_ms > (extract(epoch from clock_timestamp()) * 1000)::bigint \
     THEN 'in_flight' ELSE status END)";

fn count(counts: &mut StatusCounts, status: DeliveryStatus, n: u64) {
    *counts.by_status.entry(status).or_default() += n;
    counts.total += n;
}

impl PgStore {
    /// A delivery from a row of `body, shown status`.
    fn delivery_of(&self, row: &Row) -> StoreResult<Delivery> {
        let leased = row.get::<_, &str>(1) == DeliveryStatus::InFlight.as_str();
        shown(row.get::<_, &[u8]>(0), leased, |id| {
            self.my_claims().get(&id).is_some_and(|h| !h.lost)
        })
    }

    pub(super) async fn get_event(&self, id: EventId) -> StoreResult<Option<Event>> {
        let client = self.client().await?;
        let row = client
            .query_opt("SELECT body FROM events WHERE id = $1", &[id.as_uuid()])
            .await
            .map_err(backend)?;
        row.map(|r| dec("events", r.get::<_, &[u8]>(0))).transpose()
    }

    pub(super) async fn find_by_idempotency_key(
        &self,
        key: &str,
    ) -> StoreResult<Option<(Event, Vec<Delivery>)>> {
        let client = self.client().await?;
        let row = client
            .query_opt(
                "SELECT body FROM events WHERE idempotency_key = $1",
                &[&key],
            )
            .await
            .map_err(backend)?;
        drop(client);
        let Some(row) = row else {
            return Ok(None);
        };
        let event: Event = dec("events", row.get::<_, &[u8]>(0))?;
        let deliveries = self.event_deliveries(event.id).await?;
        Ok(Some((event, deliveries)))
    }

    pub(super) async fn event_deliveries(&self, id: EventId) -> StoreResult<Vec<Delivery>> {
        let client = self.client().await?;
        let sql =
            format!("SELECT body, {SHOWN_STATUS} FROM deliveries WHERE event_id = $1 ORDER BY seq");
        let rows = client.query(&sql, &[id.as_uuid()]).await.map_err(backend)?;
        rows.iter().map(|r| self.delivery_of(r)).collect()
    }

    pub(super) async fn get_delivery(&self, id: DeliveryId) -> StoreResult<Option<Delivery>> {
        let client = self.client().await?;
        let sql = format!("SELECT body, {SHOWN_STATUS} FROM deliveries WHERE id = $1");
        let row = client
            .query_opt(&sql, &[id.as_uuid()])
            .await
            .map_err(backend)?;
        row.map(|r| self.delivery_of(&r)).transpose()
    }

    pub(super) async fn list_deliveries(
        &self,
        filter: &DeliveryFilter,
        page: PageRequest,
    ) -> StoreResult<Page<Delivery>> {
        let matching = format!(
            "FROM deliveries WHERE ($1::uuid IS NULL OR subscription_id = $1) \
             AND ($2::text IS NULL OR event_type = $2) \
             AND ($3::text IS NULL OR {SHOWN_STATUS} = $3) \
             AND ($4::bigint IS NULL OR created_us >= $4) \
             AND ($5::bigint IS NULL OR created_us < $5)"
        );
        let sub = filter.subscription_id.map(|s| *s.as_uuid());
        let status = filter.status.map(DeliveryStatus::as_str);
        let from = filter.from.map(|t| t.timestamp_micros());
        let to = filter.to.map(|t| t.timestamp_micros());
        let limit = page.effective_limit();
        let client = self.client().await?;
        let total_row = client
            .query_one(
                &format!("SELECT count(*) {matching}"),
                &[&sub, &filter.event_type, &status, &from, &to],
            )
            .await
            .map_err(backend)?;
        let total = usize::try_from(total_row.get::<_, i64>(0)).unwrap_or(0);
        let rows = client
            .query(
                &format!(
                    "SELECT body, {SHOWN_STATUS} {matching} ORDER BY id DESC OFFSET $6 LIMIT $7"
                ),
                &[
                    &sub,
                    &filter.event_type,
                    &status,
                    &from,
                    &to,
                    &i64::try_from(page.offset).unwrap_or(i64::MAX),
                    &i64::try_from(limit).unwrap_or(i64::MAX),
                ],
            )
            .await
            .map_err(backend)?;
        let items = rows
            .iter()
            .map(|r| self.delivery_of(r))
            .collect::<StoreResult<Vec<_>>>()?;
        let end = page.offset + items.len();
        Ok(Page {
            items,
            total,
            next_offset: (end < total).then_some(end),
        })
    }

    pub(super) async fn attempts(&self, id: DeliveryId) -> StoreResult<Vec<Attempt>> {
        let client = self.client().await?;
        let rows = client
            .query(
                "SELECT body FROM attempts WHERE delivery_id = $1 ORDER BY seq",
                &[id.as_uuid()],
            )
            .await
            .map_err(backend)?;
        rows.iter()
            .map(|r| dec("attempts", r.get::<_, &[u8]>(0)))
            .collect()
    }

    pub(super) async fn stats(&self, since: DateTime<Utc>) -> StoreResult<Stats> {
        let client = self.client().await?;
        let sql = format!(
            "SELECT {SHOWN_STATUS}, event_type, provider_id, count(*) FROM deliveries \
             WHERE created_us >= $1 GROUP BY 1, 2, 3"
        );
        let rows = client
            .query(&sql, &[&since.timestamp_micros()])
            .await
            .map_err(backend)?;
        let mut stats = Stats {
            since: Some(since),
            ..Stats::default()
        };
        for row in rows {
            let status = parse_status(row.get(0))?;
            let n = u64::try_from(row.get::<_, i64>(3)).unwrap_or(0);
            count(&mut stats.overall, status, n);
            count(
                stats.by_event_type.entry(row.get(1)).or_default(),
                status,
                n,
            );
            count(stats.by_provider.entry(row.get(2)).or_default(), status, n);
        }
        Ok(stats)
    }

    pub(super) async fn scheduled_of_subscription(
        &self,
        id: SubscriptionId,
    ) -> StoreResult<Vec<Delivery>> {
        let client = self.client().await?;
        let sql = format!(
            "SELECT body, {SHOWN_STATUS} FROM deliveries WHERE subscription_id = $1 \
             AND {SHOWN_STATUS} IN ('pending', 'retrying', 'waiting') ORDER BY id"
        );
        let rows = client.query(&sql, &[id.as_uuid()]).await.map_err(backend)?;
        let all = rows
            .iter()
            .map(|r| self.delivery_of(r))
            .collect::<StoreResult<Vec<_>>>()?;
        Ok(all
            .into_iter()
            .filter(|d| d.status() != DeliveryStatus::InFlight)
            .collect())
    }
}
