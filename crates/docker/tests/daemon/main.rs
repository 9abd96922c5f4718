//! Tests against the real Docker daemon. Each test works in its own [`support::Scope`]: unique
//! `stacktest-...` names, one label, everything removed afterwards.

// Test code may unwrap; `allow-unwrap-in-tests` does not reach the helpers in `support`.
#![allow(clippy::unwrap_used)]

mod support;

mod containers;
mod daemon;
mod images;
mod networks;
mod volumes;
