//! The `nnt` command line (being written).
fn main() {
    std::process::exit(0);
}
