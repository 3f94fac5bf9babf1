//! The plugin host: starts, handshakes, supervises and stops plugin processes.
