//! The gRPC services a plugin serves: `ProviderPlugin` (routing each call to its provider and
//! enforcing the error model: unknown provider → `NOT_FOUND` (for `Preview`, the provider named
//! in its embedded `DeliverRequest`), undeclared capability →
//! `UNIMPLEMENTED`, a broken own schema → `FAILED_PRECONDITION`, for `Describe` too),
//! go-plugin's `GRPCController` (Shutdown) and the health service. Each is a building block:
//! `serve` composes them, a test fixture may swap one out.

use std::sync::Arc;

use switchyard_proto::go_plugin;
use switchyard_proto::go_plugin::grpc_controller_server::{GrpcController, GrpcControllerServer};
use switchyard_proto::handshake::HEALTH_SERVICE_NAME;
use switchyard_proto::plugin::v1 as pb;
use switchyard_proto::plugin::v1::provider_plugin_server::{ProviderPlugin, ProviderPluginServer};
use tokio_util::sync::CancellationToken;
use tonic::{Request, Response, Status};

use crate::erased::ErasedProvider;
use crate::plugin::BuiltPlugin;

/// The largest message a plugin accepts or sends (events may carry large payloads).
pub const MAX_MESSAGE_BYTES: usize = 16 * 1024 * 1024;

/// The `ProviderPlugin` implementation over a [`BuiltPlugin`].
#[derive(Debug, Clone)]
pub struct ProviderService {
    plugin: BuiltPlugin,
    protocol_version: u32,
}

/// The `ProviderPlugin` gRPC service for `plugin`, speaking `protocol_version`.
#[must_use]
pub fn provider_service(
    plugin: BuiltPlugin,
    protocol_version: u32,
) -> ProviderPluginServer<ProviderService> {
    ProviderPluginServer::new(ProviderService::new(plugin, protocol_version))
        .max_decoding_message_size(MAX_MESSAGE_BYTES)
        .max_encoding_message_size(MAX_MESSAGE_BYTES)
}

impl ProviderService {
    /// The bare service (without the tonic server wrapper), e.g. to call it in-process.
    #[must_use]
    pub fn new(plugin: BuiltPlugin, protocol_version: u32) -> Self {
        Self {
            plugin,
            protocol_version,
        }
    }

    fn provider(&self, id: &str) -> Result<&Arc<dyn ErasedProvider>, Status> {
        self.plugin.find(id).ok_or_else(|| {
            Status::not_found(format!(
                "plugin {:?} serves no provider {id:?}",
                self.plugin.id()
            ))
        })
    }

    /// The provider, if it declares the capability `name`; else `UNIMPLEMENTED`.
    fn capable(
        &self,
        id: &str,
        name: &str,
        declared: impl Fn(&pb::Capabilities) -> bool,
    ) -> Result<&Arc<dyn ErasedProvider>, Status> {
        let provider = self.provider(id)?;
        let caps = provider.descriptor().capabilities.unwrap_or_default();
        if declared(&caps) {
            Ok(provider)
        } else {
            Err(Status::unimplemented(format!(
                "provider {id:?} does not declare the {name} capability"
            )))
        }
    }
}

#[tonic::async_trait]
impl ProviderPlugin for ProviderService {
    async fn describe(
        &self,
        _request: Request<pb::DescribeRequest>,
    ) -> Result<Response<pb::DescribeResponse>, Status> {
        // Refused once the background check found a broken schema (the plugin is exiting
        // then). Not waited for: the host checks the schemas against the meta-schema itself,
        // and the check must not add to every start.
        if let Some(Err(err)) = self.plugin.schema_check_outcome() {
            return Err(Status::failed_precondition(format!(
                "invalid plugin: {err}"
            )));
        }
        Ok(Response::new(self.plugin.describe(self.protocol_version)))
    }

