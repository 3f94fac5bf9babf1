//! The run context: the options, the local HTTP sink, the shared plugin most checks talk to
//! (started once, restarted when a check left it dead or wedged, stopped at the end), the
//! cached Describe answer, and the configs built per provider. Checks that need a process of
//! their own start it with [`Ctx::start`] and get a [`Launched`] that is reaped when dropped.

use std::collections::HashMap;
use std::time::Duration;

use rand::Rng;
use serde_json::Value;
use switchyard_plugin_sdk::testkit::HttpSink;
use switchyard_proto::go_plugin::Empty;
use switchyard_proto::handshake;
use switchyard_proto::plugin::v1::{DescribeRequest, DescribeResponse, Provider};
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;

use super::{Stop, fail, skip};
use crate::client::{Conn, request};
use crate::config::{self, Fill};
use crate::launcher::{LaunchMode, Launched, Program};
use crate::{Options, Target};
use switchyard_proto::handshake::HandshakeLine;

/// A started plugin with its handshake done and a connection open.
#[derive(Debug)]
pub(crate) struct Running {
    /// The process (None for a `--socket` target).
    pub launched: Option<Launched>,
    /// The parsed handshake line (None for a `--socket` target).
    pub line: Option<HandshakeLine>,
    /// The connection.
    pub conn: Conn,
}

/// A provider's configs, built from its schemas and the config file, valid by the schema.
#[derive(Debug, Clone)]
pub(crate) struct Built {
    /// The provider config.
    pub config: Value,
    /// The connection config, when the provider has a connection schema.
    pub connection: Option<Value>,
}

impl Built {
    /// The provider config as JSON text.
    pub(crate) fn config_json(&self) -> String {
        self.config.to_string()
    }

    /// The connection config as JSON text, empty without one.
    pub(crate) fn connection_json(&self) -> String {
        self.connection
            .as_ref()
            .map(Value::to_string)
            .unwrap_or_default()
    }
}

/// What the checks share.
#[derive(Debug)]
pub(crate) struct Ctx {
    /// The run's options.
    pub opts: Options,
    /// The answering HTTP sink URL fields point at.
    pub sink: HttpSink,
    /// The unique marker put into every `x-secret` field.
    pub marker: String,
    /// The providers the current check is about (set by the gate).
    pub targets: Vec<Provider>,
    shared: Option<Running>,
    /// Why the shared plugin could not be started; the check that tried reported it.
    start_failure: Option<String>,
    describe: Option<Result<DescribeResponse, String>>,
    describe_reported: bool,
    built: HashMap<String, Result<Built, String>>,
}

impl Ctx {
    /// A fresh context with its sink started.
    pub(crate) async fn new(opts: Options) -> Ctx {
        let marker = format!("swy-secret-{:016x}", rand::rng().random::<u64>());
        Ctx {
            opts,
            sink: HttpSink::start().await,
            marker,
            targets: Vec::new(),
            shared: None,
            start_failure: None,
            describe: None,
            describe_reported: false,
            built: HashMap::new(),
        }
    }

    /// The URL configs use for the sink.
    pub(crate) fn sink_url(&self) -> String {
        format!("{}/conformance", self.sink.url())
    }

    /// The call deadline.
    pub(crate) fn call_timeout(&self) -> Duration {
        self.opts.timeouts.call
    }

    /// The executable, or a skip for a `--socket` target.
    pub(crate) fn program(&self) -> Result<&Program, Stop> {
        match &self.opts.target {
            Target::Command(p) => Ok(p),
            Target::Socket(_) => Err(skip(
                "the plugin was started by someone else (--socket): this check must start it itself",
            )),
        }
    }

    /// Spawns a process of the check's own in `mode`, without waiting for the handshake.
    pub(crate) fn spawn(&self, mode: &LaunchMode) -> Result<Launched, Stop> {
        Launched::spawn(self.program()?, mode, self.opts.socket_root.as_deref())
            .map_err(|e| fail(e.to_string()))
    }

