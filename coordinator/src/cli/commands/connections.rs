//! `switchyard connections`: CRUD and test of connections. Configs are printed as the API
//! returns them, secrets already redacted; a connection whose config migration failed shows
//! why (`MIGRATION ERROR`, `migrationError`).

use serde_json::{Value, json};
use switchyard_proto::coordinator::v1::{
    ConfigKind, Connection, CreateConnectionRequest, DeleteConnectionRequest, GetConnectionRequest,
    ListConnectionsRequest, TestConnectionRequest, UpdateConnectionRequest,
};

use super::{Body, ConnectionsCmd, api_err, json_arg};
use crate::cli::client::Clients;
use crate::cli::output::{Output, dash, json_text, ts, ts_json};

pub(super) async fn run(cmd: ConnectionsCmd, mut c: Clients, out: Output) -> Result<(), String> {
    let api = &mut c.connections;
    match cmd {
        ConnectionsCmd::List { provider } => list(api, provider, out).await?,
        ConnectionsCmd::Show { id } => {
            let conn = api.get_connection(GetConnectionRequest { id }).await;
            print(&conn.body()?.connection.unwrap_or_default(), out);
        }
        ConnectionsCmd::Create {
            provider,
            name,
            config,
        } => {
            let req = CreateConnectionRequest {
                provider_id: provider,
                name,
                config_json: json_arg(&config)?,
            };
            let conn = api.create_connection(req).await;
            print(&conn.body()?.connection.unwrap_or_default(), out);
        }
        ConnectionsCmd::Update { id, name, config } => {
            let config_json = config
                .map(|c| json_arg(&c))
                .transpose()?
                .unwrap_or_default();
            let req = UpdateConnectionRequest {
                id,
                name: name.unwrap_or_default(),
                config_json,
            };
            let conn = api.update_connection(req).await;
            print(&conn.body()?.connection.unwrap_or_default(), out);
        }
        ConnectionsCmd::Delete { id } => {
            api.delete_connection(DeleteConnectionRequest { id: id.clone() })
                .await
                .map_err(api_err)?;
            out.line(&format!("deleted connection {id}"), &json!({"deleted": id}));
        }
        ConnectionsCmd::Test { id } => test(id, c, out).await?,
    }
    Ok(())
}

async fn list(
    api: &mut switchyard_proto::coordinator::v1::connection_service_client::ConnectionServiceClient<
        crate::cli::client::Transport,
    >,
    provider: Option<String>,
    out: Output,
) -> Result<(), String> {
    let req = ListConnectionsRequest {
        provider_id: provider.unwrap_or_default(),
    };
    let list = api.list_connections(req).await.body()?.connections;
    let rows: Vec<Vec<String>> = list
        .iter()
        .map(|c| {
            let updated = ts(c.updated_at.as_ref());
            let (id, provider, name) = (c.id.clone(), c.provider_id.clone(), c.name.clone());
            vec![id, provider, name, updated, dash(&c.migration_error)]
        })
        .collect();
    let json = Value::Array(list.iter().map(connection_json).collect());
    let headers = ["ID", "PROVIDER", "NAME", "UPDATED", "MIGRATION ERROR"];
    out.table(&headers, &rows, &json);
    Ok(())
}

async fn test(id: String, mut c: Clients, out: Output) -> Result<(), String> {
    let conn = c
        .connections
        .get_connection(GetConnectionRequest { id: id.clone() })
        .await;
    let conn = conn.body()?.connection.unwrap_or_default();
    let req = TestConnectionRequest {
        provider_id: conn.provider_id,
        kind: ConfigKind::Connection.into(),
        config_json: String::new(),
        connection_id: id,
    };
    let r = c.connections.test_connection(req).await.body()?;
    let problems: Vec<String> = r
        .problems
        .iter()
        .map(|p| format!("{}: {}", p.json_path, p.message))
        .collect();
    let json = json!({"success": r.success, "message": r.message,
        "details": json_text(&r.details_json), "problems": problems});
    let verdict = if r.success { "ok" } else { "failed" };
    out.record(
        &[
            ("result", verdict.to_owned()),
            ("message", r.message),
            ("problems", problems.join("; ")),
        ],
        &json,
    );
    if r.success {
        Ok(())
    } else {
        Err("the connection test failed".to_owned())
    }
}

fn print(conn: &Connection, out: Output) {
    let fields = [
        ("id", conn.id.clone()),
        ("provider", conn.provider_id.clone()),
        ("name", conn.name.clone()),
        ("config", format!("{:#}", json_text(&conn.config_json))),
        ("config version", conn.config_version.to_string()),
        ("migration error", dash(&conn.migration_error)),
        ("updated", ts(conn.updated_at.as_ref())),
    ];
    out.record(&fields, &connection_json(conn));
}

fn connection_json(c: &Connection) -> Value {
    json!({
        "id": c.id, "providerId": c.provider_id, "name": c.name,
        "config": json_text(&c.config_json), "configVersion": c.config_version,
        "migrationError": c.migration_error,
        "createdAt": ts_json(c.created_at.as_ref()), "updatedAt": ts_json(c.updated_at.as_ref()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_migration_shows_in_json() {
        let conn = Connection {
            id: "c1".into(),
            migration_error: "config migration from version 1 to 2 failed".into(),
            ..Connection::default()
        };
        let json = connection_json(&conn);
        assert_eq!(json["migrationError"], conn.migration_error);
        assert_eq!(
            connection_json(&Connection::default())["migrationError"],
            ""
        );
    }
}
