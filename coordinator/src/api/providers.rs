//! `ProviderService`: the providers of the running plugins, straight from the host's registry
//! (each plugin's Describe answer, schemas already checked by the host).

use switchyard_proto::coordinator::v1 as api;
use switchyard_proto::coordinator::v1::provider_service_server::ProviderService;
use switchyard_proto::plugin::v1 as plugin;
use tonic::{Request, Response, Status};

use super::ApiContext;
use super::bounds;
use super::status::{ApiError, ApiResult};
use crate::host::ProviderEntry;

/// Serves `ProviderService`.
#[derive(Debug, Clone)]
pub struct Providers(pub(crate) ApiContext);

#[tonic::async_trait]
impl ProviderService for Providers {
    async fn list_providers(
        &self,
        _req: Request<api::ListProvidersRequest>,
    ) -> Result<Response<api::ListProvidersResponse>, Status> {
        let mut providers: Vec<api::Provider> =
            self.0.registry.providers().iter().map(to_api).collect();
        providers.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(Response::new(api::ListProvidersResponse { providers }))
    }

    async fn get_provider(
        &self,
        req: Request<api::GetProviderRequest>,
    ) -> Result<Response<api::GetProviderResponse>, Status> {
        let entry = resolve(&self.0, &req.into_inner().id)?;
        Ok(Response::new(api::GetProviderResponse {
            provider: Some(to_api(&entry)),
        }))
    }

    async fn reload_plugin(
        &self,
        req: Request<api::ReloadPluginRequest>,
    ) -> Result<Response<api::ReloadPluginResponse>, Status> {
        let plugin_id = req.into_inner().plugin_id;
        if plugin_id.is_empty() {
            return Err(ApiError::field("plugin_id", "is required, e.g. \"webhook\"").into());
        }
        bounds::id("plugin_id", &plugin_id)?;
        let (registry, gate) = (self.0.registry.clone(), self.0.engine.upgrade_gate());
        // In its own task: a client that gives up must not cancel a reload halfway (once the
        // new version took over, the registry and the stored configs have to follow).
        let reload = tokio::spawn(async move { registry.reload(&plugin_id, gate.as_ref()).await });
        let done = reload
            .await
            .map_err(|e| ApiError::Internal(format!("the reload task failed: {e}")))?
            .map_err(ApiError::from)?;
        let mut providers: Vec<api::Provider> = self
            .0
            .registry
            .providers()
            .iter()
            .filter(|e| e.plugin.id() == done.plugin_id)
            .map(to_api)
            .collect();
        providers.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(Response::new(api::ReloadPluginResponse {
            plugin_id: done.plugin_id,
            old_version: done.old_version,
            new_version: done.new_version,
            old_pid: done.old_pid.unwrap_or_default(),
            new_pid: done.new_pid,
            providers,
        }))
    }
}

/// Refuses a call the provider does not declare: FAILED_PRECONDITION "{what} are not
/// supported", never a fake success (the in-process design reported success for providers
/// without a connection test).
pub(crate) fn require(
    entry: &ProviderEntry,
    declared: impl Fn(&plugin::Capabilities) -> bool,
    what: &str,
) -> ApiResult<()> {
    if declared(&entry.provider.capabilities.unwrap_or_default()) {
        Ok(())
    } else {
        Err(ApiError::FailedPrecondition(format!(
            "{what} are not supported by provider {}",
            entry.qualified_id
        )))
    }
}

/// The provider with this qualified id, or NOT_FOUND naming the known ones.
pub(crate) fn resolve(ctx: &ApiContext, id: &str) -> ApiResult<ProviderEntry> {
    if id.is_empty() {
        return Err(ApiError::field(
            "provider_id",
            "is required, e.g. \"webhook.webhook\"",
        ));
    }
    bounds::id("provider_id", id)?;
    Ok(crate::app::provider(&ctx.app(), id)?)
}

fn to_api(entry: &ProviderEntry) -> api::Provider {
    let p = &entry.provider;
    let describe = entry.plugin.describe();
    let schema = |s: &plugin::VersionedSchema| api::VersionedSchema {
        version: s.version,
        json_schema: s.json_schema.clone(),
    };
    let caps = p.capabilities.unwrap_or_default();
    let last_reload = entry.plugin.last_reload();
    api::Provider {
        id: entry.qualified_id.clone(),
        plugin_id: describe.plugin_id.clone(),
        plugin_version: describe.plugin_version.clone(),
        display_name: p.display_name.clone(),
        description: p.description.clone(),
        icon: p.icon.clone(),
        config_schema: p.config_schema.as_ref().map(schema),
        connection_schema: p.connection_schema.as_ref().map(schema),
        supported_events: p.supported_events.clone(),
        documentation: p
            .documentation
            .as_ref()
            .map(|d| api::ProviderDocumentation {
                setup_guide: d.setup_guide.clone(),
                example_payload: d.example_payload.clone(),
                headers: d
                    .headers
                    .iter()
                    .map(|h| api::HeaderDocumentation {
                        name: h.name.clone(),
                        description: h.description.clone(),
                    })
                    .collect(),
                external_docs_url: d.external_docs_url.clone(),
            }),
        capabilities: Some(api::ProviderCapabilities {
            test_connection: caps.test_connection,
            connection_options: caps.connection_options,
            migrate_config: caps.migrate_config,
            validate_config: caps.validate_config,
            preview: caps.preview,
        }),
        running: entry.plugin.is_running(),
        last_reload_error: last_reload
            .as_ref()
            .and_then(|r| r.error.clone())
            .unwrap_or_default(),
        last_reload_time: last_reload.map(|r| r.at.into()),
        start_error: entry.plugin.start_error().unwrap_or_default(),
    }
}
