//! The house's layering, checked from the workspace's manifests: no service
//! depends on another service, and the services that must never hold a
//! credential (the directory-reader and the contact-writer) reach the
//! auth-broker only through `galsync-broker-client`; only test crates link
//! the test support. Inside each crate, no two modules import each other
//! (directly or round a longer circle), no production file passes ~450
//! lines, and no gRPC adapter calls its service's store.

use std::collections::BTreeMap;
use std::process::Command;

/// `cargo metadata` of the workspace, without resolving dependencies.
fn workspace_metadata() -> serde_json::Value {
    let output = Command::new(env!("CARGO"))
        .args([
            "metadata",
            "--format-version",
            "1",
            "--no-deps",
            "--offline",
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("cargo metadata runs");
    assert!(
        output.status.success(),
        "cargo metadata: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("cargo metadata prints JSON")
}

/// Each workspace package's normal (non-dev) dependencies on other
/// workspace packages.
fn workspace_dependencies() -> BTreeMap<String, Vec<String>> {
    let metadata = workspace_metadata();
    let packages = metadata["packages"].as_array().expect("packages");
    let members: Vec<&str> = packages
        .iter()
        .filter_map(|package| package["name"].as_str())
        .collect();
    packages
        .iter()
        .map(|package| {
            let dependencies = package["dependencies"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|dependency| dependency["kind"].is_null())
                .filter_map(|dependency| dependency["name"].as_str())
                .filter(|name| members.contains(name))
                .map(str::to_owned)
                .collect();
            (
                package["name"].as_str().unwrap_or_default().to_owned(),
                dependencies,
            )
        })
        .collect()
}

const SERVICES: [&str; 5] = [
    "galsync-auth-broker",
    "galsync-directory-reader",
    "galsync-contact-writer",
    "galsync-scheduler",
    // Calls the scheduler's public API only, never its code.
    "galsync-console",
];

#[test]
fn no_service_depends_on_another_service() {
    let dependencies = workspace_dependencies();
    let mut crossings = Vec::new();
    for service in SERVICES {
        let of_service = dependencies
            .get(service)
            .unwrap_or_else(|| panic!("{service} is a workspace member"));
        for dependency in of_service {
            if SERVICES.contains(&dependency.as_str()) {
                crossings.push(format!("{service} → {dependency}"));
            }
        }
    }
    assert!(
        crossings.is_empty(),
        "services depend on services: {crossings:?}"
    );
    for service in ["galsync-directory-reader", "galsync-contact-writer"] {
        assert!(
            dependencies[service].contains(&"galsync-broker-client".to_owned()),
            "{service} draws its Graph tokens through galsync-broker-client"
        );
    }
}

/// Test support lives above what it tests: only test crates depend on
/// `galsync-testkit` (which starts an auth-broker and holds the harness for
/// real binaries), so no service binary or shared crate links it.
#[test]
fn only_test_crates_depend_on_the_test_support() {
    const TEST_CRATES: [&str; 2] = ["galsync-testkit", "galsync-e2e"];
    let dependencies = workspace_dependencies();
    let linked: Vec<&String> = dependencies
        .iter()
        .filter(|(package, _)| !TEST_CRATES.contains(&package.as_str()))
        .filter(|(_, of_package)| of_package.iter().any(|name| name == "galsync-testkit"))
        .map(|(package, _)| package)
        .collect();
    assert!(
        linked.is_empty(),
        "production crates link the test support: {linked:?}"
    );
    assert!(
        dependencies.contains_key("galsync-testkit"),
        "galsync-testkit is a workspace member"
    );
}

/// The admin CLI an operator builds need not carry the emulator: only its
/// `demo` feature (on by default, for `galsync demo`)
/// links it. `.ci/run` builds the CLI without it.
#[test]
fn the_admin_cli_links_the_emulator_only_for_the_demo() {
    let metadata = workspace_metadata();
    let cli = metadata["packages"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|package| package["name"] == "galsync")
        .expect("the galsync package");
    let emulator = cli["dependencies"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|dependency| {
            dependency["name"] == "galsync-graph-emulator" && dependency["kind"].is_null()
        })
        .expect("galsync depends on the emulator for the demo");
    assert_eq!(emulator["optional"], true, "{emulator:#}");
    assert_eq!(
        cli["features"]["demo"],
        serde_json::json!(["dep:galsync-graph-emulator"]),
        "{:#}",
        cli["features"]
    );
}

/// Each library's source directory (`src/` of its `lib` target).
fn library_source_dirs() -> Vec<(String, std::path::PathBuf)> {
    let metadata = workspace_metadata();
    let mut dirs = Vec::new();
    for package in metadata["packages"].as_array().into_iter().flatten() {
        for target in package["targets"].as_array().into_iter().flatten() {
            let is_lib = target["kind"]
                .as_array()
                .is_some_and(|kinds| kinds.iter().any(|kind| kind == "lib"));
            if let (true, Some(path)) = (is_lib, target["src_path"].as_str()) {
                let dir = std::path::Path::new(path).parent().expect("src dir");
                dirs.push((
                    package["name"].as_str().unwrap_or_default().to_owned(),
                    dir.to_path_buf(),
                ));
            }
        }
    }
    dirs
}

/// A module's path inside its crate, from its file: `a/b.rs` and
/// `a/b/mod.rs` are `a::b`, `lib.rs` is the root.
fn module_of(src: &std::path::Path, file: &std::path::Path) -> Vec<String> {
    let relative = file.strip_prefix(src).expect("under src");
    let mut parts: Vec<String> = relative
        .with_extension("")
        .components()
        .map(|part| part.as_os_str().to_string_lossy().into_owned())
        .collect();
    if parts
        .last()
        .is_some_and(|last| last == "mod" || last == "lib")
    {
        parts.pop();
    }
    parts
}

fn rust_files(dir: &std::path::Path, files: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("a readable source dir") {
        let path = entry.expect("a directory entry").path();
        if path.is_dir() {
            if path.file_name().is_some_and(|name| name != "bin") {
                rust_files(&path, files);
            }
        } else if path.extension().is_some_and(|ext| ext == "rs")
            && path.file_name().is_some_and(|name| name != "main.rs")
        {
            files.push(path);
        }
    }
}

/// The module's own code: comments and its unit tests left out.
fn production_code(text: &str) -> String {
    let text = match text.find("#[cfg(test)]\nmod tests") {
        Some(tests) => &text[..tests],
        None => text,
    };
    text.lines()
        .map(|line| match line.find("//") {
            Some(comment) => &line[..comment],
            None => line,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The modules of its crate that `code` (of `module`) names through
/// `crate::…` or `super::…`, its own ancestors left out (a child using its
/// parent's items is how Rust nests modules, not a circle).
fn imported_modules(
    module: &[String],
    code: &str,
    modules: &std::collections::BTreeSet<Vec<String>>,
) -> std::collections::BTreeSet<Vec<String>> {
    let mut imported = std::collections::BTreeSet::new();
    let mut add = |path: Vec<String>| {
        let mut best = None;
        for length in 1..=path.len() {
            if modules.contains(&path[..length]) {
                best = Some(path[..length].to_vec());
            }
        }
        if let Some(best) = best {
            if !module.starts_with(&best) {
                imported.insert(best);
            }
        }
    };
    // `crate::{a, b::c}` as one word: no space after `{` or `,`.
    let mut joined = String::with_capacity(code.len());
    for c in code.chars() {
        if c.is_whitespace() && joined.ends_with(['{', ',']) {
            continue;
        }
        joined.push(c);
    }
    let words: Vec<&str> = joined
        .split(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':' || c == '{' || c == ','))
        .collect();
    for word in words {
        let (mut base, rest): (Vec<String>, &str) = if let Some(rest) = word.strip_prefix("crate::")
        {
            (Vec::new(), rest)
        } else if word.starts_with("super::") {
            let mut base = module.to_vec();
            let mut rest = word;
            while let Some(after) = rest.strip_prefix("super::") {
                base.pop();
                rest = after;
            }
            (base, rest)
        } else {
            continue;
        };
        // `crate::{a, b::c}`: each name in the group.
        if let Some(group) = rest.strip_prefix('{') {
            for name in group.split(',') {
                let mut path = base.clone();
                path.extend(
                    name.trim_matches(|c| c == '{' || c == '}')
                        .split("::")
                        .map(str::to_owned),
                );
                add(path);
            }
            continue;
        }
        base.extend(
            rest.split("::")
                .map(|part| part.trim_matches(|c| c == '{' || c == ',').to_owned()),
        );
        add(base);
    }
    imported
}

/// No module imports a module that (through others) imports it: every
/// crate's modules form layers an engineer can read bottom-up.
#[test]
fn no_module_is_part_of_an_import_circle() {
    let mut circles = Vec::new();
    for (package, src) in library_source_dirs() {
        let mut files = Vec::new();
        rust_files(&src, &mut files);
        let modules: std::collections::BTreeSet<Vec<String>> =
            files.iter().map(|file| module_of(&src, file)).collect();
        let mut imports = BTreeMap::new();
        for file in &files {
            let module = module_of(&src, file);
            let text = std::fs::read_to_string(file).expect("a readable source file");
            let found = imported_modules(&module, &production_code(&text), &modules);
            imports.insert(module, found);
        }
        // Modules that reach themselves, grouped by what they reach.
        let reach = |start: &Vec<String>| {
            let mut seen = std::collections::BTreeSet::new();
            let mut stack = vec![start.clone()];
            while let Some(module) = stack.pop() {
                for next in imports.get(&module).into_iter().flatten() {
                    if seen.insert(next.clone()) {
                        stack.push(next.clone());
                    }
                }
            }
            seen
        };
        let mut reported = std::collections::BTreeSet::new();
        for module in imports.keys() {
            let reached = reach(module);
            if !reached.contains(module) || reported.contains(module) {
                continue;
            }
            let circle: Vec<String> = reached
                .iter()
                .filter(|other| reach(other).contains(module))
                .inspect(|other| {
                    reported.insert((*other).clone());
                })
                .map(|other| other.join("::"))
                .collect();
            circles.push(format!("{package}: {}", circle.join(" ↔ ")));
        }
    }
    assert!(
        circles.is_empty(),
        "modules import each other (move what both need into a module of its own):\n{}",
        circles.join("\n")
    );
}

/// Production files stay readable at a sitting: a file past ~450 lines
/// comes apart along its seams (issue 16).
#[test]
fn no_production_file_passes_450_lines() {
    const MOST_LINES: usize = 450;
    let mut long = Vec::new();
    for (package, src) in library_source_dirs() {
        let mut files = Vec::new();
        rust_files(&src, &mut files);
        for file in files {
            let lines = std::fs::read_to_string(&file)
                .expect("a readable source file")
                .lines()
                .count();
            if lines > MOST_LINES {
                long.push(format!("{package}: {} has {lines} lines", file.display()));
            }
        }
    }
    assert!(
        long.is_empty(),
        "files above {MOST_LINES} lines:\n{}",
        long.join("\n")
    );
}

/// A service's gRPC adapter checks a request and calls its domain; it never
/// reaches past the domain into the store (issue 16).
#[test]
fn no_grpc_adapter_calls_its_store() {
    let mut reaching = Vec::new();
    for (package, src) in library_source_dirs() {
        let mut files = Vec::new();
        rust_files(&src, &mut files);
        for file in files {
            if module_of(&src, &file).first().map(String::as_str) != Some("grpc") {
                continue;
            }
            let code = production_code(&std::fs::read_to_string(&file).expect("a source file"));
            for (number, line) in code.lines().enumerate() {
                if names_the_store(line) {
                    reaching.push(format!(
                        "{package}: {}:{}: {}",
                        file.display(),
                        number + 1,
                        line.trim()
                    ));
                }
            }
        }
    }
    assert!(
        reaching.is_empty(),
        "gRPC adapters calling the store (give the domain a use case instead):\n{}",
        reaching.join("\n")
    );
}

/// Whether `line` reaches a `store` field or method (`.store`, `.store()`),
/// not merely a name starting so (`.stored_at`).
fn names_the_store(line: &str) -> bool {
    line.match_indices(".store").any(|(at, found)| {
        !line[at + found.len()..]
            .chars()
            .next()
            .is_some_and(|next| next.is_alphanumeric() || next == '_')
    })
}
