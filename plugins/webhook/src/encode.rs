//! The request body's wire format, chosen by `contentType`: `json` sends the JSON text as it
//! is; `form` sends `application/x-www-form-urlencoded` with one field per top-level key of
//! the JSON object, sorted by name — strings as their text, every other value (number, boolean,
//! `null`, array, object) as its compact JSON text. Only a JSON object has fields, so `form`
//! refuses any other body.

use serde_json::Value;

use crate::config::ContentType;

/// The `Content-Type` header value of `content_type`.
#[must_use]
pub fn mime(content_type: ContentType) -> &'static str {
    match content_type {
        ContentType::Json => "application/json",
        ContentType::Form => "application/x-www-form-urlencoded",
    }
}

/// The `form` encoding of a JSON object's top-level fields.
///
/// # Errors
/// When `body` is not a JSON object.
pub fn form(body: &Value) -> Result<Vec<u8>, &'static str> {
    let Value::Object(fields) = body else {
        return Err("a form body must be a JSON object (its fields become the form fields)");
    };
    let mut form = form_urlencoded::Serializer::new(String::new());
    for (name, value) in fields {
        match value {
            Value::String(text) => form.append_pair(name, text),
            other => form.append_pair(name, &other.to_string()),
        };
    }
    Ok(form.finish().into_bytes())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn form_sends_top_level_fields_with_nested_values_as_json() {
        let body = json!({"title": "a b&c", "n": 2, "ok": true, "none": null, "data": {"x": [1]}});
        let encoded = String::from_utf8(form(&body).unwrap()).unwrap();
        assert_eq!(
            encoded,
            "data=%7B%22x%22%3A%5B1%5D%7D&n=2&none=null&ok=true&title=a+b%26c"
        );
        assert!(form(&json!([1, 2])).is_err());
        assert!(form(&json!("text")).is_err());
    }
}
