//! Switchyard's end-to-end tests: one integration-test binary, one module per feature. They
//! run the real binaries (`cargo build --workspace --bins` first) through the real host.

mod api_bad_input;
mod api_connections;
mod api_hardening;
mod api_lists;
mod api_plugin_calls;
mod api_preview;
mod api_secrets;
mod api_tls;
mod cli_pipe;
mod coordinator_crash;
mod coordinator_delivery;
mod coordinator_migrate;
mod coordinator_serve;
mod correlation;
mod deliver;
mod env;
mod go_plugins;
mod handshake;
mod lifecycle;
mod network_policy;
mod pagerduty;
mod registry;
mod restart;
mod schema;
mod secret_echo;
mod secrets_rotate;
mod serve_lock;
mod uds_authority;
mod webhook_signing;
