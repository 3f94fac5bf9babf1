//! The `ProviderPlugin` service in-process, over two providers of different types: routing by
//! provider id, the error model (NOT_FOUND, UNIMPLEMENTED, INVALID_ARGUMENT), in-band
//! diagnostics, connections, resolvers, migrations, save-time validation, previews,
//! concurrency and cancelled calls.

use std::sync::Arc;
use std::time::Duration;

use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{Value, json};
use switchyard_plugin_sdk::proto::plugin::v1 as pb;
use switchyard_plugin_sdk::proto::plugin::v1::provider_plugin_server::ProviderPlugin;
use switchyard_plugin_sdk::service::ProviderService;
use switchyard_plugin_sdk::{
    Capabilities, ConfigKind, ConnectionOption, DeliveryContext, DeliveryResult, Diagnostic,
    NoConnection, OptionsRequest, Plugin, PluginError, Provider, REDACTED, RenderedRequest, Secret,
    TestConnectionResult, TestTarget,
};
use tokio::sync::watch;
use tonic::{Code, Request};

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
struct TrackerConnection {
    base_url: String,
    api_token: Secret,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
struct TrackerConfig {
    #[expect(dead_code, reason = "only its schema matters here")]
    #[schemars(extend("x-hidden" = true))]
    connection_id: Option<String>,
    #[schemars(extend("x-options-resolver" = "projectOptions"))]
    project_key: String,
}

/// A connection-based provider declaring every capability.
struct Tracker;

impl Provider for Tracker {
    type Config = TrackerConfig;
    type Connection = TrackerConnection;

    fn id(&self) -> &'static str {
        "tracker"
    }
    fn display_name(&self) -> &'static str {
        "Tracker"
    }
    fn description(&self) -> &'static str {
        "Creates tickets."
    }
    fn config_version(&self) -> u32 {
        2
    }
    fn capabilities(&self) -> Capabilities {
        Capabilities {
            test_connection: true,
            connection_options: true,
            migrate_config: true,
            validate_config: true,
            preview: true,
        }
    }

    async fn validate_config(
        &self,
        target: TestTarget<TrackerConfig, TrackerConnection>,
    ) -> Vec<Diagnostic> {
        match target {
            TestTarget::Config { config, .. }
                if config.project_key != config.project_key.to_uppercase() =>
            {
                vec![Diagnostic::new("/projectKey", "must be upper case")]
            }
            TestTarget::Connection(c) if !c.base_url.starts_with("https://") => {
                vec![Diagnostic::new("/baseUrl", "must be an https URL")]
            }
            _ => Vec::new(),
        }
    }

    async fn preview(
        &self,
        ctx: DeliveryContext<TrackerConfig, TrackerConnection>,
    ) -> Result<RenderedRequest, Vec<Diagnostic>> {
        Ok(RenderedRequest {
            method: "POST".into(),
            url: format!("{}/rest/issue", ctx.connection.base_url),
            headers: vec![("authorization".into(), REDACTED.into())],
            body: json!({"project": ctx.config.project_key, "delivery": ctx.event.delivery_id})
                .to_string(),
        })
    }

    async fn deliver(
        &self,
        ctx: DeliveryContext<TrackerConfig, TrackerConnection>,
    ) -> DeliveryResult {
        let key = format!("{}-{}", ctx.config.project_key, ctx.event.attempt);
        DeliveryResult::delivered(Some(format!("{key}@{}", ctx.connection.base_url)))
    }

    async fn test_connection(
        &self,
        target: TestTarget<TrackerConfig, TrackerConnection>,
    ) -> TestConnectionResult {
        match target {
            TestTarget::Connection(c) if c.api_token.expose() == "good" => {
                TestConnectionResult::ok("connected")
            }
            TestTarget::Connection(_) => TestConnectionResult::failed("HTTP 401"),
            TestTarget::Config { config, .. } => {
                TestConnectionResult::ok(format!("project {}", config.project_key))
            }
        }
    }

    async fn get_connection_options(
        &self,
        request: OptionsRequest<TrackerConnection>,
    ) -> Result<Vec<ConnectionOption>, Vec<Diagnostic>> {
        let filter = request.context["q"].as_str().unwrap_or("").to_owned();
        Ok(["OPS", "DEV"]
            .into_iter()
            .filter(|k| k.contains(filter.as_str()))
            .map(|k| ConnectionOption::new(k, format!("{k} project")))
            .collect())
    }

    fn migrate_config(
        &self,
        _kind: ConfigKind,
        from_version: u32,
        mut config: Value,
    ) -> Result<Value, Vec<Diagnostic>> {
        // v1 called the field `project`.
        let project = config
            .as_object_mut()
            .and_then(|c| c.remove("project"))
            .ok_or_else(|| vec![Diagnostic::new("/project", "missing in a v1 config")])?;
        assert_eq!(from_version, 1);
        Ok(json!({ "projectKey": project }))
    }
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
struct GateConfig {
    #[serde(default)]
    hold: bool,
}

