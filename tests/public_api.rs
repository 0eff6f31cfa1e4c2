//! The library examples use the public API only: they name no crate but `trainer`, `burn` and
//! `std`, and nothing under `trainer::internal` (the binary's entry point, not API). Since the
//! `trainer` crate exports only its deliberate surface (the rest of the workspace is private to
//! it), the examples compiling in this suite (`cargo test` builds them) is then the check that
//! a user's program can be written against that surface alone.

use std::path::Path;

/// The programs written as a library user would write them.
const USER_PROGRAMS: [&str; 3] = [
    "examples/custom_model.rs",
    "examples/custom_data.rs",
    "src/lib.rs", // the crate-level guide's doc test
];

/// The crates a user's program may name.
const ALLOWED_CRATES: [&str; 3] = ["trainer", "burn", "std"];

/// Each `use` path's first segment (`use a::b::{..}` gives `a`), skipping paths into the
/// program's own items.
fn used_crates(source: &str) -> Vec<String> {
    source
        .lines()
        .map(|l| {
            l.trim_start()
                .trim_start_matches("//! ")
                .trim_start_matches("# ")
        })
        .filter_map(|l| l.strip_prefix("use "))
        .filter_map(|path| path.split("::").next())
        .map(|root| root.trim().to_string())
        .filter(|root| !matches!(root.as_str(), "crate" | "self" | "super"))
        .collect()
}

#[test]
fn the_examples_use_only_the_public_api() {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    for program in USER_PROGRAMS {
        let source = std::fs::read_to_string(repo.join(program)).expect(program);
        let source = if program == "src/lib.rs" {
            // Only the guide: the module's own code uses the workspace's crates.
            source
                .lines()
                .take_while(|l| l.starts_with("//!") || l.is_empty())
                .collect::<Vec<_>>()
                .join("\n")
        } else {
            source
        };
        let crates = used_crates(&source);
        assert!(!crates.is_empty(), "{program} has `use` lines");
        for root in &crates {
            assert!(
                ALLOWED_CRATES.contains(&root.as_str()),
                "{program} uses crate `{root}`: a user's program names only {ALLOWED_CRATES:?}"
            );
        }
        for private in ["trainer_", "trainer::internal"] {
            assert!(
                !source.contains(private),
                "{program} reaches into `{private}`, which is not the library's API"
            );
        }
    }
}

#[test]
fn the_scan_sees_a_private_crate() {
    // The check above can fail: a program importing the core crate is caught.
    let crates = used_crates("use trainer_core::train::ModelLearner;\nuse burn::prelude::*;\n");
    assert_eq!(crates, ["trainer_core", "burn"]);
}
