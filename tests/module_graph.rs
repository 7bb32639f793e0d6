//! The modules of `src/` import each other without cycles, at two levels: between the
//! top-level modules (the layers, most of them folders), and between the files themselves.
//! Each `crate::a::b::...` path in a file is an edge from it to the longest module it names
//! (`a::b` when that is a file or folder, else `a`); a file's path to its own folder does not
//! count (a folder's `mod.rs` holds what its files share). A cycle makes the layers impossible
//! to read in order; this test names it.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// The top-level module a source file belongs to (`src/store/redis/mod.rs` -> `store`).
fn module_of(relative: &Path) -> String {
    let first = relative.components().next().unwrap();
    let name = first.as_os_str().to_string_lossy();
    name.trim_end_matches(".rs").to_owned()
}

/// The top-level modules a source text names through `crate::` paths.
fn references(text: &str) -> BTreeSet<String> {
    full_references(text)
        .iter()
        .map(|path| path.split("::").next().unwrap().to_owned())
        .collect()
}

/// The module paths a source text names through `crate::` paths: every leading lowercase
/// segment (`crate::a::b::C` gives `a::b`), each item of a `use crate::{a::X, b::{c, d}}`
/// group on its own (`a`, `b::c`, `b::d`).
fn full_references(text: &str) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    let code: String = text
        .lines()
        .filter(|line| !line.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n");
    let mut rest = code.as_str();
    while let Some(at) = rest.find("crate::") {
        rest = &rest[at + "crate::".len()..];
        paths_in(rest, &[], &mut found);
    }
    found
}

/// Adds to `found` the module paths of the path that `text` starts with, after `prefix`.
fn paths_in(mut text: &str, prefix: &[String], found: &mut BTreeSet<String>) {
    let mut path = prefix.to_vec();
    loop {
        if let Some(group) = text.strip_prefix('{') {
            let end = matching_brace(group);
            for item in split_top_level(&group[..end]) {
                paths_in(item.trim(), &path, found);
            }
            return;
        }
        let Some(ident) = leading_ident(text) else {
            break;
        };
        text = &text[ident.len()..];
        path.push(ident);
        match text.strip_prefix("::") {
            Some(after) => text = after,
            None => break,
        }
    }
    // A group item that is not a module (`crate::store::{Store, User}`) names its prefix.
    if !path.is_empty() {
        found.insert(path.join("::"));
    }
}

fn matching_brace(text: &str) -> usize {
    let mut depth = 0;
    for (i, c) in text.char_indices() {
        match c {
            '{' => depth += 1,
            '}' if depth == 0 => return i,
            '}' => depth -= 1,
            _ => {}
        }
    }
    text.len()
}

fn split_top_level(text: &str) -> Vec<&str> {
    let (mut parts, mut depth, mut start) = (Vec::new(), 0, 0);
    for (i, c) in text.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(&text[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&text[start..]);
    parts
}

fn leading_ident(text: &str) -> Option<String> {
    let ident: String = text
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
        .collect();
    let is_module = ident.starts_with(|c: char| c.is_ascii_lowercase());
    is_module.then_some(ident)
}

fn source_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            source_files(&path, out);
        } else if path.extension().is_some_and(|ext| ext == "rs") {
            out.push(path);
        }
    }
}

/// The import graph of `src/`: module -> modules it names.
fn graph() -> BTreeMap<String, BTreeSet<String>> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    source_files(&src, &mut files);
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for file in files {
        let module = module_of(file.strip_prefix(&src).unwrap());
        if module == "lib" {
            continue; // the crate root re-exports everything
        }
        let text = std::fs::read_to_string(&file).unwrap();
        let edges = graph.entry(module.clone()).or_default();
        edges.extend(references(&text).into_iter().filter(|to| *to != module));
    }
    let known: BTreeSet<String> = graph.keys().cloned().collect();
    for edges in graph.values_mut() {
        edges.retain(|to| known.contains(to));
    }
    graph
}

