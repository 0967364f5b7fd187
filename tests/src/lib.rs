//! Shared helpers for the test binaries.
