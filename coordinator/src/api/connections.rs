//! `ConnectionService`: connections CRUD (config validated against the provider's connection
//! schema with defaults applied, then by the plugin's ValidateConfig when it declares it;
//! secrets encrypted at rest and redacted in every response),
//! plus the two calls that reach into a plugin: TestConnection and GetConnectionOptions.

use serde_json::Value;
use switchyard_proto::coordinator::v1 as api;
use switchyard_proto::coordinator::v1::connection_service_server::ConnectionService;
use tonic::{Request, Response, Status};

use super::ApiContext;
use super::bounds;
use super::configs::{self, Kind};
use super::convert::{parse_id, parse_json_object, timestamp};
use super::providers::resolve;
use super::status::{ApiError, ApiResult};
use super::validate_config::Pending;
use crate::model::{Connection, ConnectionId};

mod plugin_calls;

/// Serves `ConnectionService`.
#[derive(Debug, Clone)]
pub struct Connections(pub(crate) ApiContext);

#[tonic::async_trait]
impl ConnectionService for Connections {
    async fn create_connection(
        &self,
        req: Request<api::CreateConnectionRequest>,
    ) -> Result<Response<api::CreateConnectionResponse>, Status> {
        let _keys = self.0.secrets.writing().await;
        let conn = create(&self.0, req.into_inner()).await?;
        Ok(Response::new(api::CreateConnectionResponse {
            connection: Some(to_api(&self.0, &conn)),
        }))
    }

    async fn get_connection(
        &self,
        req: Request<api::GetConnectionRequest>,
    ) -> Result<Response<api::GetConnectionResponse>, Status> {
        let conn = get(&self.0, &req.into_inner().id)?;
        Ok(Response::new(api::GetConnectionResponse {
            connection: Some(to_api(&self.0, &conn)),
        }))
    }

    async fn list_connections(
        &self,
        req: Request<api::ListConnectionsRequest>,
    ) -> Result<Response<api::ListConnectionsResponse>, Status> {
        let provider = req.into_inner().provider_id;
        let list = self
            .0
            .store
            .list_connections(Some(provider.as_str()).filter(|p| !p.is_empty()));
        let connections = list
            .map_err(ApiError::from)?
            .iter()
            .map(|c| to_api(&self.0, c))
            .collect();
        Ok(Response::new(api::ListConnectionsResponse { connections }))
    }

    async fn update_connection(
        &self,
        req: Request<api::UpdateConnectionRequest>,
    ) -> Result<Response<api::UpdateConnectionResponse>, Status> {
        let _keys = self.0.secrets.writing().await;
        let conn = update(&self.0, req.into_inner()).await?;
        Ok(Response::new(api::UpdateConnectionResponse {
            connection: Some(to_api(&self.0, &conn)),
        }))
    }

    async fn delete_connection(
        &self,
        req: Request<api::DeleteConnectionRequest>,
    ) -> Result<Response<api::DeleteConnectionResponse>, Status> {
        delete(&self.0, &req.into_inner().id)?;
        Ok(Response::new(api::DeleteConnectionResponse {}))
    }

    async fn test_connection(
        &self,
        req: Request<api::TestConnectionRequest>,
    ) -> Result<Response<api::TestConnectionResponse>, Status> {
        Ok(Response::new(
            plugin_calls::test(&self.0, req.into_inner()).await?,
        ))
    }

    async fn get_connection_options(
        &self,
        req: Request<api::GetConnectionOptionsRequest>,
    ) -> Result<Response<api::GetConnectionOptionsResponse>, Status> {
        Ok(Response::new(
            plugin_calls::options(&self.0, req.into_inner()).await?,
        ))
    }
}

async fn create(ctx: &ApiContext, req: api::CreateConnectionRequest) -> ApiResult<Connection> {
    let entry = resolve(ctx, &req.provider_id)?;
    let schema = configs::schema(&entry, Kind::Connection)?;
    bounds::name("name", &req.name)?;
    let mut config = parse_json_object("config_json", &req.config_json)?;
    configs::refuse_markers(&schema, "config_json", &config)?;
    configs::complete_and_validate(&schema, "config_json", &mut config)?;
    let config = plugin_checked(entry.clone(), config).await?;
    let now = chrono::Utc::now();
    let conn = Connection {
        id: ConnectionId::new_at(now),
        provider_id: entry.qualified_id.clone(),
        name: req.name,
        config: configs::encrypt(ctx, &schema, config)?,
        schema_version: schema.version,
        migration_error: None,
        created_at: now,
        updated_at: now,
    };
    ctx.store.insert_connection(&conn)?;
    tracing::info!(connection = %conn.id, provider = %conn.provider_id, "connection created");
    Ok(conn)
}

