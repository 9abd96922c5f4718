//! The documentation is tested against the implementation:
//!
//! - every code block tagged `kdl` in `spec/`, `book/src/` and `stdlib/README.md`
//!   is a valid stack, `kdl,fragment` blocks are KDL v2, and `kdl,invalid`
//!   blocks fail (in `spec/diagnostics.md`, with the code of their section);
//! - code blocks are in the layout `stack fmt` writes (spec/formatting.md's
//!   "becomes" examples: after formatting);
//! - the field tables of `spec/resources.md` match the schemas the checker uses;
//! - every diagnostic code the crates produce has its section in `spec/diagnostics.md`.
//!
//! Each test collects every failure before it asserts, so one run shows all of them.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use stack_diagnostics::{Diagnostic, RenderOptions, Sources, render};
use stack_language::schema::{self, Effect, Field, Repeat, Shape, Type};

mod common;
use common::{errors, indented, relative, report, root, validate};

// ---------------------------------------------------------------------------
// Markdown: files, code blocks, headings, tables

/// The Markdown files whose code blocks are tested.
fn documentation() -> Vec<PathBuf> {
    let mut files = Vec::new();
    markdown_under(&root().join("spec"), &mut files);
    markdown_under(&root().join("book/src"), &mut files);
    files.push(root().join("stdlib/README.md"));
    files.sort();
    files
}

fn markdown_under(dir: &Path, files: &mut Vec<PathBuf>) {
    let entries =
        std::fs::read_dir(dir).unwrap_or_else(|error| panic!("cannot read {}: {error}", dir.display()));
    for entry in entries {
        let path = entry.expect("a directory entry").path();
        if path.is_dir() {
            markdown_under(&path, files);
        } else if path.extension().is_some_and(|ext| ext == "md") {
            files.push(path);
        }
    }
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|error| panic!("cannot read {}: {error}", path.display()))
}

/// A fenced code block.
#[derive(Debug)]
struct Block {
    file: PathBuf,
    /// Line of the opening fence, 1-based.
    line: usize,
    /// The info string: `kdl`, `kdl,invalid`, `console`, ...
    info: String,
    text: String,
    /// The nearest heading above the block.
    heading: String,
    /// The first line of text after the block, such as "becomes".
    after: String,
}

impl Block {
    fn location(&self) -> String {
        format!("{}:{}", relative(&self.file), self.line)
    }

    /// `Some(attributes)` for a `kdl` block: `kdl,invalid` gives `["invalid"]`.
    fn kdl_attributes(&self) -> Option<Vec<&str>> {
        let mut parts = self.info.split(',').map(str::trim);
        (parts.next() == Some("kdl")).then(|| parts.collect())
    }
}

/// The fenced code blocks of a Markdown file, each with the heading above it.
fn blocks(path: &Path) -> Vec<Block> {
    let text = read(path);
    let mut found = Vec::new();
    let mut heading = String::new();
    let mut lines = text.lines().enumerate();
    while let Some((index, line)) = lines.next() {
        let trimmed = line.trim_start();
        if let Some(title) = heading_text(line) {
            heading = title.to_owned();
            continue;
        }
        let ticks = trimmed.chars().take_while(|&c| c == '`').count();
        if ticks < 3 {
            continue;
        }
        let indent = line.len() - trimmed.len();
        let info = trimmed[ticks..].trim().to_owned();
        let mut body = Vec::new();
        let mut closed_at = None;
        for (inner_index, inner) in lines.by_ref() {
            let inner_trimmed = inner.trim();
            if inner_trimmed.len() >= ticks && inner_trimmed.chars().all(|c| c == '`') {
                closed_at = Some(inner_index);
                break;
            }
            // Blocks inside list items are indented: remove the fence's indentation.
            let cut = inner.len() - inner.trim_start().len();
            body.push(&inner[cut.min(indent)..]);
        }
        let after = closed_at
            .and_then(|end| text.lines().skip(end + 1).find(|line| !line.trim().is_empty()))
            .unwrap_or_default()
            .trim()
            .to_owned();
        found.push(Block {
            file: path.to_path_buf(),
            line: index + 1,
            info,
            text: body.join("\n") + "\n",
            heading: heading.clone(),
            after,
        });
    }
    found
}

