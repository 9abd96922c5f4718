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

/// The same four on images, under keys of their own: a container inherits every label of its
/// image, and one started by hand from an image of a stack must not pass for the stack's.
pub const IMAGE_STACK: &str = "dev.stack.image.stack";
pub const IMAGE_ADDRESS: &str = "dev.stack.image.address";
pub const IMAGE_CONFIG: &str = "dev.stack.image.config";
pub const IMAGE_HASH: &str = "dev.stack.image.hash";
