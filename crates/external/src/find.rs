//! Where a provider executable is found: beside the stack, then where the user says, then on
//! `PATH`.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

/// The directory beside a stack's files that holds its providers.
pub const STACK_DIR: &str = "providers";
/// The variable naming more directories to look in, `PATH`-style.
pub const PATH_VARIABLE: &str = "STACK_PROVIDER_PATH";

/// A provider executable that was not found: the places looked in, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotFound {
    pub looked_in: Vec<PathBuf>,
}

/// Finds the executable `source` (`stack-provider-NAME`) for the stack in `stack_dir`:
/// in `stack_dir/providers`, then each directory of `STACK_PROVIDER_PATH`, then of `PATH`.
/// A `source` with a `/` is a path, relative to `stack_dir`.
pub fn locate(source: &str, stack_dir: &Path) -> Result<PathBuf, NotFound> {
    locate_in(
        source,
        stack_dir,
        std::env::var_os(PATH_VARIABLE),
        std::env::var_os("PATH"),
    )
}

fn locate_in(
    source: &str,
    stack_dir: &Path,
    provider_path: Option<OsString>,
    path: Option<OsString>,
) -> Result<PathBuf, NotFound> {
    if source.contains('/') {
        let candidate = stack_dir.join(source);
        return if is_executable(&candidate) {
            Ok(candidate)
        } else {
            Err(NotFound {
                looked_in: vec![candidate],
            })
        };
    }
    let dirs: Vec<PathBuf> = std::iter::once(stack_dir.join(STACK_DIR))
        .chain(provider_path.iter().flat_map(std::env::split_paths))
        .chain(path.iter().flat_map(std::env::split_paths))
        .filter(|dir| !dir.as_os_str().is_empty())
        .collect();
    dirs.iter()
        .map(|dir| dir.join(source))
        .find(|candidate| is_executable(candidate))
        .ok_or(NotFound { looked_in: dirs })
}

#[cfg(unix)]
fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    path.metadata()
        .is_ok_and(|metadata| metadata.is_file() && metadata.permissions().mode() & 0o111 != 0)
}

#[cfg(not(unix))]
fn is_executable(path: &Path) -> bool {
    path.is_file()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn executable(dir: &Path, name: &str) -> PathBuf {
        use std::os::unix::fs::PermissionsExt;
        std::fs::create_dir_all(dir).expect("a directory");
        let path = dir.join(name);
        std::fs::write(&path, "#!/bin/sh\n").expect("a script");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).expect("executable");
        path
    }

    #[test]
    fn the_stacks_own_directory_comes_first_then_the_users_then_path() {
        let root = tempfile::tempdir().expect("a directory");
        let stack = root.path().join("stack");
        let user = root.path().join("user");
        let system = root.path().join("bin");
        let name = "stack-provider-demo";
        let on_path = executable(&system, name);
        let paths = |dirs: &[&Path]| Some(std::env::join_paths(dirs).expect("joins"));
        let found = |user_path| locate_in(name, &stack, user_path, paths(&[&system]));
        assert_eq!(found(None), Ok(on_path));
        let users = executable(&user, name);
        assert_eq!(found(paths(&[&user])), Ok(users));
        let own = executable(&stack.join(STACK_DIR), name);
        assert_eq!(found(paths(&[&user])), Ok(own));
    }

    #[test]
    fn not_found_lists_every_place_looked_in() {
        let root = tempfile::tempdir().expect("a directory");
        std::fs::create_dir_all(root.path().join("bin")).expect("a directory");
        std::fs::write(root.path().join("bin/stack-provider-demo"), "not executable").expect("a file");
        let error = locate_in(
            "stack-provider-demo",
            root.path(),
            Some("/opt/providers".into()),
            Some(root.path().join("bin").into_os_string()),
        )
        .expect_err("not found");
        assert_eq!(
            error.looked_in,
            [
                root.path().join("providers"),
                "/opt/providers".into(),
                root.path().join("bin")
            ]
        );
    }

    #[test]
    fn a_source_with_a_slash_is_a_path_from_the_stack() {
        let root = tempfile::tempdir().expect("a directory");
        let path = executable(&root.path().join("tools"), "mine");
        assert_eq!(
            locate_in("tools/mine", root.path(), None, None),
            Ok(root.path().join("tools/mine"))
        );
        assert_eq!(path, root.path().join("tools/mine"));
        assert!(locate_in("./missing", root.path(), None, None).is_err());
    }
}
