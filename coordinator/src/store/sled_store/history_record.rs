//! The bytes of a chain's history record in `chain_histories`: a version byte, then the
//! entries, most recent first, each a 4-byte big-endian length and the entry. An entry is
//! binary, a third of its JSON's size (the record is rewritten at every end of its chain):
//! the delivery id (16 bytes), a flags byte (delivered, has an external id, has a state), the
//! end time (seconds as 8 bytes and nanoseconds as 4, big-endian), then the event type, the
//! external id and the state, each a 4-byte length and UTF-8 text, the last two only when
//! their flag is set.
//!
//! [`prepend`] copies the older entries' bytes without decoding them.

use chrono::{DateTime, Utc};

use crate::model::{CORRELATION_HISTORY, CorrelatedDelivery, DeliveryId};
use crate::store::{StoreError, StoreResult};

/// The first byte of a record in this layout.
const HISTORY_V2: u8 = 2;

const DELIVERED: u8 = 1;
const HAS_EXTERNAL_ID: u8 = 2;
const HAS_STATE: u8 = 4;

fn corrupt(message: &str) -> StoreError {
    StoreError::Corrupt {
        tree: "chain_histories",
        message: message.into(),
    }
}

/// Reads the front of `bytes`, failing with `what` when they are too short.
fn take<'a>(bytes: &mut &'a [u8], n: usize, what: &str) -> StoreResult<&'a [u8]> {
    if bytes.len() < n {
        return Err(corrupt(&format!("truncated {what}")));
    }
    let (head, tail) = bytes.split_at(n);
    *bytes = tail;
    Ok(head)
}

fn take_array<const N: usize>(bytes: &mut &[u8], what: &str) -> StoreResult<[u8; N]> {
    let head = take(bytes, N, what)?;
    <[u8; N]>::try_from(head).map_err(|_| corrupt(&format!("truncated {what}")))
}

fn take_len(bytes: &mut &[u8], what: &str) -> StoreResult<usize> {
    let len = u32::from_be_bytes(take_array(bytes, what)?);
    usize::try_from(len).map_err(|_| corrupt(&format!("{what} too long")))
}

fn take_text(bytes: &mut &[u8], what: &str) -> StoreResult<String> {
    let len = take_len(bytes, what)?;
    let text = take(bytes, len, what)?;
    String::from_utf8(text.to_vec()).map_err(|_| corrupt(&format!("{what} is not UTF-8")))
}

fn put_text(out: &mut Vec<u8>, text: &str) -> StoreResult<()> {
    let len = u32::try_from(text.len()).map_err(|_| corrupt("text too long"))?;
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(text.as_bytes());
    Ok(())
}

/// One entry's bytes.
fn encode_entry(entry: &CorrelatedDelivery) -> StoreResult<Vec<u8>> {
    let mut out = Vec::with_capacity(64 + entry.event_type.len());
    out.extend_from_slice(&entry.delivery_id.to_bytes());
    let flags = [
        (entry.delivered, DELIVERED),
        (entry.external_id.is_some(), HAS_EXTERNAL_ID),
        (entry.state.is_some(), HAS_STATE),
    ]
    .iter()
    .filter(|(set, _)| *set)
    .fold(0, |flags, (_, bit)| flags | bit);
    out.push(flags);
    out.extend_from_slice(&entry.ended_at.timestamp().to_be_bytes());
    out.extend_from_slice(&entry.ended_at.timestamp_subsec_nanos().to_be_bytes());
    put_text(&mut out, &entry.event_type)?;
    for text in [&entry.external_id, &entry.state].into_iter().flatten() {
        put_text(&mut out, text)?;
    }
    Ok(out)
}

fn decode_entry(mut bytes: &[u8]) -> StoreResult<CorrelatedDelivery> {
    let bytes = &mut bytes;
    let delivery_id = DeliveryId::from_bytes(take_array(bytes, "delivery id")?);
    let [flags] = take_array(bytes, "flags")?;
    let ended_at = take_time(bytes)?;
    let event_type = take_text(bytes, "event type")?;
    let mut optional = |bit: u8, what: &str| -> StoreResult<Option<String>> {
        (flags & bit != 0)
            .then(|| take_text(bytes, what))
            .transpose()
    };
    let external_id = optional(HAS_EXTERNAL_ID, "external id")?;
    let state = optional(HAS_STATE, "state")?;
    Ok(CorrelatedDelivery {
        delivery_id,
        event_type,
        delivered: flags & DELIVERED != 0,
        external_id,
        state,
        ended_at,
    })
}

fn take_time(bytes: &mut &[u8]) -> StoreResult<DateTime<Utc>> {
    let secs = i64::from_be_bytes(take_array(bytes, "end time")?);
    let nanos = u32::from_be_bytes(take_array(bytes, "end time")?);
    DateTime::from_timestamp(secs, nanos).ok_or_else(|| corrupt("end time out of range"))
}

