// The standard library's modules are compiled in (`include_dir!`), which cargo does not track:
// a changed module must rebuild the crate.
fn main() {
    println!("cargo:rerun-if-changed=../../stdlib");
}
