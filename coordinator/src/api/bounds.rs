//! The documented bounds of the text the API accepts (also stated in the protos): every name,
//! id and description is limited in length, and names and ids refuse control characters, so
//! that nothing stored can flood a response header or drive an operator's terminal. Errors
//! cite a rejected value through [`quote`], never whole.

use super::status::{ApiError, ApiResult};
use crate::text::quote;

/// Longest name or display name, in characters.
pub const MAX_NAME_CHARS: usize = 200;
/// Longest description, in characters.
pub const MAX_DESCRIPTION_CHARS: usize = 4000;
/// Longest id, pattern, category or idempotency key, in bytes.
pub const MAX_ID_BYTES: usize = 200;
/// Most event type patterns, or system ids, of one subscription.
pub const MAX_LIST_LEN: usize = 100;

/// A required name: not blank, at most [`MAX_NAME_CHARS`], no control characters.
pub(crate) fn name(field: &str, text: &str) -> ApiResult<()> {
    if text.trim().is_empty() {
        return Err(ApiError::field(field, "must not be empty"));
    }
    if text.chars().count() > MAX_NAME_CHARS {
        return Err(too_long(field, text, MAX_NAME_CHARS, "characters"));
    }
    no_controls(field, text)
}

/// A free-form description: at most [`MAX_DESCRIPTION_CHARS`]; line breaks and tabs are
/// allowed, other control characters are not.
pub(crate) fn description(field: &str, text: &str) -> ApiResult<()> {
    if text.chars().count() > MAX_DESCRIPTION_CHARS {
        return Err(too_long(field, text, MAX_DESCRIPTION_CHARS, "characters"));
    }
    match text
        .chars()
        .find(|c| c.is_control() && !matches!(c, '\n' | '\t'))
    {
        Some(c) => Err(control(field, c)),
        None => Ok(()),
    }
}

/// An id-like value (event type id or pattern, system id, category): at most
/// [`MAX_ID_BYTES`] bytes, no control characters. Its syntax is checked by the caller.
pub(crate) fn id(field: &str, text: &str) -> ApiResult<()> {
    if text.len() > MAX_ID_BYTES {
        return Err(too_long(field, text, MAX_ID_BYTES, "bytes"));
    }
    no_controls(field, text)
}

/// At most [`MAX_LIST_LEN`] items, each an [`id`].
pub(crate) fn id_list(field: &str, items: &[String]) -> ApiResult<()> {
    if items.len() > MAX_LIST_LEN {
        return Err(ApiError::field(
            field,
            format!(
                "has {} items, more than the limit of {MAX_LIST_LEN}",
                items.len()
            ),
        ));
    }
    items.iter().try_for_each(|item| id(field, item))
}

fn no_controls(field: &str, text: &str) -> ApiResult<()> {
    match text.chars().find(|c| c.is_control()) {
        Some(c) => Err(control(field, c)),
        None => Ok(()),
    }
}

fn too_long(field: &str, text: &str, max: usize, unit: &str) -> ApiError {
    ApiError::field(
        field,
        format!(
            "{} is too long: at most {max} {unit} are allowed",
            quote(text)
        ),
    )
}

fn control(field: &str, c: char) -> ApiError {
    ApiError::field(
        field,
        format!(
            "must not contain control characters (found U+{:04X}); remove it",
            u32::from(c)
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_bounded_and_printable() {
        assert!(name("name", "ops hook").is_ok());
        assert!(name("name", "  ").is_err());
        assert!(name("name", &"n".repeat(MAX_NAME_CHARS)).is_ok());
        let err = name("name", &"n".repeat(100_000)).unwrap_err().to_string();
        assert!(err.len() < 200, "{err}");
        assert!(err.contains("at most 200 characters"), "{err}");
        let err = name("name", "a\u{1b}[2Jb").unwrap_err().to_string();
        assert!(err.contains("U+001B"), "{err}");
        assert!(name("name", "tab\there").is_err());
    }

    #[test]
    fn descriptions_allow_lines_but_no_escapes() {
        assert!(description("d", "line one\nline\ttwo").is_ok());
        assert!(description("d", "bell\u{7}").is_err());
        assert!(description("d", &"d".repeat(MAX_DESCRIPTION_CHARS + 1)).is_err());
    }

    #[test]
    fn ids_and_lists_are_bounded() {
        assert!(id("id", &"a".repeat(MAX_ID_BYTES)).is_ok());
        assert!(id("id", &"a".repeat(MAX_ID_BYTES + 1)).is_err());
        assert!(id("id", "a\u{0}b").is_err());
        let many = vec!["a".to_owned(); MAX_LIST_LEN + 1];
        assert!(id_list("ids", &many).is_err());
        assert!(id_list("ids", &many[..MAX_LIST_LEN]).is_ok());
    }
}