    /// A skip when the shared plugin already failed to start (a check reported why), so checks
    /// that start processes of their own do not repeat that failure, or its timeout.
    pub(crate) fn startable(&self) -> Result<(), Stop> {
        match &self.start_failure {
            Some(msg) => Err(skip(format!(
                "the plugin could not be started (reported above): {msg}"
            ))),
            None => Ok(()),
        }
    }

    /// Starts a process of the check's own the normal way, up to a connection.
    pub(crate) async fn start(&self, mode: &LaunchMode) -> Result<Running, Stop> {
        self.startable()?;
        let mut launched = self.spawn(mode)?;
        let timeouts = self.opts.timeouts;
        let line = launched
            .handshake(timeouts.start)
            .await
            .map_err(|e| fail(format!("the plugin did not start: {e}")))?;
        let conn = Conn::connect(&line.socket, timeouts.call)
            .await
            .map_err(fail)?;
        Ok(Running {
            launched: Some(launched),
            line: Some(line),
            conn,
        })
    }

    /// The shared plugin, started on first use (or after [`Ctx::settle`] stopped it); `Fail`
    /// with the start error the first time it cannot be started, `Skip` (pointing at that
    /// failure) afterwards.
    pub(crate) async fn shared(&mut self) -> Result<&mut Running, Stop> {
        self.startable()?;
        if self.shared.is_none() {
            match self.start_shared().await {
                Ok(running) => self.shared = Some(running),
                Err(msg) => {
                    self.start_failure = Some(msg.clone());
                    return Err(fail(msg));
                }
            }
        }
        self.shared
            .as_mut()
            .ok_or_else(|| fail("internal: no shared plugin"))
    }

    async fn start_shared(&mut self) -> Result<Running, String> {
        if let Target::Socket(path) = &self.opts.target {
            let conn = Conn::connect(path, self.opts.timeouts.call).await?;
            return Ok(Running {
                launched: None,
                line: None,
                conn,
            });
        }
        match self.start(&LaunchMode::normal()).await {
            Ok(running) => Ok(running),
            Err(Stop::Fail(m) | Stop::Skip(m) | Stop::Recommend(m)) => Err(m),
        }
    }

    /// A connection to the shared plugin.
    pub(crate) async fn conn(&mut self) -> Result<Conn, Stop> {
        Ok(self.shared().await?.conn.clone())
    }

    /// The shared plugin's Describe answer, fetched once.
    pub(crate) async fn describe(&mut self) -> Result<DescribeResponse, Stop> {
        if self.describe.is_none() {
            let conn = self.conn().await?;
            let req = request(DescribeRequest {}, self.call_timeout());
            let got = conn.plugin().describe(req).await;
            self.describe = Some(
                got.map(tonic::Response::into_inner)
                    .map_err(|s| format!("Describe failed: {} {}", s.code(), s.message())),
            );
        }
        match self.describe.as_ref() {
            Some(Ok(d)) => Ok(d.clone()),
            Some(Err(msg)) if self.describe_reported => {
                Err(skip(format!("Describe failed (reported above): {msg}")))
            }
            Some(Err(msg)) => {
                self.describe_reported = true;
                Err(fail(msg.clone()))
            }
            None => Err(fail("internal: no Describe answer")),
        }
    }

    /// The configs for `p`, built once; `Skip` when no valid config could be built.
    pub(crate) fn built(&mut self, p: &Provider) -> Result<Built, Stop> {
        if !self.built.contains_key(&p.id) {
            let built = self.build(p);
            self.built.insert(p.id.clone(), built);
        }
        match &self.built[&p.id] {
            Ok(b) => Ok(b.clone()),
            Err(why) => Err(skip(why.clone())),
        }
    }

