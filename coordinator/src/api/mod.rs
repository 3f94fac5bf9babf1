//! The platform gRPC API.
