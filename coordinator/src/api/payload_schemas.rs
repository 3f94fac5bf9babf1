//! Compiled payload schemas, cached per event type. Publishing is the hot path of the API, and
//! compiling a JSON Schema costs far more than validating one small payload, so each event
//! type's schema is compiled once and reused until the event type is registered again. The
//! rules are those of `schema::validate` (draft 2020-12, formats checked, messages that never
//! quote the offending value, since it may be secret).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use chrono::{DateTime, Utc};

use crate::model::EventType;
use crate::schema::SchemaProblem;

/// The cache; cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct PayloadValidators {
    compiled: Arc<Mutex<HashMap<String, Entry>>>,
}

#[derive(Debug, Clone)]
struct Entry {
    /// The registration the validator was compiled from.
    updated_at: DateTime<Utc>,
    validator: Arc<jsonschema::Validator>,
}

impl PayloadValidators {
    /// Validates `payload` against the event type's schema (none: anything goes). `Err` lists
    /// every problem with its JSON path within the payload.
    pub fn validate(
        &self,
        event_type: &EventType,
        payload: &serde_json::Value,
    ) -> Result<(), Vec<SchemaProblem>> {
        let Some(schema) = &event_type.payload_schema else {
            return Ok(());
        };
        let validator = match self.cached(event_type) {
            Some(v) => v,
            None => {
                let compiled = crate::schema::compile(schema).map_err(|problem| vec![problem])?;
                let compiled = Arc::new(compiled);
                self.store(event_type, Arc::clone(&compiled));
                compiled
            }
        };
        crate::schema::problems(&validator, payload)
    }

    fn cached(&self, event_type: &EventType) -> Option<Arc<jsonschema::Validator>> {
        let map = self.compiled.lock().unwrap_or_else(PoisonError::into_inner);
        map.get(&event_type.id)
            .filter(|e| e.updated_at == event_type.updated_at)
            .map(|e| Arc::clone(&e.validator))
    }

    fn store(&self, event_type: &EventType, validator: Arc<jsonschema::Validator>) {
        let mut map = self.compiled.lock().unwrap_or_else(PoisonError::into_inner);
        map.insert(
            event_type.id.clone(),
            Entry {
                updated_at: event_type.updated_at,
                validator,
            },
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn event_type(schema: serde_json::Value, at: i64) -> EventType {
        let t = DateTime::from_timestamp(at, 0).unwrap();
        EventType {
            id: "a.b".into(),
            display_name: "x".into(),
            description: String::new(),
            category: String::new(),
            payload_schema: Some(schema),
            created_at: t,
            updated_at: t,
            correlation_path: None,
        }
    }

    #[test]
    fn reregistration_replaces_the_cached_schema() {
        let cache = PayloadValidators::default();
        let v1 = event_type(json!({"type": "object", "required": ["a"]}), 1);
        let problems = cache
            .validate(&v1, &json!({"secret": "hunter2"}))
            .unwrap_err();
        assert_eq!(problems[0].json_path, "");
        assert!(
            !problems[0].message.contains("hunter2"),
            "{}",
            problems[0].message
        );
        let v2 = event_type(json!({"type": "object"}), 2);
        assert!(cache.validate(&v2, &json!({})).is_ok());
        assert!(cache.validate(&v1, &json!({"a": 1})).is_ok());
    }
}
