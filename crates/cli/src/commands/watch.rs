//! `stack watch`: applies the stack, then again whenever its files or the build context of one
//! of its images change: a burst of saves is one apply, and a failure is shown, not the end.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use notify::RecursiveMode;
use notify_debouncer_full::{DebounceEventResult, Debouncer, RecommendedCache, new_debouncer};
use stack_language::Value;

use super::apply::apply_loaded;
use super::load::{Loaded, load};
use super::options;
use crate::args::StackArgs;
use crate::daemon::Daemon;
use crate::output::Output;

/// How long after the last event of a burst the apply starts.
const QUIET: Duration = Duration::from_millis(300);

pub(super) fn run(stack: &StackArgs, output: &Output) -> Result<ExitCode, String> {
    let (sender, events) = mpsc::channel::<DebounceEventResult>();
    let mut debouncer =
        new_debouncer(QUIET, None, sender).map_err(|error| format!("cannot watch files: {error}"))?;
    // Until the files load, the stack's own path is all there is to watch.
    let mut watched = Watched::of(stack, None);
    watched.watch(&mut debouncer, &BTreeSet::new())?;
    loop {
        let loaded = apply(stack, output);
        if let Some(loaded) = &loaded {
            let now = Watched::of(stack, Some(loaded));
            now.watch(&mut debouncer, &watched.roots)?;
            watched = now;
        }
        println!(
            "\nWatching {} for changes (Ctrl-C stops)...",
            watched
                .roots
                .iter()
                .map(|(root, _)| root.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        );
        let changed = next_change(&events, &watched)?;
        println!("\nChanged: {}", changed.join(", "));
    }
}

/// Loads and applies the stack once, without asking; every failure is printed. The stack as
/// loaded, when it loaded.
fn apply(stack: &StackArgs, output: &Output) -> Option<Loaded> {
    let connecting = match Daemon::connect(stack.target) {
        Ok(connecting) => connecting,
        Err(message) => {
            output.error(&message);
            return None;
        }
    };
    let loaded = load(&stack.path, &options(stack, true), output).ok()?;
    if let Err(message) = apply_loaded(connecting, &loaded, stack, None, true, output) {
        output.error(&message);
    }
    Some(loaded)
}

/// Waits for events until one concerns the stack, then until the files are quiet: the paths
/// changed, relative where they can be.
fn next_change(
    events: &mpsc::Receiver<DebounceEventResult>,
    watched: &Watched,
) -> Result<Vec<String>, String> {
    let stopped = || "the file watcher stopped".to_owned();
    let mut changed = BTreeSet::new();
    while changed.is_empty() {
        let batch = events.recv().map_err(|_| stopped())?;
        changed.extend(relevant(batch, watched));
    }
    // The debouncer groups the events of each path; a burst over several files, or one
    // longer than its quiet time, comes in several groups.
    let mut quiet_from = Instant::now() + QUIET;
    loop {
        match events.recv_timeout(quiet_from.saturating_duration_since(Instant::now())) {
            Ok(batch) => {
                let more = relevant(batch, watched);
                if !more.is_empty() {
                    quiet_from = Instant::now() + QUIET;
                }
                changed.extend(more);
            }
            Err(mpsc::RecvTimeoutError::Timeout) => return Ok(changed.into_iter().collect()),
            Err(mpsc::RecvTimeoutError::Disconnected) => return Err(stopped()),
        }
    }
}

/// The paths of a batch of events that change the stack; errors are printed.
fn relevant(batch: DebounceEventResult, watched: &Watched) -> Vec<String> {
    match batch {
        // Reading a file is no change of it: loading and building read them all.
        Ok(batch) => batch
            .iter()
            .filter(|event| !event.kind.is_access())
            .flat_map(|event| event.paths.iter())
            .filter(|path| watched.concerns(path))
            .map(|path| shown(path))
            .collect(),
        Err(errors) => {
            for error in errors {
                eprintln!("warning: watching files: {error}");
            }
            Vec::new()
        }
    }
}

fn shown(path: &Path) -> String {
    let relative = std::env::current_dir()
        .ok()
        .and_then(|here| path.strip_prefix(here).ok().map(Path::to_path_buf));
    relative
        .unwrap_or_else(|| path.to_path_buf())
        .display()
        .to_string()
}

/// What a change of the stack is a change of.
#[derive(Debug, Default)]
struct Watched {
    /// The folders watched, and whether with their subfolders.
    roots: BTreeSet<(PathBuf, bool)>,
    /// The stack's folder, where a new `.kdl` file joins the stack.
    stack_dir: PathBuf,
    /// The files the stack was read from: its own, its modules', its variables'.
    files: BTreeSet<PathBuf>,
    /// The images' build contexts, each with its Dockerfile's path in it.
    contexts: Vec<(PathBuf, String)>,
}

impl Watched {
    /// The stack's folder; once loaded, also the folders of the files it read and the build
    /// context of each of its images.
    fn of(stack: &StackArgs, loaded: Option<&Loaded>) -> Watched {
        let stack_path = absolute(&stack.path);
        let stack_dir = match stack_path.is_dir() {
            true => stack_path.clone(),
            false => stack_path.parent().map(Path::to_path_buf).unwrap_or_default(),
        };
        let mut watched = Watched {
            roots: BTreeSet::from([(stack_dir.clone(), false)]),
            stack_dir,
            ..Watched::default()
        };
        watched
            .files
            .extend(stack.var_files.iter().map(|file| absolute(file)));
        let Some(loaded) = loaded else {
            return watched;
        };
        watched.files.extend(
            loaded
                .sources
                .iter()
                .map(|(_, source)| absolute(source.path()))
                .filter(|path| path.is_file()),
        );
        for resource in loaded.stack.resources.values() {
            let Some(context) = resource.field("context").and_then(Value::as_str) else {
                continue;
            };
            if resource.address.kind != "image" {
                continue;
            }
            let dockerfile = resource
                .field("dockerfile")
                .and_then(Value::as_str)
                .unwrap_or("Dockerfile");
            watched
                .contexts
                .push((absolute(&resource.dir.join(context)), dockerfile.to_owned()));
        }
        let folders: Vec<PathBuf> = watched
            .files
            .iter()
            .filter_map(|file| file.parent().map(Path::to_path_buf))
            .collect();
        watched
            .roots
            .extend(folders.into_iter().map(|folder| (folder, false)));
        let contexts: Vec<(PathBuf, bool)> = watched
            .contexts
            .iter()
            .filter(|(context, _)| context.is_dir())
            .map(|(context, _)| (context.clone(), true))
            .collect();
        watched.roots.extend(contexts);
        watched
    }

    /// Watches the roots not in `before`, and stops watching those of `before` no longer here.
    fn watch(
        &self,
        debouncer: &mut Debouncer<notify::RecommendedWatcher, RecommendedCache>,
        before: &BTreeSet<(PathBuf, bool)>,
    ) -> Result<(), String> {
        for (root, _) in before.difference(&self.roots) {
            let _ = debouncer.unwatch(root);
        }
        for (root, recursive) in self.roots.difference(before) {
            let mode = match recursive {
                true => RecursiveMode::Recursive,
                false => RecursiveMode::NonRecursive,
            };
            debouncer
                .watch(root, mode)
                .map_err(|error| format!("cannot watch {}: {error}", root.display()))?;
        }
        Ok(())
    }

    /// Whether a change of `path` is a change of the stack.
    fn concerns(&self, path: &Path) -> bool {
        let kdl_in_stack_dir = path.parent() == Some(self.stack_dir.as_path())
            && path.extension().is_some_and(|ext| ext == "kdl");
        kdl_in_stack_dir
            || self.files.contains(path)
            || self
                .contexts
                .iter()
                .any(|(context, dockerfile)| stack_docker::in_context(context, path, dockerfile))
    }
}

/// `path` from the root, without `.` and `..`: as the watcher names paths.
fn absolute(path: &Path) -> PathBuf {
    std::fs::canonicalize(path)
        .or_else(|_| std::path::absolute(path))
        .unwrap_or_else(|_| path.to_path_buf())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_stack_files_and_what_images_are_built_from_concern_it() {
        let dir = tempfile::tempdir().expect("a folder");
        let root = absolute(dir.path());
        std::fs::create_dir_all(root.join("app")).expect("app/");
        std::fs::write(root.join("app/.dockerignore"), "*.log\n").expect(".dockerignore");
        let watched = Watched {
            roots: BTreeSet::new(),
            stack_dir: root.clone(),
            files: BTreeSet::from([root.join("../modules/db/db.kdl")]),
            contexts: vec![(root.join("app"), "Dockerfile".to_owned())],
        };
        assert!(watched.concerns(&root.join("stack.kdl")));
        assert!(watched.concerns(&root.join("new.kdl")));
        assert!(watched.concerns(&root.join("../modules/db/db.kdl")));
        assert!(watched.concerns(&root.join("app/main.py")));
        assert!(watched.concerns(&root.join("app/.dockerignore")));
        assert!(!watched.concerns(&root.join("app/debug.log")));
        assert!(!watched.concerns(&root.join("notes.txt")));
        assert!(!watched.concerns(&root.join("sub/other.kdl")));
    }
}
