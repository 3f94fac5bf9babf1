//! The start sequence after the connection: the go-plugin health check (service `plugin` must be
//! SERVING), then `Describe`, whose answer is checked before the plugin is accepted: well-formed,
//! unique ids, the protocol version it announced, and every schema passing
//! [`crate::schema::check_schema`].

use super::error::StartError;
use crate::schema::{SchemaProblem, check_schema};
use std::collections::HashSet;
use switchyard_proto::handshake::HEALTH_SERVICE_NAME;
use switchyard_proto::plugin::v1::provider_plugin_client::ProviderPluginClient;
use switchyard_proto::plugin::v1::{DescribeRequest, DescribeResponse, Provider, VersionedSchema};
use tonic::transport::Channel;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

/// Asks the health service whether the plugin serves; Err describes what it said instead.
pub(crate) async fn health_check(channel: Channel) -> Result<(), String> {
    let request = HealthCheckRequest {
        service: HEALTH_SERVICE_NAME.to_owned(),
    };
    let status = HealthClient::new(channel)
        .check(request)
        .await
        .map_err(|s| format!("{}: {}", s.code(), s.message()))?
        .into_inner()
        .status();
    if status == ServingStatus::Serving {
        Ok(())
    } else {
        Err(format!(
            "service {HEALTH_SERVICE_NAME:?} reports {}",
            status.as_str_name()
        ))
    }
}

/// Calls `Describe`.
pub(crate) async fn describe(channel: Channel) -> Result<DescribeResponse, String> {
    ProviderPluginClient::new(channel)
        .describe(DescribeRequest {})
        .await
        .map(tonic::Response::into_inner)
        .map_err(|s| format!("{}: {}", s.code(), s.message()))
}

/// Whether an id is lowercase letters, digits and `-`, starting with a letter.
pub(crate) fn is_valid_id(id: &str) -> bool {
    let mut chars = id.chars();
    chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

/// Checks a Describe answer; the error names the provider and the JSON path of each problem.
pub(crate) fn check_describe(resp: &DescribeResponse, announced: u32) -> Result<(), StartError> {
    let refuse = |provider: &str, problems: Vec<SchemaProblem>| StartError::InvalidDescribe {
        plugin_id: resp.plugin_id.clone(),
        provider: provider.to_owned(),
        problems,
    };
    let mut problems = Vec::new();
    if !is_valid_id(&resp.plugin_id) {
        problems.push(SchemaProblem::new("plugin_id", ID_RULE));
    }
    if resp.protocol_version != announced {
        problems.push(SchemaProblem::new(
            "protocol_version",
            format!(
                "is {}, but the handshake announced {announced}",
                resp.protocol_version
            ),
        ));
    }
    if resp.providers.is_empty() {
        problems.push(SchemaProblem::new(
            "providers",
            "the plugin serves no provider",
        ));
    }
    if !problems.is_empty() {
        return Err(refuse("", problems));
    }
    let mut seen = HashSet::new();
    for provider in &resp.providers {
        let mut problems = provider_problems(provider);
        if !seen.insert(provider.id.as_str()) {
            problems.push(SchemaProblem::new(
                "id",
                "another provider of this plugin has the same id",
            ));
        }
        if !problems.is_empty() {
            return Err(refuse(&provider.id, problems));
        }
    }
    Ok(())
}

const ID_RULE: &str = "ids are lowercase letters, digits and `-`, starting with a letter";

/// The problems of one provider: its id and its schemas.
fn provider_problems(provider: &Provider) -> Vec<SchemaProblem> {
    let mut problems = Vec::new();
    if !is_valid_id(&provider.id) {
        problems.push(SchemaProblem::new("id", ID_RULE));
    }
    match &provider.config_schema {
        Some(schema) => problems.extend(schema_problems("config_schema", schema)),
        None => problems.push(SchemaProblem::new(
            "config_schema",
            "is missing; every provider needs one",
        )),
    }
    if let Some(schema) = &provider.connection_schema {
        problems.extend(schema_problems("connection_schema", schema));
    }
    problems
}

/// A versioned schema's problems, their paths prefixed with the field name.
fn schema_problems(field: &str, schema: &VersionedSchema) -> Vec<SchemaProblem> {
    let mut problems = Vec::new();
    if schema.version == 0 {
        problems.push(SchemaProblem::new(
            format!("{field}/version"),
            "versions start at 1",
        ));
    }
    let document = match serde_json::from_str(&schema.json_schema) {
        Ok(document) => document,
        Err(err) => {
            problems.push(SchemaProblem::new(
                field,
                format!("json_schema is not JSON: {err}"),
            ));
            return problems;
        }
    };
    if let Err(found) = check_schema(&document) {
        problems.extend(
            found
                .into_iter()
                .map(|p| SchemaProblem::new(format!("{field}{}", p.json_path), p.message)),
        );
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;

    fn provider(id: &str, schema: &str) -> Provider {
        Provider {
            id: id.to_owned(),
            config_schema: Some(VersionedSchema {
                version: 1,
                json_schema: schema.to_owned(),
            }),
            ..Provider::default()
        }
    }

    fn describe(providers: Vec<Provider>) -> DescribeResponse {
        DescribeResponse {
            plugin_id: "fixture".into(),
            plugin_version: "1.0.0".into(),
            protocol_version: 1,
            providers,
        }
    }

    #[test]
    fn a_good_describe_passes() {
        let resp = describe(vec![provider("echo", r#"{"type":"object"}"#)]);
        assert!(check_describe(&resp, 1).is_ok());
    }

    #[test]
    fn an_invalid_schema_names_provider_and_path() {
        let resp = describe(vec![provider(
            "echo",
            r#"{"type":"object","properties":{"a":{"type":5}}}"#,
        )]);
        let err = check_describe(&resp, 1).unwrap_err().to_string();
        assert!(
            err.contains("\"echo\"") && err.contains("config_schema/properties/a/type"),
            "{err}"
        );
    }

    #[test]
    fn duplicate_and_malformed_ids_are_refused() {
        let ok = r#"{"type":"object"}"#;
        let dup = describe(vec![provider("echo", ok), provider("echo", ok)]);
        assert!(check_describe(&dup, 1).is_err());
        let bad = describe(vec![provider("Echo", ok)]);
        assert!(check_describe(&bad, 1).is_err());
    }

    #[test]
    fn ids_follow_the_rule() {
        assert!(is_valid_id("web-hook2"));
        assert!(!is_valid_id("2web") && !is_valid_id("") && !is_valid_id("a.b"));
    }
}