/// The module a file is (`src/store/redis/mod.rs` -> `store::redis`).
fn file_module_of(relative: &Path) -> String {
    let mut parts: Vec<String> = relative
        .components()
        .map(|part| {
            part.as_os_str()
                .to_string_lossy()
                .trim_end_matches(".rs")
                .to_owned()
        })
        .collect();
    if parts.last().is_some_and(|last| last == "mod") {
        parts.pop();
    }
    parts.join("::")
}

/// The import graph between the files of `src/`: module path -> module paths it names.
fn file_graph() -> BTreeMap<String, BTreeSet<String>> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    source_files(&src, &mut files);
    let texts: BTreeMap<String, String> = files
        .iter()
        .map(|file| {
            let module = file_module_of(file.strip_prefix(&src).unwrap());
            (module, std::fs::read_to_string(file).unwrap())
        })
        .filter(|(module, _)| module != "lib")
        .collect();
    let mut graph = BTreeMap::new();
    for (module, text) in &texts {
        let mut edges = BTreeSet::new();
        for path in full_references(text) {
            let segments: Vec<&str> = path.split("::").collect();
            let target = (1..=segments.len())
                .rev()
                .map(|len| segments[..len].join("::"))
                .find(|candidate| texts.contains_key(candidate));
            if let Some(target) = target {
                let own_folder = module.starts_with(&format!("{target}::"));
                if target != *module && !own_folder {
                    edges.insert(target);
                }
            }
        }
        graph.insert(module.clone(), edges);
    }
    graph
}

/// One cycle of the graph, if any, as the modules along it.
fn find_cycle(graph: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        node: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(at) = path.iter().position(|n| n == node) {
            let mut cycle = path[at..].to_vec();
            cycle.push(node.to_owned());
            return Some(cycle);
        }
        if done.contains(node) {
            return None;
        }
        path.push(node.to_owned());
        for next in graph.get(node).into_iter().flatten() {
            if let Some(cycle) = visit(next, graph, path, done) {
                return Some(cycle);
            }
        }
        path.pop();
        done.insert(node.to_owned());
        None
    }
    let mut done = BTreeSet::new();
    graph
        .keys()
        .find_map(|node| visit(node, graph, &mut Vec::new(), &mut done))
}

#[test]
fn the_parser_reads_grouped_and_inline_paths() {
    let text = "use crate::{a::X, b, c::{d, e}};\nfn f() { crate::g::h(); }\n// crate::comment\n";
    let names: Vec<String> = references(text).into_iter().collect();
    assert_eq!(names, ["a", "b", "c", "g"]);
    let mut graph = BTreeMap::new();
    graph.insert("x".to_owned(), BTreeSet::from(["y".to_owned()]));
    graph.insert("y".to_owned(), BTreeSet::from(["x".to_owned()]));
    assert_eq!(find_cycle(&graph).unwrap(), ["x", "y", "x"]);
}

#[test]
fn files_import_each_other_without_cycles() {
    let graph = file_graph();
    assert!(graph.contains_key("engine::mint"), "{:?}", graph.keys());
    assert!(graph["engine::mint"].contains("store"));
    if let Some(cycle) = find_cycle(&graph) {
        panic!(
            "import cycle between files of src/: {}\nthe graph: {graph:#?}",
            cycle.join(" -> ")
        );
    }
}

#[test]
fn the_path_parser_reads_nested_modules() {
    let text = "use crate::util::ids;\nuse crate::store::fast_path::FastPath;\nf(crate::a::b(x))";
    let paths: Vec<String> = full_references(text).into_iter().collect();
    assert_eq!(paths, ["a::b", "store::fast_path", "util::ids"]);
    let grouped = "use crate::{a::X, b::{c, d::E}, f};\nuse crate::g::{H, I};";
    let paths: Vec<String> = full_references(grouped).into_iter().collect();
    assert_eq!(paths, ["a", "b::c", "b::d", "f", "g"]);
}

#[test]
fn modules_import_each_other_without_cycles() {
    let graph = graph();
    if let Some(cycle) = find_cycle(&graph) {
        panic!(
            "import cycle between modules of src/: {}\nthe graph: {graph:#?}",
            cycle.join(" -> ")
        );
    }
}
