//! The `yui` binary.
fn main() {}
