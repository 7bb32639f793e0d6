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