fn heading_text(line: &str) -> Option<&str> {
    let hashes = line.chars().take_while(|&c| c == '#').count();
    (1..=6)
        .contains(&hashes)
        .then(|| line[hashes..].strip_prefix(' '))
        .flatten()
        .map(str::trim)
}

/// A Markdown table: its header cells and rows, with the section it is in.
#[derive(Debug)]
struct Table {
    section: String,
    line: usize,
    header: Vec<String>,
    rows: Vec<(usize, Vec<String>)>,
}

/// The tables of a Markdown file, outside code blocks; `section` is the nearest `## ` heading.
fn tables(path: &Path) -> Vec<Table> {
    let text = read(path);
    let mut found: Vec<Table> = Vec::new();
    let mut section = String::new();
    let mut in_code = false;
    let mut current: Option<Table> = None;
    for (index, line) in text.lines().enumerate() {
        if line.trim_start().starts_with("```") {
            in_code = !in_code;
        }
        let is_row = !in_code && line.trim_start().starts_with('|');
        if !is_row {
            found.extend(current.take());
            if !in_code && line.starts_with("## ") {
                section = line[3..].trim().to_owned();
            }
            continue;
        }
        let cells = cells(line);
        let separator = cells
            .iter()
            .all(|cell| !cell.is_empty() && cell.chars().all(|c| "-: ".contains(c)));
        match &mut current {
            None => {
                current = Some(Table {
                    section: section.clone(),
                    line: index + 1,
                    header: cells,
                    rows: Vec::new(),
                })
            }
            Some(_) if separator => {}
            Some(table) => table.rows.push((index + 1, cells)),
        }
    }
    found.extend(current);
    found
}

/// The cells of a table row; `\|` is a `|` inside a cell.
fn cells(line: &str) -> Vec<String> {
    let line = line.trim();
    let inner = line.strip_prefix('|').unwrap_or(line);
    let inner = inner.strip_suffix('|').unwrap_or(inner);
    let mut cells = Vec::new();
    let mut cell = String::new();
    let mut chars = inner.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if chars.peek() == Some(&'|') => {
                cell.push('|');
                chars.next();
            }
            '|' => cells.push(std::mem::take(&mut cell).trim().to_owned()),
            _ => cell.push(c),
        }
    }
    cells.push(cell.trim().to_owned());
    cells
}

// ---------------------------------------------------------------------------
// Validating stacks

/// Writes `block` as the `stack.kdl` of a new directory and validates it.
fn validate_block(block: &Block) -> (Vec<Diagnostic>, Sources) {
    let dir = tempfile::tempdir().expect("a temporary directory");
    std::fs::write(dir.path().join("stack.kdl"), &block.text).expect("writing stack.kdl");
    let (_, diagnostics, sources) = validate(dir.path());
    (diagnostics, sources)
}

fn rendered(diagnostics: &[&Diagnostic], sources: &Sources) -> String {
    render(diagnostics.iter().copied(), sources, RenderOptions::plain())
}

fn kdl_blocks() -> Vec<Block> {
    documentation()
        .iter()
        .flat_map(|file| blocks(file))
        .filter(|block| block.kdl_attributes().is_some())
        .collect()
}

#[test]
fn kdl_block_tags_are_known() {
    let mut failures = Vec::new();
    for block in kdl_blocks() {
        let attributes = block.kdl_attributes().unwrap_or_default();
        if !matches!(
            attributes.as_slice(),
            [] | ["fragment"] | ["invalid"] | ["warning"]
        ) {
            failures.push(format!(
                "{}: unknown code block tag `{}`; use `kdl`, `kdl,fragment`, `kdl,invalid` or `kdl,warning`",
                block.location(),
                block.info
            ));
        }
    }
    report(&failures);
}