    async fn deliver(
        &self,
        request: Request<pb::DeliverRequest>,
    ) -> Result<Response<pb::DeliverResponse>, Status> {
        use switchyard_traces::FutureExt as _;
        let cx = crate::trace::deliver_call(&request);
        let request = request.into_inner();
        let provider = self.provider(&request.provider_id)?;
        let Some(cx) = cx else {
            return provider.deliver(request).await.map(Response::new);
        };
        let answer = provider.deliver(request).with_context(cx.clone()).await;
        crate::trace::end_deliver(&cx, &answer);
        answer.map(Response::new)
    }

    async fn test_connection(
        &self,
        request: Request<pb::TestConnectionRequest>,
    ) -> Result<Response<pb::TestConnectionResponse>, Status> {
        let request = request.into_inner();
        let provider = self.capable(&request.provider_id, "test_connection", |c| {
            c.test_connection
        })?;
        provider.test_connection(request).await.map(Response::new)
    }

    async fn get_connection_options(
        &self,
        request: Request<pb::GetConnectionOptionsRequest>,
    ) -> Result<Response<pb::GetConnectionOptionsResponse>, Status> {
        let request = request.into_inner();
        let provider = self.capable(&request.provider_id, "connection_options", |c| {
            c.connection_options
        })?;
        provider
            .connection_options(request)
            .await
            .map(Response::new)
    }

    async fn migrate_config(
        &self,
        request: Request<pb::MigrateConfigRequest>,
    ) -> Result<Response<pb::MigrateConfigResponse>, Status> {
        let request = request.into_inner();
        let provider =
            self.capable(&request.provider_id, "migrate_config", |c| c.migrate_config)?;
        provider.migrate_config(request).map(Response::new)
    }

    async fn validate_config(
        &self,
        request: Request<pb::ValidateConfigRequest>,
    ) -> Result<Response<pb::ValidateConfigResponse>, Status> {
        let request = request.into_inner();
        let provider = self.capable(&request.provider_id, "validate_config", |c| {
            c.validate_config
        })?;
        provider.validate_config(request).await.map(Response::new)
    }

    async fn preview(
        &self,
        request: Request<pb::PreviewRequest>,
    ) -> Result<Response<pb::PreviewResponse>, Status> {
        let request = request.into_inner();
        let Some(delivery) = &request.delivery else {
            return Err(Status::invalid_argument(
                "PreviewRequest.delivery is required",
            ));
        };
        let provider = self.capable(&delivery.provider_id, "preview", |c| c.preview)?;
        provider.preview(request).await.map(Response::new)
    }
}

/// go-plugin's `GRPCController`: Shutdown answers, then fires the token the server waits on.
#[derive(Debug, Clone)]
pub struct Controller {
    shutdown: CancellationToken,
}

/// The `GRPCController` service; `Shutdown` cancels `shutdown`.
#[must_use]
pub fn controller_service(shutdown: CancellationToken) -> GrpcControllerServer<Controller> {
    GrpcControllerServer::new(Controller { shutdown })
}

#[tonic::async_trait]
impl GrpcController for Controller {
    async fn shutdown(
        &self,
        _request: Request<go_plugin::Empty>,
    ) -> Result<Response<go_plugin::Empty>, Status> {
        tracing::info!("shutdown requested by the host");
        // The graceful shutdown this triggers waits for calls in flight, this one included, so
        // the answer still reaches the host.
        self.shutdown.cancel();
        Ok(Response::new(go_plugin::Empty {}))
    }
}

/// The health service with service `plugin` (and the server as a whole) SERVING, and its
/// reporter (set it to NOT_SERVING when stopping).
pub async fn health_service() -> (
    tonic_health::server::HealthReporter,
    tonic_health::pb::health_server::HealthServer<impl tonic_health::pb::health_server::Health>,
) {
    let (reporter, service) = tonic_health::server::health_reporter();
    reporter
        .set_service_status(HEALTH_SERVICE_NAME, tonic_health::ServingStatus::Serving)
        .await;
    reporter
        .set_service_status("", tonic_health::ServingStatus::Serving)
        .await;
    (reporter, service)
}
