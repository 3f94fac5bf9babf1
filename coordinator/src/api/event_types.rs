//! `EventTypeService`: register (upsert), list and get event types. The payload schema is
//! checked against the JSON Schema meta-schema before anything is stored, and the payload's
//! property paths (`payload.incidentId`, `payload.impact.level`) are derived from it for
//! template hints.

use serde_json::Value;
use switchyard_proto::coordinator::v1 as api;
use switchyard_proto::coordinator::v1::event_type_service_server::EventTypeService;
use tonic::{Request, Response, Status};

use super::ApiContext;
use super::bounds;
use super::convert::{parse_json_object_or_empty, timestamp};
use super::status::{ApiError, ApiResult};
use crate::model::EventType;
use crate::text::quote;

/// Serves `EventTypeService`.
#[derive(Debug, Clone)]
pub struct EventTypes(pub(crate) ApiContext);

#[tonic::async_trait]
impl EventTypeService for EventTypes {
    async fn register_event_type(
        &self,
        req: Request<api::RegisterEventTypeRequest>,
    ) -> Result<Response<api::RegisterEventTypeResponse>, Status> {
        let input = req
            .into_inner()
            .event_type
            .ok_or_else(|| ApiError::field("event_type", "is required"))?;
        let new = validate(input)?;
        let created = self
            .0
            .store
            .get_event_type(&new.id)
            .map_err(ApiError::from)?
            .is_none();
        let stored = self.0.store.put_event_type(&new).map_err(ApiError::from)?;
        tracing::info!(event_type = %stored.id, created, "event type registered");
        Ok(Response::new(api::RegisterEventTypeResponse {
            event_type: Some(to_api(&stored)),
            created,
        }))
    }

    async fn list_event_types(
        &self,
        req: Request<api::ListEventTypesRequest>,
    ) -> Result<Response<api::ListEventTypesResponse>, Status> {
        let category = req.into_inner().category;
        let all = self.0.store.list_event_types().map_err(ApiError::from)?;
        let event_types = all
            .iter()
            .filter(|t| category.is_empty() || t.category == category)
            .map(to_api)
            .collect();
        Ok(Response::new(api::ListEventTypesResponse { event_types }))
    }

    async fn get_event_type(
        &self,
        req: Request<api::GetEventTypeRequest>,
    ) -> Result<Response<api::GetEventTypeResponse>, Status> {
        let t = get(&self.0, &req.into_inner().id)?;
        Ok(Response::new(api::GetEventTypeResponse {
            event_type: Some(to_api(&t)),
        }))
    }
}

/// The registered event type, or NOT_FOUND saying how to register it.
pub(crate) fn get(ctx: &ApiContext, id: &str) -> ApiResult<EventType> {
    if id.is_empty() {
        return Err(ApiError::field(
            "event_type",
            "is required, e.g. \"incident.incident.created\"",
        ));
    }
    bounds::id("event_type", id)?;
    ctx.store.get_event_type(id)?.ok_or_else(|| {
        ApiError::NotFound(format!(
            "unknown event type {}; register it with RegisterEventType first",
            quote(id)
        ))
    })
}

fn validate(input: api::EventType) -> ApiResult<EventType> {
    check_id(&input.id)?;
    reserved("event_type.id", &input.id)?;
    bounds::name("event_type.display_name", &input.display_name)?;
    bounds::description("event_type.description", &input.description)?;
    bounds::id("event_type.category", &input.category)?;
    let correlation_path = correlation_path(&input.correlation_path)?;
    let schema =
        parse_json_object_or_empty("event_type.payload_schema_json", &input.payload_schema_json)?;
    if let Some(schema) = &schema {
        crate::schema::check_schema(schema)
            .map_err(|p| ApiError::schema("event_type.payload_schema_json", &p))?;
    }
    let now = chrono::Utc::now();
    Ok(EventType {
        id: input.id,
        display_name: input.display_name,
        description: input.description,
        category: input.category,
        payload_schema: schema,
        correlation_path,
        created_at: now,
        updated_at: now,
    })
}

/// A correlation path: empty for none, else a JSON Pointer (RFC 6901) into the payload.
fn correlation_path(path: &str) -> ApiResult<Option<String>> {
    const FIELD: &str = "event_type.correlation_path";
    if path.is_empty() {
        return Ok(None);
    }
    bounds::id(FIELD, path)?;
    let escapes_ok = path
        .split('~')
        .skip(1)
        .all(|rest| rest.starts_with('0') || rest.starts_with('1'));
    if path.starts_with('/') && path.len() > 1 && escapes_ok {
        Ok(Some(path.to_owned()))
    } else {
        Err(ApiError::field(
            FIELD,
            format!(
                "{} is not a JSON Pointer into the payload such as \"/incidentId\"",
                quote(path)
            ),
        ))
    }
}

