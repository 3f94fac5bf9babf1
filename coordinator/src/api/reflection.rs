//! gRPC server reflection over exactly what the API serves: the platform services
//! (`switchyard.coordinator.v1`), health and reflection itself. The proto crate's descriptor
//! set also holds the plugin protocol and go-plugin's services, which the API does not answer;
//! a tool that listed them would send calls into the void, so they are filtered out here.

use std::collections::BTreeSet;

use prost::Message as _;
use prost_types::FileDescriptorSet;
use tonic_reflection::pb::v1::server_reflection_server::{
    ServerReflection, ServerReflectionServer,
};

use super::ServeError;

/// The package whose services the API serves.
const PLATFORM_PACKAGE: &str = "switchyard.coordinator.v1";

/// The files of the platform API and the files they import (transitively), nothing else.
///
/// # Errors
/// When the embedded descriptor set does not decode (a build problem).
pub(crate) fn platform_descriptors() -> Result<FileDescriptorSet, prost::DecodeError> {
    let all = FileDescriptorSet::decode(switchyard_proto::FILE_DESCRIPTOR_SET)?;
    let mut wanted: BTreeSet<String> = all
        .file
        .iter()
        .filter(|f| f.package() == PLATFORM_PACKAGE)
        .map(|f| f.name().to_owned())
        .collect();
    // Imports of imports: repeat until nothing new is added.
    loop {
        let imports: Vec<String> = all
            .file
            .iter()
            .filter(|f| wanted.contains(f.name()))
            .flat_map(|f| f.dependency.iter().cloned())
            .filter(|d| !wanted.contains(d))
            .collect();
        if imports.is_empty() {
            break;
        }
        wanted.extend(imports);
    }
    let file = all
        .file
        .into_iter()
        .filter(|f| wanted.contains(f.name()))
        .collect();
    Ok(FileDescriptorSet { file })
}

/// The reflection service listing the platform services, health and reflection.
///
/// # Errors
/// [`ServeError::Reflection`] when the descriptors do not build (a build problem).
pub(crate) fn service() -> Result<ServerReflectionServer<impl ServerReflection>, ServeError> {
    let platform = platform_descriptors().map_err(|e| ServeError::Reflection(e.to_string()))?;
    tonic_reflection::server::Builder::configure()
        .register_file_descriptor_set(platform)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .build_v1()
        .map_err(|e| ServeError::Reflection(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_platform_services_are_described() {
        let fds = platform_descriptors().unwrap();
        let services: BTreeSet<String> = fds
            .file
            .iter()
            .flat_map(|f| {
                f.service
                    .iter()
                    .map(move |s| format!("{}.{}", f.package(), s.name()))
            })
            .collect();
        let expected: BTreeSet<String> = [
            "ConnectionService",
            "DeliveryService",
            "EventService",
            "EventTypeService",
            "ProviderService",
            "SubscriptionService",
        ]
        .iter()
        .map(|s| format!("{PLATFORM_PACKAGE}.{s}"))
        .collect();
        assert_eq!(services, expected);
    }
}