#[test]
fn kdl_blocks_are_valid_stacks() {
    let mut failures = Vec::new();
    let mut checked = 0;
    for block in kdl_blocks()
        .into_iter()
        .filter(|block| block.kdl_attributes().is_some_and(|a| a.is_empty()))
    {
        checked += 1;
        let (diagnostics, sources) = validate_block(&block);
        let errors = errors(&diagnostics);
        if !errors.is_empty() {
            failures.push(format!(
                "{}: a `kdl` block is not a valid stack:\n{}",
                block.location(),
                indented(&rendered(&errors, &sources))
            ));
        }
    }
    assert!(
        checked > 30,
        "only {checked} kdl blocks found: is the Markdown parser broken?"
    );
    report(&failures);
}

#[test]
fn fragments_are_kdl_v2() {
    let mut failures = Vec::new();
    for block in kdl_blocks()
        .into_iter()
        .filter(|block| block.kdl_attributes() == Some(vec!["fragment"]))
    {
        let mut sources = Sources::new();
        let file = sources.add(block.location(), &block.file, block.text.as_str());
        let parsed = stack_syntax::parse(file, &block.text);
        if parsed.document.is_none() || !parsed.diagnostics.is_empty() {
            let problems: Vec<&Diagnostic> = parsed.diagnostics.iter().collect();
            failures.push(format!(
                "{}: a `kdl,fragment` block is not KDL v2:\n{}",
                block.location(),
                indented(&rendered(&problems, &sources))
            ));
        }
    }
    report(&failures);
}

/// Code blocks show the layout `stack fmt` writes, except a block followed by
/// "becomes", which shows a layout before formatting: formatted, it is the next block.
#[test]
fn kdl_blocks_are_formatted() {
    let blocks = kdl_blocks();
    let mut failures = Vec::new();
    for (index, block) in blocks.iter().enumerate() {
        let mut sources = Sources::new();
        let file = sources.add(block.location(), &block.file, block.text.as_str());
        // Blocks that are not KDL show a syntax error on purpose; other tests check them.
        let Ok(formatted) = stack_fmt::format(file, &block.text) else {
            continue;
        };
        let (expected, what) = if block.after == "becomes" {
            match blocks.get(index + 1).filter(|next| next.file == block.file) {
                Some(next) => (
                    next.text.as_str(),
                    format!("what it becomes ({})", next.location()),
                ),
                None => {
                    failures.push(format!(
                        "{}: \"becomes\" is not followed by a kdl block",
                        block.location()
                    ));
                    continue;
                }
            }
        } else {
            (block.text.as_str(), "itself".to_owned())
        };
        if formatted != expected {
            failures.push(format!(
                "{}: `stack fmt` does not give {what}; it gives:\n{}",
                block.location(),
                indented(&formatted)
            ));
        }
    }
    report(&failures);
}

/// The one diagnostic code in a heading, such as ``## `stack::port_conflict` ``.
fn code_in(heading: &str) -> Result<&str, String> {
    let codes: Vec<&str> = heading
        .split('`')
        .skip(1)
        .step_by(2)
        .filter(|part| part.starts_with("stack::"))
        .collect();
    match codes.as_slice() {
        [code] => Ok(code),
        [] => Err(format!("its heading `{heading}` names no `stack::` code")),
        _ => Err(format!("its heading `{heading}` names several codes")),
    }
}