async fn update(ctx: &ApiContext, req: api::UpdateConnectionRequest) -> ApiResult<Connection> {
    let mut conn = get(ctx, &req.id)?;
    if !req.config_json.is_empty() {
        let entry = resolve(ctx, &conn.provider_id)?;
        let schema = configs::schema(&entry, Kind::Connection)?;
        let new = parse_json_object("config_json", &req.config_json)?;
        let mut config = configs::merge(ctx, &schema, &conn.config, new)?;
        configs::complete_and_validate(&schema, "config_json", &mut config)?;
        let config = plugin_checked(entry, config).await?;
        conn.config = configs::encrypt(ctx, &schema, config)?;
        conn.schema_version = schema.version;
        conn.migration_error = None;
    }
    if !req.name.trim().is_empty() {
        bounds::name("name", &req.name)?;
        conn.name = req.name;
    }
    conn.updated_at = chrono::Utc::now();
    ctx.store.update_connection(&conn)?;
    tracing::info!(connection = %conn.id, "connection updated");
    Ok(conn)
}

/// The connection config once the plugin's ValidateConfig (if declared) has passed it.
async fn plugin_checked(entry: crate::host::ProviderEntry, config: Value) -> ApiResult<Value> {
    Pending {
        entry,
        kind: Kind::Connection,
        field: "config_json",
        config,
        connection_json: String::new(),
        connection_broken: false,
    }
    .check()
    .await
}

/// Refuses to delete a connection that subscriptions still use: they would fail at delivery.
fn delete(ctx: &ApiContext, id: &str) -> ApiResult<()> {
    let conn = get(ctx, id)?;
    let users: Vec<String> = ctx
        .store
        .subscriptions()?
        .iter()
        .filter(|s| s.connection_id() == Some(conn.id))
        .map(|s| s.id.to_string())
        .collect();
    if !users.is_empty() {
        return Err(ApiError::FailedPrecondition(format!(
            "connection {} is used by subscriptions {}; delete them or point them at another connection first",
            conn.id,
            users.join(", ")
        )));
    }
    ctx.store.delete_connection(conn.id)?;
    tracing::info!(connection = %conn.id, "connection deleted");
    Ok(())
}

fn get(ctx: &ApiContext, id: &str) -> ApiResult<Connection> {
    let id: ConnectionId = parse_id("id", id)?;
    ctx.store
        .get_connection(id)?
        .ok_or_else(|| ApiError::NotFound(format!("connection {id} does not exist")))
}

fn to_api(ctx: &ApiContext, c: &Connection) -> api::Connection {
    let schema = ctx
        .registry
        .resolve(&c.provider_id)
        .and_then(|e| configs::schema(&e, Kind::Connection).ok());
    api::Connection {
        id: c.id.to_string(),
        provider_id: c.provider_id.clone(),
        name: c.name.clone(),
        config_json: configs::redacted_text(schema.as_ref(), &c.config),
        config_version: c.schema_version,
        created_at: Some(timestamp(c.created_at)),
        updated_at: Some(timestamp(c.updated_at)),
        migration_error: c.migration_error.clone().unwrap_or_default(),
    }
}

/// Refuses to hand a plugin a connection whose config could not be migrated: it follows an
/// older schema, so its secrets may not be where the plugin looks for them.
pub(crate) fn ensure_current(conn: &Connection) -> ApiResult<()> {
    match &conn.migration_error {
        None => Ok(()),
        Some(problem) => Err(ApiError::FailedPrecondition(format!(
            "connection {} cannot be used until it is fixed: its {problem}; update it with a \
             config valid for the provider's current connection schema",
            conn.id
        ))),
    }
}

/// `{}` for an empty context.
fn context_or_empty(text: &str) -> ApiResult<Value> {
    if text.trim().is_empty() {
        Ok(Value::Object(serde_json::Map::new()))
    } else {
        parse_json_object("context_json", text)
    }
}
