//! The README's quick start is `examples/quick_start.rs`, verbatim, so that the program a
//! new user pastes is the one CI compiles and runs (tests/examples_smoke.rs).

#[test]
fn the_readme_quick_start_is_the_compiled_example() {
    let readme = include_str!("../README.md");
    let example = include_str!("../examples/quick_start.rs");
    let section = readme
        .split("## Quick start")
        .nth(1)
        .expect("a \"## Quick start\" section in the README");
    let code = section
        .split("```rust,no_run\n")
        .nth(1)
        .and_then(|rest| rest.split("```").next())
        .expect("a rust code block in the quick start");
    assert_eq!(
        code, example,
        "copy examples/quick_start.rs into the README"
    );
}

/// A crate's `[profile.dev.package]` settings do not reach the crates that depend on it, so
/// the README tells a new user the lines that make argon2 fast in their debug builds, and
/// they are the ones this crate uses itself.
#[test]
fn the_readme_gives_the_lines_that_keep_debug_sign_ins_fast() {
    let readme = include_str!("../README.md");
    let manifest = include_str!("../Cargo.toml");
    let quick_start = readme
        .split("## Quick start")
        .nth(1)
        .and_then(|rest| rest.split("\n## ").next())
        .expect("a quick start section");
    for package in ["argon2", "blake2"] {
        let lines = format!("[profile.dev.package.{package}]\nopt-level = 3\n");
        assert!(
            quick_start.contains(&lines),
            "the quick start shows {lines:?}"
        );
        assert!(manifest.contains(&lines), "Cargo.toml has {lines:?}");
    }
}