/// A provider without connection or capabilities; `hold: true` blocks until released.
struct Gate {
    release: watch::Receiver<bool>,
}

impl Provider for Gate {
    type Config = GateConfig;
    type Connection = NoConnection;

    fn id(&self) -> &'static str {
        "gate"
    }
    fn display_name(&self) -> &'static str {
        "Gate"
    }
    fn description(&self) -> &'static str {
        "Answers when released."
    }

    async fn deliver(&self, ctx: DeliveryContext<GateConfig, NoConnection>) -> DeliveryResult {
        if ctx.config.hold {
            let mut release = self.release.clone();
            let _ = release.wait_for(|released| *released).await;
        }
        DeliveryResult::delivered(None)
    }
}

fn service() -> (ProviderService, watch::Sender<bool>) {
    let (release, released) = watch::channel(false);
    let plugin = Plugin::new("test-plugin", "1.2.3")
        .provider(Tracker)
        .provider(Gate { release: released })
        .build()
        .expect("valid plugin");
    (ProviderService::new(plugin, 1), release)
}

fn deliver(
    provider: &str,
    config: Value,
    connection: Option<Value>,
) -> Request<pb::DeliverRequest> {
    Request::new(pb::DeliverRequest {
        provider_id: provider.into(),
        event: Some(pb::Event {
            event_type: "incident.incident.created".into(),
            payload_json: "{}".into(),
            timestamp: None,
            delivery_id: "d1".into(),
            attempt: 3,
            event_id: String::new(),
        }),
        subscription: Some(pb::Subscription::default()),
        config_json: config.to_string(),
        connection_json: connection.map(|c| c.to_string()).unwrap_or_default(),
        correlation: None,
    })
}

fn connection() -> Value {
    json!({"baseUrl": "https://jira.example", "apiToken": "good"})
}

