//! `switchyard providers` and `switchyard event-types`: the read-mostly catalogue.

use serde_json::{Value, json};
use switchyard_proto::coordinator::v1::{
    EventType, GetEventTypeRequest, GetProviderRequest, ListEventTypesRequest,
    ListProvidersRequest, Provider, RegisterEventTypeRequest,
};

use super::{Body, EventTypesCmd, ProvidersCmd};
use crate::cli::client::Clients;
use crate::cli::output::{Output, dash, json_text, ts, ts_json};

pub(super) async fn providers(
    cmd: ProvidersCmd,
    mut c: Clients,
    out: Output,
) -> Result<(), String> {
    match cmd {
        ProvidersCmd::List => {
            let list = c.providers.list_providers(ListProvidersRequest {}).await;
            let list = list.body()?.providers;
            let rows: Vec<Vec<String>> = list
                .iter()
                .map(|p| {
                    vec![
                        p.id.clone(),
                        p.display_name.clone(),
                        match (p.running, p.last_reload_error.is_empty()) {
                            (true, true) => "running",
                            (true, false) => "running (reload refused)",
                            (false, _) => "down",
                        }
                        .to_owned(),
                        dash(&p.description),
                    ]
                })
                .collect();
            let json = Value::Array(list.iter().map(provider_json).collect());
            out.table(&["ID", "NAME", "STATE", "DESCRIPTION"], &rows, &json);
        }
        ProvidersCmd::Show { id } => {
            let p = c.providers.get_provider(GetProviderRequest { id }).await;
            let p = p.body()?.provider.unwrap_or_default();
            let json = provider_json(&p);
            let fields = [
                ("id", p.id.clone()),
                ("name", p.display_name.clone()),
                ("plugin", format!("{} {}", p.plugin_id, p.plugin_version)),
                ("description", dash(&p.description)),
                (
                    "state",
                    if p.running { "running" } else { "down" }.to_owned(),
                ),
                ("start error", dash(&p.start_error)),
                ("events", dash(&p.supported_events.join(", "))),
                ("config schema", format!("{:#}", json["configSchema"])),
                (
                    "connection schema",
                    format!("{:#}", json["connectionSchema"]),
                ),
                ("last reload", last_reload(&p)),
            ];
            out.record(&fields, &json);
        }
    }
    Ok(())
}

/// When the plugin was last reloaded, and why that was refused if it was.
fn last_reload(p: &Provider) -> String {
    match (p.last_reload_time.as_ref(), p.last_reload_error.as_str()) {
        (None, _) => "-".to_owned(),
        (Some(at), "") => format!("{} (took over)", ts(Some(at))),
        (Some(at), error) => format!("{} REFUSED: {error}", ts(Some(at))),
    }
}

fn provider_json(p: &Provider) -> Value {
    let schema = |s: Option<&switchyard_proto::coordinator::v1::VersionedSchema>| {
        s.map_or(
            Value::Null,
            |s| json!({"version": s.version, "jsonSchema": json_text(&s.json_schema)}),
        )
    };
    let caps = p.capabilities.unwrap_or_default();
    json!({
        "id": p.id, "pluginId": p.plugin_id, "pluginVersion": p.plugin_version,
        "displayName": p.display_name, "description": p.description, "icon": p.icon,
        "configSchema": schema(p.config_schema.as_ref()),
        "connectionSchema": schema(p.connection_schema.as_ref()),
        "supportedEvents": p.supported_events, "running": p.running,
        "lastReloadError": p.last_reload_error, "lastReloadTime": ts_json(p.last_reload_time.as_ref()),
        "startError": p.start_error,
        "capabilities": {"testConnection": caps.test_connection,
            "connectionOptions": caps.connection_options, "migrateConfig": caps.migrate_config},
        "documentation": p.documentation.as_ref().map(|d| json!({
            "setupGuide": d.setup_guide, "examplePayload": d.example_payload,
            "externalDocsUrl": d.external_docs_url,
            "headers": d.headers.iter().map(|h| json!({"name": h.name, "description": h.description})).collect::<Vec<_>>(),
        })),
    })
}

pub(super) async fn event_types(
    cmd: EventTypesCmd,
    mut c: Clients,
    out: Output,
) -> Result<(), String> {
    match cmd {
        EventTypesCmd::List { category } => {
            let req = ListEventTypesRequest {
                category: category.unwrap_or_default(),
            };
            let list = c.event_types.list_event_types(req).await;
            let list = list.body()?.event_types;
            let rows: Vec<Vec<String>> = list
                .iter()
                .map(|t| vec![t.id.clone(), t.display_name.clone(), dash(&t.category)])
                .collect();
            let json = Value::Array(list.iter().map(event_type_json).collect());
            out.table(&["ID", "NAME", "CATEGORY"], &rows, &json);
        }
        EventTypesCmd::Show { id } => {
            let t = c
                .event_types
                .get_event_type(GetEventTypeRequest { id })
                .await;
            let t = t.body()?.event_type.unwrap_or_default();
            print_event_type(&t, out);
        }
        EventTypesCmd::Register {
            id,
            name,
            description,
            category,
            schema,
            correlation_path,
        } => {
            let payload_schema_json = match schema {
                Some(path) => std::fs::read_to_string(&path)
                    .map_err(|e| format!("cannot read {}: {e}", path.display()))?,
                None => String::new(),
            };
            let event_type = EventType {
                id,
                display_name: name,
                description,
                category,
                payload_schema_json,
                correlation_path,
                ..EventType::default()
            };
            let req = RegisterEventTypeRequest {
                event_type: Some(event_type),
            };
            let t = c.event_types.register_event_type(req).await;
            let t = t.body()?.event_type.unwrap_or_default();
            print_event_type(&t, out);
        }
    }
    Ok(())
}

fn print_event_type(t: &EventType, out: Output) {
    let fields = [
        ("id", t.id.clone()),
        ("name", t.display_name.clone()),
        ("category", dash(&t.category)),
        ("description", dash(&t.description)),
        ("correlation path", dash(&t.correlation_path)),
        ("payload paths", dash(&t.payload_paths.join(", "))),
    ];
    out.record(&fields, &event_type_json(t));
}

fn event_type_json(t: &EventType) -> Value {
    json!({
        "id": t.id, "displayName": t.display_name, "description": t.description,
        "category": t.category, "payloadSchema": json_text(&t.payload_schema_json),
        "payloadPaths": t.payload_paths, "correlationPath": t.correlation_path,
        "createdAt": ts_json(t.created_at.as_ref()), "updatedAt": ts_json(t.updated_at.as_ref()),
    })
}
