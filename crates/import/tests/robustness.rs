//! Whatever the input, the importer answers with a stack or with
//! diagnostics: every prefix of every corpus file, cut anywhere, is imported
//! without a panic.

use std::path::Path;

use stack_diagnostics::Sources;
use stack_import::{ImportOptions, import_compose};

fn corpus_files(dir: &Path, files: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("the corpus").flatten() {
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        if path.is_dir() {
            corpus_files(&path, files);
        } else if name.ends_with(".yaml") || name.ends_with(".yml") {
            files.push(path);
        }
    }
}

#[test]
fn cut_files_give_diagnostics_not_panics() {
    let mut files = Vec::new();
    corpus_files(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus/compose"),
        &mut files,
    );
    assert!(!files.is_empty());
    let temp = tempfile::tempdir().expect("a temporary directory");
    let mut imported = 0;
    let mut refused = 0;
    for file in files {
        let text = std::fs::read_to_string(&file).expect("a corpus file");
        let step = (text.len() / 40).max(1);
        for cut in (0..text.len()).step_by(step) {
            let Some(prefix) = text.get(..cut) else { continue };
            let path = temp.path().join("compose.yaml");
            std::fs::write(&path, prefix).expect("written");
            let options = ImportOptions {
                output_dir: Some(temp.path().join("out")),
                project_name: Some("cut".to_owned()),
                ..ImportOptions::default()
            };
            match import_compose(&[path], &options, &mut Sources::new()) {
                Ok(_) => imported += 1,
                Err(errors) => {
                    assert!(!errors.is_empty(), "an error result carries its diagnostics");
                    refused += 1;
                }
            }
        }
    }
    assert!(
        imported > 0 && refused > 0,
        "{imported} imported, {refused} refused"
    );
}