#[tokio::test]
async fn describes_every_provider_with_schemas_and_capabilities() {
    let (service, _) = service();
    let described = service
        .describe(Request::new(pb::DescribeRequest {}))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(described.plugin_id, "test-plugin");
    assert_eq!(described.plugin_version, "1.2.3");
    let tracker = &described.providers[0];
    assert_eq!(tracker.config_schema.as_ref().unwrap().version, 2);
    let connection = tracker
        .connection_schema
        .as_ref()
        .expect("connection schema");
    assert!(connection.json_schema.contains(r#""x-secret":true"#));
    assert!(tracker.capabilities.unwrap().connection_options);
    let gate = &described.providers[1];
    assert!(gate.connection_schema.is_none());
    assert_eq!(gate.capabilities, Some(pb::Capabilities::default()));
}

#[tokio::test]
async fn routes_deliveries_and_answers_bad_configs_in_band() {
    let (service, _) = service();
    let ok = service
        .deliver(deliver(
            "tracker",
            json!({"projectKey": "OPS"}),
            Some(connection()),
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(ok.external_id, "OPS-3@https://jira.example");
    assert_eq!(ok.outcome, pb::Outcome::Delivered as i32);

    let bad = service
        .deliver(deliver(
            "tracker",
            json!({"projectKey": 5}),
            Some(connection()),
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(bad.outcome, pb::Outcome::Permanent as i32);
    assert_eq!(bad.diagnostics[0].json_path, "/projectKey");
    assert!(!bad.success);

    let no_connection = service
        .deliver(deliver("tracker", json!({"projectKey": "OPS"}), None))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(no_connection.outcome, pb::Outcome::Permanent as i32);
    assert!(!no_connection.diagnostics.is_empty());

    let not_json = service
        .deliver(Request::new(pb::DeliverRequest {
            config_json: "{oops".into(),
            ..deliver("gate", json!({}), None).into_inner()
        }))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(not_json.outcome, pb::Outcome::Permanent as i32);
    assert_eq!(not_json.diagnostics[0].json_path, "");
}

#[tokio::test]
async fn protocol_errors_get_their_status_codes() {
    let (service, _) = service();
    let unknown = service.deliver(deliver("nope", json!({}), None)).await;
    assert_eq!(unknown.unwrap_err().code(), Code::NotFound);

    let mut request = deliver("gate", json!({}), None);
    request.get_mut().event = None;
    let missing = service.deliver(request).await;
    assert_eq!(missing.unwrap_err().code(), Code::InvalidArgument);

    let undeclared = service
        .test_connection(Request::new(pb::TestConnectionRequest {
            provider_id: "gate".into(),
            kind: pb::ConfigKind::Provider as i32,
            ..Default::default()
        }))
        .await;
    assert_eq!(undeclared.unwrap_err().code(), Code::Unimplemented);

    for (provider, expected) in [("gate", Code::Unimplemented), ("nope", Code::NotFound)] {
        let migrate = service
            .migrate_config(Request::new(pb::MigrateConfigRequest {
                provider_id: provider.into(),
                kind: pb::ConfigKind::Provider as i32,
                from_version: 1,
                config_json: "{}".into(),
            }))
            .await;
        assert_eq!(migrate.unwrap_err().code(), expected);
    }
}

#[tokio::test]
async fn resolves_options_and_refuses_unknown_resolvers() {
    let (service, _) = service();
    let options = |resolver: &str, context: Value| {
        Request::new(pb::GetConnectionOptionsRequest {
            provider_id: "tracker".into(),
            resolver_name: resolver.into(),
            connection_json: connection().to_string(),
            context_json: context.to_string(),
        })
    };
    let answer = service
        .get_connection_options(options("projectOptions", json!({"q": "OP"})))
        .await
        .unwrap()
        .into_inner();
    let values: Vec<&str> = answer.options.iter().map(|o| o.value.as_str()).collect();
    assert_eq!(values, ["OPS"]);
    let unknown = service
        .get_connection_options(options("nopeOptions", json!({})))
        .await;
    assert_eq!(unknown.unwrap_err().code(), Code::NotFound);
}

#[tokio::test]
async fn tests_connections_and_configs() {
    let (service, _) = service();
    let test = |kind: pb::ConfigKind, config: Value, connection: Value| {
        Request::new(pb::TestConnectionRequest {
            provider_id: "tracker".into(),
            kind: kind as i32,
            config_json: config.to_string(),
            connection_json: connection.to_string(),
        })
    };
    let good = service
        .test_connection(test(pb::ConfigKind::Connection, connection(), json!(null)))
        .await
        .unwrap()
        .into_inner();
    assert!(good.success, "{good:?}");
    let bad = service
        .test_connection(test(
            pb::ConfigKind::Connection,
            json!({"baseUrl": "x", "apiToken": "bad"}),
            json!(null),
        ))
        .await
        .unwrap()
        .into_inner();
    assert!(!bad.success);
    let invalid = service
        .test_connection(test(pb::ConfigKind::Connection, json!({}), json!(null)))
        .await
        .unwrap()
        .into_inner();
    assert!(!invalid.success);
    assert!(!invalid.diagnostics.is_empty());
    let config = service
        .test_connection(test(
            pb::ConfigKind::Provider,
            json!({"projectKey": "DEV"}),
            connection(),
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(config.message, "project DEV");
}

#[tokio::test]
async fn migrates_and_validates_the_result() {
    let (service, _) = service();
    let migrate = |config: Value, from_version| {
        Request::new(pb::MigrateConfigRequest {
            provider_id: "tracker".into(),
            kind: pb::ConfigKind::Provider as i32,
            from_version,
            config_json: config.to_string(),
        })
    };
    let done = service
        .migrate_config(migrate(json!({"project": "OPS"}), 1))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(done.version, 2);
    assert_eq!(
        serde_json::from_str::<Value>(&done.config_json).unwrap(),
        json!({"projectKey": "OPS"})
    );
    let wrong = service
        .migrate_config(migrate(json!({"project": 7}), 1))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(wrong.diagnostics[0].json_path, "/projectKey");
    assert!(wrong.config_json.is_empty());
    let newer = service
        .migrate_config(migrate(json!({}), 3))
        .await
        .unwrap()
        .into_inner();
    assert!(newer.diagnostics[0].message.contains("newer"));
}

#[tokio::test]
async fn serves_many_calls_at_once_and_survives_cancelled_ones() {
    let (service, release) = service();
    let service = Arc::new(service);
    // A call that is cancelled (dropped) while the provider is still working on it.
    let cancelled = tokio::time::timeout(
        Duration::from_millis(50),
        service.deliver(deliver("gate", json!({"hold": true}), None)),
    )
    .await;
    assert!(cancelled.is_err());
    let calls: Vec<_> = (0..32)
        .map(|_| {
            let service = service.clone();
            tokio::spawn(async move {
                service
                    .deliver(deliver("gate", json!({"hold": true}), None))
                    .await
            })
        })
        .collect();
    // Let the held calls pile up, then release them all at once.
    tokio::task::yield_now().await;
    release.send_replace(true);
    let all = async {
        let mut answers = Vec::new();
        for call in calls {
            answers.push(call.await);
        }
        answers
    };
    let answers = tokio::time::timeout(Duration::from_secs(30), all)
        .await
        .expect("all calls answered");
    assert_eq!(answers.len(), 32);
    for answer in answers {
        assert!(answer.unwrap().unwrap().into_inner().success);
    }
}

#[test]
fn a_broken_definition_is_refused_with_a_clear_error() {
    let bad_id = Plugin::new("Bad_Id", "1").provider(Tracker).build();
    assert!(matches!(
        bad_id,
        Err(PluginError::BadId { what: "plugin", .. })
    ));
    let twice = Plugin::new("p", "1")
        .provider(Tracker)
        .provider(Tracker)
        .build();
    assert!(matches!(twice, Err(PluginError::DuplicateProvider(id)) if id == "tracker"));
    assert!(matches!(
        Plugin::new("p", "1").build(),
        Err(PluginError::NoProviders)
    ));
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
struct BrokenConfig {
    /// `"type": "nonsense"` violates the 2020-12 meta-schema.
    #[expect(dead_code, reason = "only its schema matters here")]
    #[schemars(extend("type" = "nonsense"))]
    field: String,
}

/// A provider whose own config schema is invalid.
struct Broken;

impl Provider for Broken {
    type Config = BrokenConfig;
    type Connection = NoConnection;

    fn id(&self) -> &'static str {
        "broken"
    }
    fn display_name(&self) -> &'static str {
        "Broken"
    }
    fn description(&self) -> &'static str {
        "Has an invalid schema."
    }
    async fn deliver(&self, _ctx: DeliveryContext<BrokenConfig, NoConnection>) -> DeliveryResult {
        DeliveryResult::delivered(None)
    }
}

#[tokio::test]
async fn a_broken_own_schema_refuses_describe_and_every_config_use() {
    // Building is cheap and succeeds; the schema check runs in the background.
    let plugin = Plugin::new("p", "1")
        .provider(Broken)
        .build()
        .expect("ids are fine");
    let checked = tokio::time::timeout(Duration::from_secs(30), plugin.schemas_checked())
        .await
        .expect("the check finishes");
    let Err(PluginError::Schema { provider, source }) = checked else {
        panic!("expected a schema error, got {checked:?}");
    };
    assert_eq!(provider, "broken");
    assert!(source.to_string().contains("/properties/field"), "{source}");
    assert!(matches!(
        plugin.check_schemas(),
        Err(PluginError::Schema { .. })
    ));

    let service = ProviderService::new(plugin, 1);
    let describe = service
        .describe(Request::new(pb::DescribeRequest::default()))
        .await
        .unwrap_err();
    assert_eq!(describe.code(), Code::FailedPrecondition);
    assert!(describe.message().contains("broken"), "{describe:?}");
    let deliver = service
        .deliver(deliver("broken", json!({"field": "x"}), None))
        .await
        .unwrap_err();
    assert_eq!(deliver.code(), Code::FailedPrecondition);
}

#[tokio::test]
async fn calls_wait_for_the_background_schema_check() {
    let plugin = Plugin::new("p", "1")
        .provider(Tracker)
        .build()
        .expect("valid plugin");
    // Straight after build: the check may still be running; the call must still validate.
    let service = ProviderService::new(plugin, 1);
    let answer = service
        .deliver(deliver("tracker", json!({"projectKey": 7}), None))
        .await
        .expect("answered in-band")
        .into_inner();
    assert!(!answer.success);
    assert_eq!(answer.diagnostics[0].json_path, "/projectKey");
}

fn validate(
    provider: &str,
    kind: pb::ConfigKind,
    config: Value,
) -> Request<pb::ValidateConfigRequest> {
    let connection_json = if kind == pb::ConfigKind::Provider && provider == "tracker" {
        connection().to_string()
    } else {
        String::new()
    };
    Request::new(pb::ValidateConfigRequest {
        provider_id: provider.into(),
        kind: kind.into(),
        config_json: config.to_string(),
        connection_json,
    })
}

fn paths(diagnostics: &[pb::Diagnostic]) -> Vec<&str> {
    diagnostics.iter().map(|d| d.json_path.as_str()).collect()
}

#[tokio::test]
async fn validate_config_reaches_only_a_declaring_provider_after_the_schema() {
    let (service, _) = service();
    let described = service
        .describe(Request::new(pb::DescribeRequest {}))
        .await
        .unwrap()
        .into_inner();
    let caps: Vec<_> = described
        .providers
        .iter()
        .map(|p| p.capabilities.unwrap_or_default())
        .map(|c| (c.validate_config, c.preview))
        .collect();
    assert_eq!(caps, [(true, true), (false, false)]);

    let answer = |r: Result<tonic::Response<pb::ValidateConfigResponse>, tonic::Status>| {
        r.unwrap().into_inner().diagnostics
    };
    let ok = service
        .validate_config(validate(
            "tracker",
            pb::ConfigKind::Provider,
            json!({"projectKey": "OPS"}),
        ))
        .await;
    assert!(answer(ok).is_empty());
    let lower = service
        .validate_config(validate(
            "tracker",
            pb::ConfigKind::Provider,
            json!({"projectKey": "ops"}),
        ))
        .await;
    assert_eq!(paths(&answer(lower)), ["/projectKey"]);
    // The schema comes first: the provider never sees a config that does not match it.
    let missing = service
        .validate_config(validate("tracker", pb::ConfigKind::Provider, json!({})))
        .await;
    let missing = answer(missing);
    assert_eq!(missing.len(), 1, "{missing:?}");
    assert!(missing[0].message.contains("projectKey"), "{missing:?}");
    let conn = json!({"baseUrl": "http://jira.example", "apiToken": "t"});
    let insecure = service
        .validate_config(validate("tracker", pb::ConfigKind::Connection, conn))
        .await;
    assert_eq!(paths(&answer(insecure)), ["/baseUrl"]);
    let undeclared = service
        .validate_config(validate("gate", pb::ConfigKind::Provider, json!({})))
        .await
        .unwrap_err();
    assert_eq!(undeclared.code(), Code::Unimplemented);
}

#[tokio::test]
async fn preview_renders_through_a_declaring_provider_only() {
    let (service, _) = service();
    let request = |r: Request<pb::DeliverRequest>| {
        Request::new(pb::PreviewRequest {
            delivery: Some(r.into_inner()),
        })
    };
    let rendered = service
        .preview(request(deliver(
            "tracker",
            json!({"projectKey": "OPS"}),
            Some(connection()),
        )))
        .await
        .unwrap()
        .into_inner();
    assert!(rendered.diagnostics.is_empty(), "{rendered:?}");
    let r = rendered.request.expect("a request");
    assert_eq!(r.url, "https://jira.example/rest/issue");
    assert_eq!(r.headers[0].value, REDACTED);
    assert_eq!(
        serde_json::from_str::<Value>(&r.body).unwrap(),
        json!({"project": "OPS", "delivery": "d1"})
    );
    let invalid = service
        .preview(request(deliver(
            "tracker",
            json!({"projectKey": 7}),
            Some(connection()),
        )))
        .await
        .unwrap()
        .into_inner();
    assert!(invalid.request.is_none());
    assert_eq!(paths(&invalid.diagnostics), ["/projectKey"]);
    let undeclared = service
        .preview(request(deliver("gate", json!({}), None)))
        .await
        .unwrap_err();
    assert_eq!(undeclared.code(), Code::Unimplemented);
    let unknown = service
        .preview(request(deliver("nope", json!({}), None)))
        .await
        .unwrap_err();
    assert_eq!(unknown.code(), Code::NotFound);
    let empty = service
        .preview(Request::new(pb::PreviewRequest { delivery: None }))
        .await
        .unwrap_err();
    assert_eq!(empty.code(), Code::InvalidArgument, "{empty:?}");
}