/// The entries of a record, most recent first, as their bytes.
fn frames(record: &[u8]) -> StoreResult<Vec<&[u8]>> {
    let (&version, mut rest) = record
        .split_first()
        .ok_or_else(|| corrupt("empty record"))?;
    if version != HISTORY_V2 {
        return Err(corrupt("not a chain history record"));
    }
    let mut frames = Vec::new();
    while !rest.is_empty() {
        let len = take_len(&mut rest, "entry length")?;
        frames.push(take(&mut rest, len, "entry")?);
    }
    Ok(frames)
}

/// A record of `entries` (their bytes, most recent first), cut to [`CORRELATION_HISTORY`].
fn encode_frames<'a>(entries: impl IntoIterator<Item = &'a [u8]>) -> StoreResult<Vec<u8>> {
    let mut record = vec![HISTORY_V2];
    for entry in entries.into_iter().take(CORRELATION_HISTORY) {
        let len = u32::try_from(entry.len()).map_err(|_| corrupt("entry too long"))?;
        record.extend_from_slice(&len.to_be_bytes());
        record.extend_from_slice(entry);
    }
    Ok(record)
}

/// A record of `entries`, most recent first.
pub(super) fn encode(entries: &[CorrelatedDelivery]) -> StoreResult<Vec<u8>> {
    let encoded = entries
        .iter()
        .map(encode_entry)
        .collect::<StoreResult<Vec<_>>>()?;
    encode_frames(encoded.iter().map(Vec::as_slice))
}

/// `record` (or none) with `entry` in front.
pub(super) fn prepend(record: Option<&[u8]>, entry: &CorrelatedDelivery) -> StoreResult<Vec<u8>> {
    let new = encode_entry(entry)?;
    let older = match record {
        Some(record) => frames(record)?,
        None => Vec::new(),
    };
    encode_frames(std::iter::once(new.as_slice()).chain(older))
}

/// A record's entries, most recent first.
pub(super) fn decode(record: &[u8]) -> StoreResult<Vec<CorrelatedDelivery>> {
    frames(record)?.into_iter().map(decode_entry).collect()
}

/// When the most recent entry of a record ended (`None`: the record is empty).
pub(super) fn newest_end(record: &[u8]) -> StoreResult<Option<DateTime<Utc>>> {
    match frames(record)?.first() {
        Some(frame) => {
            let mut rest = frame.get(17..).ok_or_else(|| corrupt("truncated entry"))?;
            Ok(Some(take_time(&mut rest)?))
        }
        None => Ok(None),
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    /// A history entry that differs with `n` in every field (also in which are set).
    pub(in crate::store::sled_store) fn entry(n: i64) -> CorrelatedDelivery {
        CorrelatedDelivery {
            delivery_id: DeliveryId::new(),
            event_type: format!("incident.incident.updated.{n}"),
            delivered: n % 2 == 0,
            external_id: (n % 3 != 0).then(|| format!("ts-{n}")),
            state: (n % 4 == 0).then(|| format!("{{\"ts\":\"{n}\"}}")),
            ended_at: DateTime::from_timestamp(1_700_000_000 + n, 123_456_789).expect("time"),
        }
    }

    #[test]
    fn records_keep_the_newest_entries_first_and_refuse_garbage() {
        let mut record: Option<Vec<u8>> = None;
        let entries: Vec<_> = (0..25).map(entry).collect();
        for e in &entries {
            record = Some(prepend(record.as_deref(), e).unwrap());
        }
        let record = record.unwrap();
        let newest: Vec<_> = entries
            .iter()
            .rev()
            .take(CORRELATION_HISTORY)
            .cloned()
            .collect();
        assert_eq!(decode(&record).unwrap(), newest);
        assert_eq!(encode(&newest).unwrap(), record);
        assert_eq!(newest_end(&record).unwrap(), Some(entries[24].ended_at));
        assert_eq!(newest_end(&encode(&[]).unwrap()).unwrap(), None);
        let json = serde_json::to_vec(&entries[0]).unwrap();
        assert!(
            record.len() * 2 < json.len() * CORRELATION_HISTORY,
            "smaller than JSON"
        );
        assert!(decode(&[]).is_err());
        assert!(decode(&[1, 0, 0, 0, 1, 0]).is_err(), "another version");
        assert!(decode(&[HISTORY_V2, 0, 0, 0, 9, 0]).is_err(), "a cut entry");
        assert!(decode(&[HISTORY_V2, 0, 0]).is_err(), "a cut length");
        let one = prepend(None, &entries[4]).unwrap();
        assert!(decode(&one[..one.len() - 1]).is_err(), "a cut text");
    }
}
