//! Generated code for Switchyard's two gRPC contracts. The `.proto` files beside this crate are
//! the source of truth and are documented field by field; this crate only compiles them.
//!
//! - [`plugin::v1`]: the plugin protocol (coordinator ⇄ plugin), service `ProviderPlugin`.
//! - [`go_plugin`]: hashicorp/go-plugin's own `plugin.GRPCController` and `plugin.GRPCStdio`,
//!   wire-compatible with go-plugin so Go plugins work unmodified.
//! - [`coordinator::v1`]: the platform API (platform ⇄ coordinator).
#![allow(
    missing_docs,
    clippy::all,
    clippy::pedantic,
    missing_debug_implementations
)]

/// `switchyard.plugin.v1`: the plugin protocol.
pub mod plugin {
    /// Version 1 of the plugin protocol (app protocol version 1 in the handshake).
    pub mod v1 {
        tonic::include_proto!("switchyard.plugin.v1");
    }
}

/// `switchyard.coordinator.v1`: the platform API.
pub mod coordinator {
    /// Version 1 of the platform API.
    pub mod v1 {
        tonic::include_proto!("switchyard.coordinator.v1");
    }
}

/// `plugin`: go-plugin's controller and stdio services.
pub mod go_plugin {
    tonic::include_proto!("plugin");
}

/// The encoded `FileDescriptorSet` of every Switchyard proto, for gRPC server reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] = tonic::include_file_descriptor_set!("switchyard_descriptor");

/// The app protocol versions of the plugin protocol this build speaks, oldest first.
pub const PLUGIN_PROTOCOL_VERSIONS: &[u32] = &[1];

/// The go-plugin handshake as Switchyard speaks it (see `docs/handshake.md`). Both the host and
/// every SDK take these values from here, so they cannot drift apart.
pub mod handshake {
    /// Environment variable carrying the magic cookie. A UX guard, not security: it tells a
    /// plugin that it was started by a Switchyard host and not by hand.
    pub const MAGIC_COOKIE_KEY: &str = "SWITCHYARD_PLUGIN_MAGIC_COOKIE";
    /// The fixed magic cookie value.
    pub const MAGIC_COOKIE_VALUE: &str = "3f6b2c1e9a8d4e7fb5c0d2a1e4f7b9c8-switchyard";
    /// Comma-separated app protocol versions the host speaks (go-plugin's variable).
    pub const PROTOCOL_VERSIONS_ENV: &str = "PLUGIN_PROTOCOL_VERSIONS";
    /// The directory in which the plugin must create its Unix socket (go-plugin's variable).
    pub const UNIX_SOCKET_DIR_ENV: &str = "PLUGIN_UNIX_SOCKET_DIR";
    /// go-plugin's core protocol version: the first field of the handshake line, always 1.
    pub const CORE_PROTOCOL_VERSION: u32 = 1;
    /// The gRPC health service name a plugin reports SERVING on.
    pub const HEALTH_SERVICE_NAME: &str = "plugin";
    /// The `:authority` the host dials with (tonic/h2 servers reject odd authorities over UDS).
    pub const AUTHORITY: &str = "localhost";

    mod line;
    pub use line::{HandshakeLine, LineError};
}