#[test]
fn invalid_blocks_fail() {
    let diagnostics_chapter = root().join("spec/diagnostics.md");
    let mut failures = Vec::new();
    for block in kdl_blocks()
        .into_iter()
        .filter(|block| block.kdl_attributes() == Some(vec!["invalid"]))
    {
        let (diagnostics, sources) = validate_block(&block);
        let errors = errors(&diagnostics);
        if errors.is_empty() {
            failures.push(format!(
                "{}: a `kdl,invalid` block is a valid stack",
                block.location()
            ));
            continue;
        }
        if block.file != diagnostics_chapter {
            continue;
        }
        // In the catalogue of diagnostics, each example shows its section's code, and only it.
        let expected = match code_in(&block.heading) {
            Ok(code) => code,
            Err(problem) => {
                failures.push(format!(
                    "{}: a `kdl,invalid` block in spec/diagnostics.md, but {problem}",
                    block.location()
                ));
                continue;
            }
        };
        let others: Vec<&Diagnostic> = errors.iter().copied().filter(|d| d.code != expected).collect();
        if errors.len() == others.len() {
            failures.push(format!(
                "{}: expected `{expected}`, got:\n{}",
                block.location(),
                indented(&rendered(&errors, &sources))
            ));
        } else if !others.is_empty() {
            failures.push(format!(
                "{}: the example of `{expected}` has other errors too:\n{}",
                block.location(),
                indented(&rendered(&others, &sources))
            ));
        }
    }
    report(&failures);
}

/// A `kdl,warning` block is a valid stack with warnings; in the catalogue of diagnostics, only
/// its section's.
#[test]
fn warning_blocks_warn() {
    let diagnostics_chapter = root().join("spec/diagnostics.md");
    let mut failures = Vec::new();
    for block in kdl_blocks()
        .into_iter()
        .filter(|block| block.kdl_attributes() == Some(vec!["warning"]))
    {
        let (diagnostics, sources) = validate_block(&block);
        let all: Vec<&Diagnostic> = diagnostics.iter().collect();
        let warnings: Vec<&Diagnostic> = all.iter().copied().filter(|d| !d.is_error()).collect();
        if warnings.len() < all.len() || warnings.is_empty() {
            failures.push(format!(
                "{}: a `kdl,warning` block must validate with warnings, but shows:\n{}",
                block.location(),
                indented(&rendered(&all, &sources))
            ));
            continue;
        }
        if block.file != diagnostics_chapter {
            continue;
        }
        match code_in(&block.heading) {
            Ok(expected) if warnings.iter().all(|d| d.code == expected) => {}
            Ok(expected) => failures.push(format!(
                "{}: expected only `{expected}`, got:\n{}",
                block.location(),
                indented(&rendered(&warnings, &sources))
            )),
            Err(problem) => failures.push(format!(
                "{}: a `kdl,warning` block in spec/diagnostics.md, but {problem}",
                block.location()
            )),
        }
    }
    report(&failures);
}

/// A JSON plan shown in the documentation is one `stack` could print.
#[test]
fn json_plans_in_the_documentation_fit_the_schema() {
    let plans: Vec<Block> = documentation()
        .iter()
        .flat_map(|file| blocks(file))
        .filter(|block| block.info == "json" && block.text.contains("\"format_version\""))
        .collect();
    assert!(!plans.is_empty(), "no JSON plan found in the documentation");
    for block in plans {
        let fits = std::panic::catch_unwind(|| stack_tests::assert_plan_fits_schema(&block.text));
        assert!(
            fits.is_ok(),
            "{}: the plan does not fit spec/plan.schema.json",
            block.location()
        );
    }
}

// ---------------------------------------------------------------------------
// Diagnostic codes

/// Codes written as string literals in the crates' sources, outside test modules.
fn codes_in_sources() -> BTreeMap<String, String> {
    let mut files = Vec::new();
    rust_under(&root().join("crates"), &mut files);
    let pattern = regex::Regex::new(r#""(stack::[a-z0-9_]+)""#).expect("a valid pattern");
    let mut codes = BTreeMap::new();
    for file in files {
        let text = read(&file);
        // Test modules sit at the end of a file, after `#[cfg(test)]`.
        let code = text.split("#[cfg(test)]").next().unwrap_or_default();
        for found in pattern.captures_iter(code) {
            codes
                .entry(found[1].to_owned())
                .or_insert_with(|| relative(&file));
        }
    }
    codes
}

fn rust_under(dir: &Path, files: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let name = path
            .file_name()
            .and_then(|name| name.to_str())
            .unwrap_or_default();
        if path.is_dir() && !["tests", "target", "benches"].contains(&name) {
            rust_under(&path, files);
        } else if path.extension().is_some_and(|ext| ext == "rs") {
            files.push(path);
        }
    }
}

