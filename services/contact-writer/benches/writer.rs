//! Placeholder so the manifest parses while the benchmark is written.
fn main() {}
