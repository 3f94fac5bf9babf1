//! JSON Schema checks for plugin schemas and for configs.
