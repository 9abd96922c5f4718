//! The labels through which a stack finds its objects on the daemon.
//!
//! State lives in the daemon: there is no state file to lose. Objects
//! without these labels are never changed or removed.

/// The stack an object belongs to.
pub const STACK: &str = "dev.stack.stack";
/// The resource address, like `service.api` or `module.db.service.postgres`.
pub const ADDRESS: &str = "dev.stack.address";
/// The configuration last applied, as JSON (sensitive values hashed).
pub const CONFIG: &str = "dev.stack.config";
/// A hash of that configuration, to tell quickly whether anything changed.
pub const HASH: &str = "dev.stack.hash";
