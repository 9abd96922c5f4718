//! Taking a stack's lock: who we are, and when a holder is gone for good.

use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use stack_provider::ProviderError;
use stack_provider::lock::{Holder, LockError, StackLock};

/// A stack's lock, held until released.
pub struct Locked<'a> {
    locks: &'a dyn StackLock,
    stack: String,
    token: String,
    /// The holder of a stale lock this one replaced: its process on this host is gone.
    pub took_over: Option<Holder>,
}

impl Locked<'_> {
    pub async fn release(self) -> Result<(), ProviderError> {
        self.locks.unlock(&self.stack, &self.token).await
    }
}

/// Takes the lock of `stack` for `operation` (`apply`, `destroy`). A lock whose
/// holder ran on this host in a process that no longer exists is stale: it is
/// taken over, and [`Locked::took_over`] says whose it was.
pub async fn lock<'a>(
    locks: &'a dyn StackLock,
    stack: &str,
    operation: &str,
) -> Result<Locked<'a>, LockError> {
    let me = current_holder(operation);
    let mut took_over = None;
    let token = match locks.try_lock(stack, &me).await {
        Ok(token) => token,
        Err(LockError::Held { holder, token, .. }) if is_stale(&holder, &me.host) => {
            locks.unlock(stack, &token).await.map_err(LockError::Failed)?;
            took_over = Some(holder);
            locks.try_lock(stack, &me).await?
        }
        Err(error) => return Err(error),
    };
    Ok(Locked {
        locks,
        stack: stack.to_owned(),
        token,
        took_over,
    })
}

/// This process, as a lock records its holder.
fn current_holder(operation: &str) -> Holder {
    let user = ["USER", "LOGNAME"]
        .iter()
        .find_map(|key| std::env::var(key).ok().filter(|value| !value.is_empty()))
        .unwrap_or_else(|| "unknown".to_owned());
    Holder {
        user,
        host: host_name(),
        pid: std::process::id(),
        since: SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |since| since.as_secs()),
        operation: operation.to_owned(),
    }
}

fn host_name() -> String {
    ["/proc/sys/kernel/hostname", "/etc/hostname"]
        .iter()
        .find_map(|path| std::fs::read_to_string(path).ok())
        .map(|name| name.trim().to_owned())
        .filter(|name| !name.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "unknown".to_owned())
}

/// A holder on this host whose process is gone. Elsewhere, or where processes
/// cannot be seen, a lock is never taken as stale.
fn is_stale(holder: &Holder, this_host: &str) -> bool {
    holder.host == this_host
        && Path::new("/proc/self").exists()
        && !Path::new("/proc").join(holder.pid.to_string()).exists()
}

/// `alice on build-1 (pid 4242, apply) since 2025-01-31 09:30:00 UTC`.
pub fn describe(holder: &Holder) -> String {
    format!(
        "{} on {} (pid {}, {}) since {}",
        holder.user,
        holder.host,
        holder.pid,
        holder.operation,
        utc(holder.since)
    )
}

/// Seconds since the epoch as a UTC date and time.
fn utc(seconds: u64) -> String {
    let days = i64::try_from(seconds / 86_400).unwrap_or(0);
    let time = seconds % 86_400;
    // Howard Hinnant's days-to-civil conversion.
    let shifted = days + 719_468;
    let era = shifted.div_euclid(146_097);
    let day_of_era = shifted.rem_euclid(146_097);
    let year_of_era = (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_index = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_index + 2) / 5 + 1;
    let month = if month_index < 10 {
        month_index + 3
    } else {
        month_index - 9
    };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02} UTC",
        time / 3600,
        time % 3600 / 60,
        time % 60
    )
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use async_trait::async_trait;

    use super::*;

    /// A lock in memory: one holder per stack, tokens counted up.
    #[derive(Default)]
    struct MemoryLock {
        held: Mutex<Option<(Holder, String)>>,
        issued: Mutex<u32>,
    }

    #[async_trait]
    impl StackLock for MemoryLock {
        async fn try_lock(&self, _stack: &str, holder: &Holder) -> Result<String, LockError> {
            let mut held = self.held.lock().unwrap();
            if let Some((holder, token)) = held.as_ref() {
                return Err(LockError::Held {
                    holder: holder.clone(),
                    token: token.clone(),
                    hint: String::new(),
                });
            }
            let mut issued = self.issued.lock().unwrap();
            *issued += 1;
            let token = issued.to_string();
            *held = Some((holder.clone(), token.clone()));
            Ok(token)
        }

        async fn unlock(&self, _stack: &str, token: &str) -> Result<(), ProviderError> {
            let mut held = self.held.lock().unwrap();
            if held.as_ref().is_some_and(|(_, current)| current == token) {
                *held = None;
            }
            Ok(())
        }
    }

    #[tokio::test]
    async fn a_second_lock_names_the_holder_until_the_first_is_released() {
        let locks = MemoryLock::default();
        let first = lock(&locks, "shop", "apply").await.unwrap();
        assert!(first.took_over.is_none());
        match lock(&locks, "shop", "destroy").await {
            Err(LockError::Held { holder, .. }) => {
                assert_eq!(holder.pid, std::process::id());
                assert_eq!(holder.operation, "apply");
            }
            other => panic!("expected the lock to be held, got {:?}", other.map(|_| ())),
        }
        first.release().await.unwrap();
        lock(&locks, "shop", "destroy").await.unwrap();
    }

    #[tokio::test]
    async fn a_lock_whose_process_is_gone_is_taken_over() {
        let locks = MemoryLock::default();
        let gone = Holder {
            pid: 999_999_999,
            ..current_holder("apply")
        };
        locks.try_lock("shop", &gone).await.unwrap();
        let taken = lock(&locks, "shop", "apply").await.unwrap();
        assert_eq!(taken.took_over, Some(gone));
    }

    #[tokio::test]
    async fn a_lock_held_on_another_host_is_never_taken_over() {
        let locks = MemoryLock::default();
        let elsewhere = Holder {
            host: "elsewhere".to_owned(),
            pid: 999_999_999,
            ..current_holder("apply")
        };
        locks.try_lock("shop", &elsewhere).await.unwrap();
        assert!(matches!(
            lock(&locks, "shop", "apply").await,
            Err(LockError::Held { .. })
        ));
    }

    #[test]
    fn describes_the_holder_with_a_utc_time() {
        let holder = Holder {
            user: "alice".to_owned(),
            host: "build-1".to_owned(),
            pid: 4242,
            since: 1_738_315_800,
            operation: "apply".to_owned(),
        };
        assert_eq!(
            describe(&holder),
            "alice on build-1 (pid 4242, apply) since 2025-01-31 09:30:00 UTC"
        );
        assert_eq!(utc(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(utc(951_782_400), "2000-02-29 00:00:00 UTC");
    }
}