    fn build(&self, p: &Provider) -> Result<Built, String> {
        let overrides = self
            .opts
            .config
            .providers
            .get(&p.id)
            .cloned()
            .unwrap_or_default();
        let schema = p
            .config_schema
            .as_ref()
            .map(|s| s.json_schema.as_str())
            .unwrap_or("");
        let config = self.build_one(p, "config", schema, overrides.config.as_ref())?;
        let connection = match &p.connection_schema {
            Some(s) => Some(self.build_one(
                p,
                "connection",
                &s.json_schema,
                overrides.connection.as_ref(),
            )?),
            None => None,
        };
        Ok(Built { config, connection })
    }

    fn build_one(
        &self,
        p: &Provider,
        kind: &str,
        schema: &str,
        over: Option<&Value>,
    ) -> Result<Value, String> {
        let schema: Value = serde_json::from_str(schema)
            .map_err(|e| format!("provider {:?}: its {kind} schema is not JSON ({e})", p.id))?;
        let sink_url = self.sink_url();
        let fill = Fill {
            sink_url: &sink_url,
            secret: &self.marker,
        };
        let mut value = config::build(&schema, &fill);
        if let Some(over) = over {
            config::merge(&mut value, over);
        }
        config::substitute_sink(&mut value, &sink_url);
        config::mark_secrets(&schema, &schema, &mut value, &self.marker);
        switchyard::schema::validate(&schema, &value).map_err(|problems| {
            let list: Vec<String> =
                problems.iter().map(|p| format!("{:?}: {}", p.json_path, p.message)).collect();
            format!(
                "provider {:?}: no valid {kind} config could be built from the schema's defaults and \
                 examples ({}); supply one with --config",
                p.id,
                list.join("; ")
            )
        })?;
        Ok(value)
    }

    /// After each check: if the shared plugin died or stopped answering health checks, stop it
    /// so the next check starts a fresh one.
    /// Returns what happened to it, with the tail of its stderr (a panic message, say), for
    /// the reason of a failed check.
    pub(crate) async fn settle(&mut self) -> Option<String> {
        let running = self.shared.as_mut()?;
        running.launched.as_ref()?;
        if serving(&running.conn, Duration::from_secs(2)).await {
            return None;
        }
        let mut launched = self.shared.take()?.launched?;
        let what = match launched.wait_exit(Duration::from_millis(500)).await {
            Some(status) => format!("the plugin died ({status})"),
            None => "the plugin stopped answering health checks and was killed".to_owned(),
        };
        launched.kill().await;
        launched.stderr.wait_eof(Duration::from_secs(1)).await;
        let tail = launched.stderr.tail(600);
        Some(if tail.is_empty() {
            what
        } else {
            format!("{what}; its last stderr output:\n{tail}")
        })
    }

    /// Stops the shared plugin the way a host does: Shutdown, a grace period, then SIGKILL.
    pub(crate) async fn close(&mut self) {
        let Some(running) = self.shared.take() else {
            return;
        };
        let Some(mut launched) = running.launched else {
            return;
        };
        let grace = self.opts.timeouts.shutdown;
        let _ = running
            .conn
            .controller()
            .shutdown(request(Empty {}, grace))
            .await;
        if launched.wait_exit(grace).await.is_none() {
            launched.kill().await;
        }
    }
}

/// True when the health service reports "plugin" SERVING within `timeout`.
pub(crate) async fn serving(conn: &Conn, timeout: Duration) -> bool {
    let req = request(
        HealthCheckRequest {
            service: handshake::HEALTH_SERVICE_NAME.to_owned(),
        },
        timeout,
    );
    match tokio::time::timeout(timeout, conn.health().check(req)).await {
        Ok(Ok(resp)) => resp.into_inner().status == ServingStatus::Serving as i32,
        _ => false,
    }
}

/// The provider's parsed schemas (config, then connection), skipping any that are not JSON.
pub(crate) fn schemas_of(p: &Provider) -> Vec<Value> {
    let texts = [p.config_schema.as_ref(), p.connection_schema.as_ref()];
    texts
        .into_iter()
        .flatten()
        .filter_map(|s| serde_json::from_str(&s.json_schema).ok())
        .collect()
}
