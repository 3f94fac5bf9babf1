//! Key layouts of the sled trees. All multi-part keys are fixed-width big-endian so that sled's
//! byte order is the order we need: ids are UUIDv7 (time-ordered), schedule keys sort by due
//! time, and per-parent index keys group by parent.

use chrono::{DateTime, Utc};

use crate::model::{DeliveryId, to_millis};

/// Schedule index key: due time in ms (8 bytes BE) ++ delivery id (16 bytes).
pub(super) fn schedule(due: DateTime<Utc>, id: DeliveryId) -> [u8; 24] {
    let mut k = [0u8; 24];
    k[..8].copy_from_slice(&to_millis(due).to_be_bytes());
    k[8..].copy_from_slice(&id.to_bytes());
    k
}

/// The first schedule key strictly after every entry due at or before `now`.
pub(super) fn schedule_end(now: DateTime<Utc>) -> [u8; 24] {
    let mut k = [0u8; 24];
    k[..8].copy_from_slice(&to_millis(now).saturating_add(1).to_be_bytes());
    k
}

/// The due time (ms) and delivery id of a schedule key; `None` if the key is malformed.
pub(super) fn parse_schedule(key: &[u8]) -> Option<(u64, DeliveryId)> {
    let due = u64::from_be_bytes(key.get(..8)?.try_into().ok()?);
    let id: [u8; 16] = key.get(8..24)?.try_into().ok()?;
    Some((due, DeliveryId::from_bytes(id)))
}

/// An index key `parent ++ child` (both 16-byte ids).
pub(super) fn pair(parent: [u8; 16], child: [u8; 16]) -> [u8; 32] {
    let mut k = [0u8; 32];
    k[..16].copy_from_slice(&parent);
    k[16..].copy_from_slice(&child);
    k
}

/// The child id of a [`pair`] key.
pub(super) fn pair_child(key: &[u8]) -> Option<[u8; 16]> {
    key.get(16..32)?.try_into().ok()
}

/// The smallest UUIDv7 key created at `at`: every id created at or after `at` sorts at or
/// after it, every id created before sorts before it.
pub(super) fn time_bound(at: DateTime<Utc>) -> [u8; 16] {
    let mut k = [0u8; 16];
    let ms = to_millis(at).min((1u64 << 48) - 1);
    k[..6].copy_from_slice(&ms.to_be_bytes()[2..]);
    k
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::from_millis;

    #[test]
    fn schedule_keys_sort_by_due_time_then_id() {
        let early = schedule(from_millis(5), DeliveryId::new());
        let late = schedule(from_millis(300), DeliveryId::new());
        assert!(early < late);
        assert!(early.as_slice() < schedule_end(from_millis(5)).as_slice());
        assert!(late.as_slice() >= schedule_end(from_millis(5)).as_slice());
        assert_eq!(parse_schedule(&late).map(|(d, _)| d), Some(300));
    }

    #[test]
    fn time_bounds_bracket_uuid_v7_ids() {
        let id = DeliveryId::new_at(from_millis(10_000));
        assert!(time_bound(from_millis(10_000)) <= id.to_bytes());
        assert!(time_bound(from_millis(10_001)) > id.to_bytes());
    }
}