#[test]
fn every_diagnostic_code_is_documented() {
    let chapter = root().join("spec/diagnostics.md");
    let documented: BTreeSet<String> = read(&chapter)
        .lines()
        .filter(|line| line.starts_with("## "))
        .filter_map(|line| code_in(line).ok().map(str::to_owned))
        .collect();
    let produced = codes_in_sources();
    let mut failures = Vec::new();
    for (code, file) in &produced {
        if !documented.contains(code) {
            failures.push(format!(
                "`{code}` (produced in {file}) has no section in spec/diagnostics.md"
            ));
        }
    }
    for code in &documented {
        if !produced.contains_key(code) {
            failures.push(format!(
                "spec/diagnostics.md documents `{code}`, which no crate produces"
            ));
        }
    }
    report(&failures);
}

// ---------------------------------------------------------------------------
// The field tables of spec/resources.md

/// A row of a field table, as the documentation writes it.
#[derive(Debug, PartialEq)]
struct Row {
    ty: String,
    required: String,
    default: String,
    on_change: String,
}

/// What the table must say about one field, from the schema.
struct Expected {
    row: Row,
    repeat: Repeat,
    enum_options: &'static [&'static str],
}

/// The word of the `type` column for a value type; spec/values.md defines each.
fn type_word(ty: Type) -> String {
    match ty {
        Type::String => "string".to_owned(),
        Type::Int => "int".to_owned(),
        Type::Float => "float".to_owned(),
        Type::Bool => "bool".to_owned(),
        Type::Duration => "duration".to_owned(),
        Type::Size => "size".to_owned(),
        Type::Cidr => "cidr".to_owned(),
        Type::Ip => "ip".to_owned(),
        Type::Port => "port".to_owned(),
        Type::Mode => "mode".to_owned(),
        Type::Count => "count".to_owned(),
        Type::Path => "path".to_owned(),
        Type::Enum(_) => "enum".to_owned(),
        Type::Ref(kind) => kind.to_owned(),
        Type::Image => "image".to_owned(),
        Type::Dependency => "dependency".to_owned(),
    }
}

/// The word of the `type` column for a field's shape, and the type of its value(s).
fn shape_word(shape: &Shape) -> (String, Option<Type>) {
    match shape {
        Shape::Scalar(ty) => (type_word(*ty), Some(*ty)),
        Shape::List(Type::String) => ("strings".to_owned(), Some(Type::String)),
        Shape::List(ty) => (format!("list of {}", type_word(*ty)), Some(*ty)),
        Shape::Map(Type::String) => ("map".to_owned(), Some(Type::String)),
        Shape::Map(ty) => (format!("map of {}", type_word(*ty)), Some(*ty)),
        Shape::Block(_) => ("block".to_owned(), None),
        Shape::Record { arg: Some(arg), .. } => (type_word(arg.ty), Some(arg.ty)),
        Shape::Record { arg: None, .. } => ("record".to_owned(), None),
    }
}

/// A default as the `default` column writes it: as in a stack file, strings quoted.
fn default_cell(default: Option<&str>, ty: Option<Type>) -> String {
    match (default, ty) {
        (None, _) => "—".to_owned(),
        (Some(value), Some(Type::Int | Type::Float | Type::Bool | Type::Port | Type::Mode)) => {
            format!("`{value}`")
        }
        (Some(value), _) => format!("`\"{value}\"`"),
    }
}

fn yes_no(required: bool) -> String {
    if required { "yes" } else { "no" }.to_owned()
}

fn enum_options(ty: Option<Type>) -> &'static [&'static str] {
    match ty {
        Some(Type::Enum(options)) => options,
        _ => &[],
    }
}

