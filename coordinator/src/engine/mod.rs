//! The delivery engine.
