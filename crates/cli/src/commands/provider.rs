//! `stack provider check`: the conformance kit, for provider authors.

use std::path::Path;
use std::process::ExitCode;

use serde_json::{Map, Value};
use stack_external::check::{self, Step, Verdict};

pub(super) fn check(executable: &Path, config: &[String], fields: &[String]) -> Result<ExitCode, String> {
    let program = executable
        .canonicalize()
        .map_err(|error| format!("cannot find {}: {error}", executable.display()))?;
    let values = settings("--config", "FIELD=VALUE", config)?;
    let fixed = settings("--field", "KIND.FIELD=VALUE", fields)?;
    if let Some(key) = fixed.keys().find(|key| !key.contains('.')) {
        return Err(format!(
            "`--field {key}=...` names no kind: write KIND.FIELD=VALUE"
        ));
    }
    let scratch = std::env::temp_dir().join(format!("stack-provider-check-{}", std::process::id()));
    std::fs::create_dir_all(&scratch)
        .map_err(|error| format!("cannot create the scratch folder {}: {error}", scratch.display()))?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|error| format!("cannot start the async runtime: {error}"))?;
    println!("Checking {} (in {})\n", program.display(), scratch.display());
    let (mut passed, mut failed, mut skipped) = (0, 0, 0);
    let mut report = |step: Step| match step.verdict {
        Verdict::Passed => {
            passed += 1;
            println!("  ok    {}", step.name);
        }
        Verdict::Failed(why) => {
            failed += 1;
            println!("  FAIL  {}\n        {why}", step.name);
        }
        Verdict::Skipped(why) => {
            skipped += 1;
            println!("  skip  {} ({why})", step.name);
        }
    };
    runtime.block_on(check::run(&program, &scratch, &values, &fixed, &mut report));
    let _ = std::fs::remove_dir_all(&scratch);
    println!("\n{passed} passed, {failed} failed, {skipped} skipped");
    Ok(if failed == 0 && passed > 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// `FIELD=VALUE` settings: each value JSON, or else text.
fn settings(flag: &str, form: &str, settings: &[String]) -> Result<Map<String, Value>, String> {
    let mut values = Map::new();
    for setting in settings {
        let (field, text) = setting
            .split_once('=')
            .ok_or_else(|| format!("`{flag} {setting}` is not {form}"))?;
        let value = serde_json::from_str(text).unwrap_or_else(|_| Value::String(text.to_owned()));
        values.insert(field.to_owned(), value);
    }
    Ok(values)
}