/// The rows a set of fields must have, dotted for properties, children and block fields.
fn expected_rows(
    prefix: &str,
    fields: &[&'static Field],
    on_replace: &str,
    rows: &mut Vec<(String, Expected)>,
) {
    let effect = |effect: Effect| match effect {
        Effect::InPlace => "in place".to_owned(),
        Effect::Replace => on_replace.to_owned(),
    };
    for field in fields {
        let name = format!("{prefix}{}", field.name);
        let (ty, value_type) = shape_word(&field.shape);
        rows.push((
            name.clone(),
            Expected {
                row: Row {
                    ty,
                    required: yes_no(field.required),
                    default: default_cell(field.default, value_type),
                    on_change: effect(field.effect),
                },
                repeat: field.repeat,
                enum_options: enum_options(value_type),
            },
        ));
        match &field.shape {
            Shape::Block(children) => {
                let children: Vec<&'static Field> = children.iter().collect();
                expected_rows(&format!("{name}."), &children, on_replace, rows);
            }
            Shape::Record { props, children, .. } => {
                for prop in *props {
                    rows.push((
                        format!("{name}.{}", prop.name),
                        Expected {
                            row: Row {
                                ty: type_word(prop.ty),
                                required: yes_no(prop.required),
                                default: default_cell(prop.default, Some(prop.ty)),
                                // A property changes with its field.
                                on_change: effect(field.effect),
                            },
                            repeat: Repeat::Once,
                            enum_options: enum_options(Some(prop.ty)),
                        },
                    ));
                }
                let children: Vec<&'static Field> = children.iter().collect();
                expected_rows(&format!("{name}."), &children, on_replace, rows);
            }
            _ => {}
        }
    }
}

const FIELD_TABLE_HEADER: [&str; 6] = ["field", "type", "required", "default", "on change", "description"];

/// Compares one documented table with the rows the schema implies.
fn compare_table(
    what: &str,
    table: Option<&Table>,
    expected: Vec<(String, Expected)>,
    failures: &mut Vec<String>,
) {
    let Some(table) = table else {
        failures.push(format!("spec/resources.md: no field table for {what}"));
        return;
    };
    let mut documented: BTreeMap<String, (usize, Row, String)> = BTreeMap::new();
    for (line, cells) in &table.rows {
        let [field, ty, required, default, on_change, description] = cells.as_slice() else {
            failures.push(format!(
                "spec/resources.md:{line}: {what}: a row needs 6 cells, has {}",
                cells.len()
            ));
            continue;
        };
        let name = field.trim_matches('`').to_owned();
        let row = Row {
            ty: ty.clone(),
            required: required.clone(),
            default: default.clone(),
            on_change: on_change.clone(),
        };
        if documented
            .insert(name.clone(), (*line, row, description.clone()))
            .is_some()
        {
            failures.push(format!("spec/resources.md:{line}: {what}: `{name}` has two rows"));
        }
    }
    let mut names = BTreeSet::new();
    for (name, expected) in expected {
        names.insert(name.clone());
        let Some((line, row, description)) = documented.get(&name) else {
            failures.push(format!(
                "spec/resources.md:{}: {what}: no row for the field `{name}`; expected | `{name}` | {} | {} | {} | {} | ... |",
                table.line, expected.row.ty, expected.row.required, expected.row.default, expected.row.on_change
            ));
            continue;
        };
        for (column, documented, schema) in [
            ("type", &row.ty, &expected.row.ty),
            ("required", &row.required, &expected.row.required),
            ("default", &row.default, &expected.row.default),
            ("on change", &row.on_change, &expected.row.on_change),
        ] {
            if documented != schema {
                failures.push(format!(
                    "spec/resources.md:{line}: {what}, field `{name}`: column `{column}` says {documented}, the schema says {schema}"
                ));
            }
        }
        let repeatable = description.starts_with("Repeatable.");
        if repeatable != (expected.repeat == Repeat::Many) {
            let should = if expected.repeat == Repeat::Many {
                "should"
            } else {
                "should not"
            };
            failures.push(format!(
                "spec/resources.md:{line}: {what}, field `{name}`: the description {should} start with \"Repeatable.\""
            ));
        }
        for option in expected.enum_options {
            if !description.contains(&format!("`{option}`")) {
                failures.push(format!(
                    "spec/resources.md:{line}: {what}, field `{name}`: the description does not list the value `{option}`"
                ));
            }
        }
    }
    for (name, (line, _, _)) in &documented {
        if !names.contains(name) {
            failures.push(format!(
                "spec/resources.md:{line}: {what}: the schema has no field `{name}`"
            ));
        }
    }
}

fn field_table<'t>(tables: &'t [Table], section: &str) -> Option<&'t Table> {
    tables
        .iter()
        .find(|table| table.section.trim_matches('`') == section && table.header == FIELD_TABLE_HEADER)
}

