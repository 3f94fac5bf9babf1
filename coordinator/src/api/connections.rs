//! `ConnectionService`: connections CRUD (the lifecycle is `app::connections`': config
//! validated against the provider's connection schema with defaults applied, then by the
//! plugin's ValidateConfig when it declares it; secrets encrypted at rest and redacted in every
//! response; deleted only while unused),
//! plus the two calls that reach into a plugin: TestConnection and GetConnectionOptions.

use serde_json::Value;
use switchyard_proto::coordinator::v1 as api;
use switchyard_proto::coordinator::v1::connection_service_server::ConnectionService;
use tonic::{Request, Response, Status};

use super::ApiContext;
use super::bounds;
use super::convert::{parse_id, parse_json_object, timestamp};
use super::providers::resolve;
use super::status::{ApiError, ApiResult};
use crate::app;
use crate::app::config_pipeline::{self as configs, Kind};
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
        let conn = update(&self.0, req.into_inner()).await?;
        Ok(Response::new(api::UpdateConnectionResponse {
            connection: Some(to_api(&self.0, &conn)),
        }))
    }

    async fn delete_connection(
        &self,
        req: Request<api::DeleteConnectionRequest>,
    ) -> Result<Response<api::DeleteConnectionResponse>, Status> {
        let id: ConnectionId = parse_id("id", &req.into_inner().id)?;
        app::connections::delete(&self.0.app(), id).map_err(ApiError::from)?;
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
    bounds::name("name", &req.name)?;
    let config = parse_json_object("config_json", &req.config_json)?;
    Ok(app::connections::create(&ctx.app(), entry, req.name, config).await?)
}

async fn update(ctx: &ApiContext, req: api::UpdateConnectionRequest) -> ApiResult<Connection> {
    let id: ConnectionId = parse_id("id", &req.id)?;
    // The stored record must exist before the input is judged (NOT_FOUND first).
    app::connections::get(&ctx.app(), id)?;
    let config = if req.config_json.is_empty() {
        None
    } else {
        Some(parse_json_object("config_json", &req.config_json)?)
    };
    let name = if req.name.trim().is_empty() {
        None
    } else {
        bounds::name("name", &req.name)?;
        Some(req.name)
    };
    Ok(app::connections::update(&ctx.app(), id, name, config).await?)
}

fn get(ctx: &ApiContext, id: &str) -> ApiResult<Connection> {
    let id: ConnectionId = parse_id("id", id)?;
    Ok(app::connections::get(&ctx.app(), id)?)
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

/// Refuses to hand a plugin a connection whose config could not be migrated.
pub(crate) fn ensure_current(conn: &Connection) -> ApiResult<()> {
    Ok(app::connections::ensure_current(conn)?)
}

/// `{}` for an empty context.
fn context_or_empty(text: &str) -> ApiResult<Value> {
    if text.trim().is_empty() {
        Ok(Value::Object(serde_json::Map::new()))
    } else {
        parse_json_object("context_json", text)
    }
}
