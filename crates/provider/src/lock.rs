//! The lock that keeps two applies (or destroys) of one stack from interleaving, and the
//! record of what the stack protects.
//!
//! It lives where the state lives, on the backend, so every client of the
//! same daemon sees it. A backend implements [`StackLock`] with one atomic
//! operation (create a uniquely named object); who holds it, and whether a
//! holder is gone, is decided above.

use std::collections::BTreeSet;

use async_trait::async_trait;

use crate::ProviderError;

/// Who holds a stack's lock, as the lock records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holder {
    pub user: String,
    pub host: String,
    pub pid: u32,
    /// When the lock was taken, in seconds since the Unix epoch.
    pub since: u64,
    /// What the holder is doing: `apply`, `destroy`.
    pub operation: String,
}

/// Why a lock could not be taken.
#[derive(Debug, Clone)]
pub enum LockError {
    /// Someone else holds it. `token` identifies that very lock (to take
    /// over a stale one), `hint` says how to remove it on this backend.
    Held {
        holder: Holder,
        token: String,
        hint: String,
    },
    Failed(ProviderError),
}

#[async_trait]
pub trait StackLock: Send + Sync {
    /// Takes the lock of `stack` for `holder` in one atomic step and returns
    /// its token, or says who holds it.
    async fn try_lock(&self, stack: &str, holder: &Holder) -> Result<String, LockError>;

    /// Removes the lock with this token; a lock already gone is fine, and a
    /// lock taken anew by someone else (another token) is left alone.
    async fn unlock(&self, stack: &str, token: &str) -> Result<(), ProviderError>;
}

/// What a stack keeps on the backend beside its objects: the addresses its
/// last apply declared `prevent-destroy #true`. An object's own labels cannot
/// say so (Docker relabels nothing), yet a resource removed from the files
/// must stay protected until an apply lifts the protection.
#[async_trait]
pub trait StackRecord: Send + Sync {
    /// The addresses recorded as protected; none when nothing was recorded.
    async fn protected(&self, stack: &str) -> Result<BTreeSet<String>, ProviderError>;

    /// Records `addresses` as the protected ones; none removes the record.
    async fn set_protected(&self, stack: &str, addresses: &BTreeSet<String>) -> Result<(), ProviderError>;
}