#[test]
fn resource_tables_match_the_schema() {
    let schema = schema::builtin();
    let tables = tables(&root().join("spec/resources.md"));
    let mut failures = Vec::new();

    // The overview lists every kind, and only those.
    let kinds: BTreeSet<String> = schema.kinds().map(|kind| kind.name.to_owned()).collect();
    let overview = tables
        .iter()
        .find(|table| table.header.first().map(String::as_str) == Some("kind"));
    let listed: BTreeSet<String> = overview
        .map(|table| {
            table
                .rows
                .iter()
                .filter_map(|(_, cells)| cells.first())
                .map(|cell| {
                    cell.trim_start_matches('[')
                        .split(']')
                        .next()
                        .unwrap_or_default()
                        .trim_matches('`')
                        .to_owned()
                })
                .collect()
        })
        .unwrap_or_default();
    if listed != kinds {
        failures.push(format!(
            "spec/resources.md: the table of kinds lists {listed:?}, the schema has {kinds:?}"
        ));
    }

    let mut common: Option<Vec<&'static Field>> = None;
    for kind in schema.kinds() {
        let own: Vec<&'static Field> = kind.fields.iter().collect();
        let shared: Vec<&'static Field> = kind.all_fields().skip(kind.fields.len()).collect();
        common.get_or_insert(shared);
        let mut expected = Vec::new();
        expected_rows("", &own, kind.on_replace, &mut expected);
        compare_table(
            &format!("kind `{}`", kind.name),
            field_table(&tables, kind.name),
            expected,
            &mut failures,
        );
    }

    // Fields every kind has are in one table; they take the same effect word for every kind.
    let common = common.unwrap_or_default();
    let mut expected = Vec::new();
    expected_rows("", &common, Effect::Replace.describe(), &mut expected);
    compare_table(
        "the common fields",
        field_table(&tables, "Common fields"),
        expected,
        &mut failures,
    );

    report(&failures);
}

/// Every word of the `type` column is defined in spec/values.md: the first
/// cell of one of its tables names it, like `` `duration` `` or
/// `` `network` `volume` `secret` ``.
#[test]
fn type_words_are_defined_in_values_md() {
    let defined: BTreeSet<String> = tables(&root().join("spec/values.md"))
        .iter()
        .flat_map(|table| table.rows.iter().filter_map(|(_, cells)| cells.first()))
        .flat_map(|cell| {
            cell.split('`')
                .skip(1)
                .step_by(2)
                .map(str::to_owned)
                .collect::<Vec<_>>()
        })
        .collect();
    let mut used = BTreeSet::new();
    for kind in schema::builtin().kinds() {
        let fields: Vec<&'static Field> = kind.all_fields().collect();
        let mut rows = Vec::new();
        expected_rows("", &fields, kind.on_replace, &mut rows);
        used.extend(rows.into_iter().map(|(_, expected)| expected.row.ty));
    }
    let failures: Vec<String> = used
        .difference(&defined)
        .map(|word| format!("spec/values.md defines no type `{word}`, which spec/resources.md uses"))
        .collect();
    report(&failures);
}
