//! Adding the dependencies to a crate's `Cargo.toml` with `toml_edit`, which
//! keeps the file's formatting and comments; a dependency already there is
//! left as it is.

use std::path::Path;

use toml_edit::{Array, DocumentMut, InlineTable, Item, Value};

use crate::InitError;

/// How the framework's own crates are found.
#[derive(Debug, Clone)]
pub(crate) enum Source {
    /// A version on the registry.
    Registry(String),
    /// A local checkout of the workspace (`--path`).
    Path(std::path::PathBuf),
}

/// One dependency to add: name, version, default features, features.
struct Dep {
    name: &'static str,
    version: &'static str,
    default_features: bool,
    features: &'static [&'static str],
}

/// The third-party dependencies the generated code and a first resource
/// need, at the versions and features of the framework's workspace (a test
/// keeps them in step with its `Cargo.toml`).
const DEPS: &[Dep] = &[
    Dep {
        name: "chrono",
        version: "0.4.42",
        default_features: false,
        features: &["clock", "std", "serde"],
    },
    Dep {
        name: "serde",
        version: "1.0.219",
        default_features: true,
        features: &["derive"],
    },
    Dep {
        name: "serde_json",
        version: "1.0.140",
        default_features: true,
        features: &[],
    },
    Dep {
        name: "sqlx",
        version: "0.9.0",
        default_features: false,
        features: &[
            "runtime-tokio",
            "postgres",
            "uuid",
            "chrono",
            "json",
            "macros",
            "migrate",
        ],
    },
    Dep {
        name: "tokio",
        version: "1.45",
        default_features: true,
        features: &["macros", "rt-multi-thread", "sync", "time"],
    },
    Dep {
        name: "uuid",
        version: "1.17",
        default_features: true,
        features: &["v4", "v7", "serde"],
    },
];

/// The framework's crates.
const OWN: &[&str] = &["events-core", "events-postgres", "events-cli"];

/// What reading the manifest found.
pub(crate) struct Manifest {
    pub(crate) doc: DocumentMut,
    /// The library's name as Rust code names it.
    pub(crate) lib_name: String,
}

/// Reads and parses `path`, which must describe a package.
pub(crate) fn read(path: &Path) -> Result<Manifest, InitError> {
    let text = std::fs::read_to_string(path).map_err(|source| InitError::Io {
        path: path.to_owned(),
        source,
    })?;
    let doc: DocumentMut = text
        .parse()
        .map_err(|e: toml_edit::TomlError| InitError::Manifest {
            path: path.to_owned(),
            message: crate::one_line(&e.to_string()),
        })?;
    let package = doc
        .get("package")
        .and_then(|p| p.get("name"))
        .and_then(Item::as_str)
        .ok_or_else(|| InitError::Manifest {
            path: path.to_owned(),
            message: "it has no [package] name (a workspace manifest?); run init in the application's crate, or pass --dir".to_owned(),
        })?;
    let lib_name = doc
        .get("lib")
        .and_then(|l| l.get("name"))
        .and_then(Item::as_str)
        .unwrap_or(package)
        .replace('-', "_");
    Ok(Manifest { doc, lib_name })
}

/// Adds the missing dependencies; returns the names added.
pub(crate) fn add_dependencies(doc: &mut DocumentMut, source: &Source) -> Vec<&'static str> {
    let deps = doc
        .entry("dependencies")
        .or_insert_with(|| Item::Table(toml_edit::Table::new()));
    let Some(deps) = deps.as_table_like_mut() else {
        return Vec::new();
    };
    let mut added = Vec::new();
    for name in OWN {
        if deps.contains_key(name) {
            continue;
        }
        let value: Value = match source {
            Source::Registry(version) => Value::from(version.as_str()),
            Source::Path(root) => {
                let mut t = InlineTable::new();
                let path = root.join(name);
                t.insert("path", Value::from(path.to_string_lossy().as_ref()));
                Value::InlineTable(t)
            }
        };
        deps.insert(name, Item::Value(value));
        added.push(*name);
    }
    for dep in DEPS {
        if deps.contains_key(dep.name) {
            continue;
        }
        let value = if dep.default_features && dep.features.is_empty() {
            Value::from(dep.version)
        } else {
            let mut t = InlineTable::new();
            t.insert("version", Value::from(dep.version));
            if !dep.default_features {
                t.insert("default-features", Value::from(false));
            }
            if !dep.features.is_empty() {
                t.insert(
                    "features",
                    Value::Array(dep.features.iter().copied().collect::<Array>()),
                );
            }
            Value::InlineTable(t)
        };
        deps.insert(dep.name, Item::Value(value));
        added.push(dep.name);
    }
    added
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dependencies_are_added_once_and_keep_what_is_there() {
        let mut doc: DocumentMut =
            "[package]\nname = \"my-shop\"\n\n[dependencies]\n# ours\nserde = \"1\"\n"
                .parse()
                .expect("toml");
        let added = add_dependencies(&mut doc, &Source::Registry("0.1.0".into()));
        assert!(!added.contains(&"serde"), "{added:?}");
        assert!(added.contains(&"events-cli") && added.contains(&"sqlx"));
        let text = doc.to_string();
        assert!(text.contains("# ours\nserde = \"1\"\n"), "{text}");
        assert!(text.contains("events-core = \"0.1.0\""), "{text}");
        assert!(text.contains(r#"sqlx = { version = "0.9.0", default-features = false, features = ["runtime-tokio""#), "{text}");
        assert!(add_dependencies(&mut doc, &Source::Registry("0.1.0".into())).is_empty());
        assert_eq!(doc.to_string(), text, "a second run changes nothing");
    }

    /// The versions and features match the workspace's, so a crate set up
    /// from a checkout builds with what the workspace already compiled.
    #[test]
    fn versions_and_features_match_the_workspace() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../Cargo.toml");
        let text = std::fs::read_to_string(root).expect("the workspace manifest");
        let doc: DocumentMut = text.parse().expect("toml");
        let ws = &doc["workspace"]["dependencies"];
        for dep in DEPS {
            let entry = &ws[dep.name];
            let version = entry
                .as_str()
                .or_else(|| entry.get("version").and_then(Item::as_str))
                .unwrap_or_else(|| panic!("{} is a workspace dependency", dep.name));
            assert_eq!(version, dep.version, "{}", dep.name);
            let features: Vec<&str> = entry
                .get("features")
                .and_then(Item::as_array)
                .map(|a| a.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            assert_eq!(features, dep.features, "{}", dep.name);
            let default = entry
                .get("default-features")
                .and_then(Item::as_bool)
                .unwrap_or(true);
            assert_eq!(default, dep.default_features, "{}", dep.name);
        }
    }

    #[test]
    fn the_library_name_follows_the_package() {
        let dir = tempfile::tempdir().expect("a temp dir");
        let path = dir.path().join("Cargo.toml");
        std::fs::write(&path, "[package]\nname = \"my-shop\"\n").expect("written");
        assert_eq!(read(&path).expect("read").lib_name, "my_shop");
        std::fs::write(&path, "[workspace]\nmembers = []\n").expect("written");
        assert!(read(&path).is_err());
    }
}
