//! `stack-provider-file`: the kind `file` of the book's chapter "Writing a provider", written
//! with the Rust SDK and run outside `stack`. Its objects are text files in the directory
//! its `provider` block names; the labels of `NAME.EXT` are in `.NAME.EXT.labels`.

mod files;

fn main() -> std::process::ExitCode {
    stack_provider_sdk::serve(files::Files::default())
}