/// Event type ids: at least two dot-separated segments of `[a-z0-9_-]`.
fn check_id(id: &str) -> ApiResult<()> {
    bounds::id("event_type.id", id)?;
    let ok_segment = |s: &str| {
        !s.is_empty()
            && s.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
    };
    if id.split('.').count() >= 2 && id.split('.').all(ok_segment) {
        Ok(())
    } else {
        Err(ApiError::field(
            "event_type.id",
            format!(
                "{} is not an event type id like \"incident.incident.created\" (dot-separated segments of a-z, 0-9, - and _)",
                quote(id)
            ),
        ))
    }
}

pub(crate) fn to_api(t: &EventType) -> api::EventType {
    api::EventType {
        id: t.id.clone(),
        display_name: t.display_name.clone(),
        description: t.description.clone(),
        category: t.category.clone(),
        payload_schema_json: t
            .payload_schema
            .as_ref()
            .map(Value::to_string)
            .unwrap_or_default(),
        payload_paths: t
            .payload_schema
            .as_ref()
            .map(payload_paths)
            .unwrap_or_default(),
        created_at: Some(timestamp(t.created_at)),
        updated_at: Some(timestamp(t.updated_at)),
        correlation_path: t.correlation_path.clone().unwrap_or_default(),
    }
}

/// Property paths of a payload schema, `payload.` prefixed, depth first, in schema order:
/// nested object properties are descended, array items' object properties are named as
/// `payload.items[].field`; local `$ref`s (`#/$defs/...`) are followed once.
pub fn payload_paths(schema: &Value) -> Vec<String> {
    let mut out = Vec::new();
    collect_paths(schema, schema, "payload", &mut out, 0);
    out
}

fn collect_paths(root: &Value, node: &Value, prefix: &str, out: &mut Vec<String>, depth: usize) {
    if depth > 16 {
        return; // a recursive schema; template hints need no more
    }
    let node = resolve_ref(root, node);
    if let Some(props) = node.get("properties").and_then(Value::as_object) {
        for (name, sub) in props {
            let path = format!("{prefix}.{name}");
            out.push(path.clone());
            collect_paths(root, sub, &path, out, depth + 1);
        }
    }
    if let Some(items) = node.get("items") {
        let items = resolve_ref(root, items);
        if items.get("properties").is_some() {
            collect_paths(root, items, &format!("{prefix}[]"), out, depth + 1);
        }
    }
}

fn resolve_ref<'a>(root: &'a Value, node: &'a Value) -> &'a Value {
    node.get("$ref")
        .and_then(Value::as_str)
        .and_then(|r| r.strip_prefix('#'))
        .and_then(|pointer| root.pointer(pointer))
        .unwrap_or(node)
}

/// Refuses the `switchyard.` prefix: those event types are the coordinator's own operational
/// events (registered at start, published by the engine).
pub(super) fn reserved(field: &str, id: &str) -> ApiResult<()> {
    if crate::engine::operational::is_operational(id) {
        return Err(ApiError::field(
            field,
            format!(
                "{} is reserved: event types starting with \"{}\" are the coordinator's own \
                 operational events; subscribe to them, or choose another id",
                crate::text::quote(id),
                crate::engine::operational::PREFIX
            ),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn payload_paths_descend_objects_arrays_and_refs() {
        let schema = json!({
            "type": "object",
            "properties": {
                "incidentId": {"type": "string"},
                "systemIds": {"type": "array", "items": {"type": "string"}},
                "impact": {"$ref": "#/$defs/impact"},
                "notes": {"type": "array", "items": {"type": "object", "properties": {"text": {}}}}
            },
            "$defs": {"impact": {"type": "object", "properties": {"level": {"type": "integer"}}}}
        });
        let paths = payload_paths(&schema);
        for p in [
            "payload.incidentId",
            "payload.systemIds",
            "payload.impact",
            "payload.impact.level",
            "payload.notes",
            "payload.notes[].text",
        ] {
            assert!(paths.contains(&p.to_owned()), "{p} missing from {paths:?}");
        }
    }

    #[test]
    fn event_type_ids_need_dotted_segments() {
        assert!(check_id("incident.incident.created").is_ok());
        assert!(check_id("incident").is_err());
        assert!(check_id("Incident.created").is_err());
        assert!(check_id("incident..created").is_err());
    }
}
