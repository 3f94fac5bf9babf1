//! Small conversions every service shares: times, JSON text fields, page tokens and ids. Each
//! failure is an [`ApiError::InvalidArgument`] naming the request field to fix.

use std::str::FromStr;

use chrono::{DateTime, Utc};
use prost_types::Timestamp;
use serde_json::Value;

use super::status::{ApiError, ApiResult};
use crate::model::{InvalidId, PageRequest};

/// Largest page a list call returns.
pub(crate) const MAX_PAGE_SIZE: u32 = 500;

/// A time as a protobuf timestamp.
pub(crate) fn timestamp(at: DateTime<Utc>) -> Timestamp {
    Timestamp {
        seconds: at.timestamp(),
        nanos: i32::try_from(at.timestamp_subsec_nanos()).unwrap_or(0),
    }
}

/// A protobuf timestamp as a time; INVALID_ARGUMENT naming `field` when out of range.
pub(crate) fn from_timestamp(
    field: &str,
    t: Option<Timestamp>,
) -> ApiResult<Option<DateTime<Utc>>> {
    t.map(|t| {
        u32::try_from(t.nanos)
            .ok()
            .and_then(|nanos| DateTime::from_timestamp(t.seconds, nanos))
            .ok_or_else(|| ApiError::field(field, "is not a valid timestamp"))
    })
    .transpose()
}

/// A duration in milliseconds as a protobuf duration.
pub(crate) fn duration_ms(ms: u64) -> prost_types::Duration {
    prost_types::Duration {
        seconds: i64::try_from(ms / 1000).unwrap_or(i64::MAX),
        nanos: i32::try_from((ms % 1000) * 1_000_000).unwrap_or(0),
    }
}

/// Parses a `*_json` field that must hold a JSON object.
pub(crate) fn parse_json_object(field: &str, text: &str) -> ApiResult<Value> {
    if text.trim().is_empty() {
        return Err(ApiError::field(
            field,
            "is required: a JSON object such as {}",
        ));
    }
    let value: Value = serde_json::from_str(text).map_err(|e| {
        ApiError::field(
            field,
            format!("is not valid JSON ({e}); send a JSON object as text"),
        )
    })?;
    if value.is_object() {
        Ok(value)
    } else {
        Err(ApiError::field(field, "must be a JSON object ({...})"))
    }
}

/// Like [`parse_json_object`], but an empty field means "none".
pub(crate) fn parse_json_object_or_empty(field: &str, text: &str) -> ApiResult<Option<Value>> {
    if text.trim().is_empty() {
        Ok(None)
    } else {
        parse_json_object(field, text).map(Some)
    }
}

/// Parses an id field; INVALID_ARGUMENT naming `field` when it is not an id.
pub(crate) fn parse_id<T: FromStr<Err = InvalidId>>(field: &str, text: &str) -> ApiResult<T> {
    Ok(crate::app::parse_id(field, text)?)
}

/// Parses an optional id filter ("" means none).
pub(crate) fn parse_opt_id<T: FromStr<Err = InvalidId>>(
    field: &str,
    text: &str,
) -> ApiResult<Option<T>> {
    if text.is_empty() {
        Ok(None)
    } else {
        parse_id(field, text).map(Some)
    }
}

/// `page_size` and `page_token` as a store page request.
pub(crate) fn page_request(page_size: u32, page_token: &str) -> ApiResult<PageRequest> {
    if page_size > MAX_PAGE_SIZE {
        return Err(ApiError::field(
            "page_size",
            format!("must be at most {MAX_PAGE_SIZE}"),
        ));
    }
    let offset = if page_token.is_empty() {
        0
    } else {
        page_token
            .strip_prefix("o")
            .and_then(|n| n.parse().ok())
            .ok_or_else(|| {
                ApiError::field(
                    "page_token",
                    "is not a token from a previous page's next_page_token",
                )
            })?
    };
    Ok(PageRequest {
        offset,
        limit: page_size as usize,
    })
}

/// The `next_page_token` for a store page's next offset ("" on the last page).
pub(crate) fn next_page_token(next_offset: Option<usize>) -> String {
    next_offset.map(|n| format!("o{n}")).unwrap_or_default()
}

/// `0` → `default`, as protobuf's "unset" for numbers.
pub(crate) fn or_default(value: u32, default: u32) -> u32 {
    if value == 0 { default } else { value }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_tokens_round_trip_and_reject_garbage() {
        let page = page_request(10, &next_page_token(Some(20))).unwrap();
        assert_eq!((page.offset, page.limit), (20, 10));
        assert!(page_request(10, "garbage").is_err());
        assert!(page_request(501, "").is_err());
    }

    #[test]
    fn json_fields_must_be_objects() {
        assert!(parse_json_object("config_json", "{\"a\":1}").is_ok());
        let err = parse_json_object("config_json", "{nope").unwrap_err();
        assert!(
            err.to_string()
                .starts_with("config_json: is not valid JSON"),
            "{err}"
        );
        assert!(parse_json_object("config_json", "[1]").is_err());
    }
}
