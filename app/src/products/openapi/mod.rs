//! OpenAPI 3.0 and 3.1 documents, read once at start into what the reference pages show.
//!
//! [`Documents`] holds the product's document and every file of the same folder it refers to;
//! [`build`] turns them into a [`Reference`]: operations grouped by tag, schemas with every
//! `$ref` resolved (a recursive schema is one node that points back at itself), examples.
//! Every problem is reported as `file:line: reason`, the first one found, never a panic.

mod build;
pub mod example;
pub mod model;
pub mod source;

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde_json::Value;

pub use build::build;
pub use model::*;
use source::Source;

use crate::config::ConfigProblem;

/// A document and the files of its folder that it refers to, each read once.
pub struct Documents {
    /// `files[0]` is the document itself.
    pub files: Vec<Source>,
    by_name: HashMap<String, usize>,
}

/// Where a `$ref` leads: a file of [`Documents`] and a JSON pointer in it.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Location {
    pub file: usize,
    pub pointer: String,
}

impl Location {
    pub fn child(&self, segment: &str) -> Location {
        Location { file: self.file, pointer: format!("{}/{}", self.pointer, source::escape(segment)) }
    }
}

impl Documents {
    /// Reads `path` (shown in messages as `shown_as`) and every same-folder file its `$ref`s
    /// name, then checks that every `$ref` of every file leads somewhere.
    pub fn load(path: &Path, shown_as: &Path) -> Result<Documents, ConfigProblem> {
        let folder = path.parent().map(Path::to_path_buf).unwrap_or_default();
        let shown_folder = shown_as.parent().map(Path::to_path_buf).unwrap_or_default();
        let mut docs = Documents { files: vec![Source::read(path, shown_as)?], by_name: HashMap::new() };
        if let Some(name) = path.file_name().and_then(|n| n.to_str()) {
            docs.by_name.insert(name.to_string(), 0);
        }
        let mut refs: Vec<(usize, String, String)> = Vec::new();
        let mut next = 0;
        while next < docs.files.len() {
            let mut found = Vec::new();
            collect_refs(&docs.files[next].value, String::new(), &mut found);
            for (pointer, reference) in found {
                let file_part = reference.split('#').next().unwrap_or("");
                if !file_part.is_empty() && !docs.by_name.contains_key(file_part) {
                    let problem = |reason: String| docs.files[next].problem(&pointer, reason);
                    if !is_same_folder_file(file_part) {
                        return Err(problem(format!(
                            "`$ref: {reference}`: only files in the same folder as the document are read (a plain file name ending in .yaml, .yml or .json)"
                        )));
                    }
                    let on_disk: PathBuf = folder.join(file_part);
                    if !on_disk.is_file() {
                        return Err(problem(format!("`$ref: {reference}`: there is no file {}", shown_folder.join(file_part).display())));
                    }
                    let source = Source::read(&on_disk, &shown_folder.join(file_part))?;
                    docs.by_name.insert(file_part.to_string(), docs.files.len());
                    docs.files.push(source);
                }
                refs.push((next, pointer, reference));
            }
            next += 1;
        }
        for (file, pointer, reference) in refs {
            if docs.resolve(file, &reference).is_none() {
                return Err(docs.files[file].problem(&pointer, format!("`$ref: {reference}` points at nothing")));
            }
        }
        Ok(docs)
    }

    pub fn main(&self) -> &Source {
        &self.files[0]
    }

    pub fn value(&self, at: &Location) -> Option<&Value> {
        self.files.get(at.file)?.value.pointer(&at.pointer)
    }

    /// Where `reference`, written in file `from`, leads.
    pub fn resolve(&self, from: usize, reference: &str) -> Option<Location> {
        let (file_part, fragment) = reference.split_once('#').unwrap_or((reference, ""));
        let file = if file_part.is_empty() { from } else { *self.by_name.get(file_part)? };
        let pointer = percent_decode(fragment);
        if !(pointer.is_empty() || pointer.starts_with('/')) {
            return None;
        }
        self.files[file].value.pointer(&pointer)?;
        Some(Location { file, pointer })
    }

    /// Follows `$ref`s from `at` to the node that is not one (a chain of plain `$ref`s that
    /// loops is reported).
    pub fn follow(&self, at: Location) -> Result<Location, ConfigProblem> {
        let mut at = at;
        for _ in 0..32 {
            match self.value(&at).and_then(|v| v.get("$ref")).and_then(Value::as_str) {
                Some(reference) => {
                    at = self
                        .resolve(at.file, reference)
                        .ok_or_else(|| self.problem(&at, format!("`$ref: {reference}` points at nothing")))?;
                }
                None => return Ok(at),
            }
        }
        Err(self.problem(&at, "these `$ref`s lead to each other and never to a value"))
    }

    pub fn problem(&self, at: &Location, reason: impl Into<String>) -> ConfigProblem {
        self.files[at.file].problem(&at.pointer, reason)
    }
}

fn collect_refs(value: &Value, pointer: String, out: &mut Vec<(String, String)>) {
    match value {
        Value::Object(map) => {
            for (key, child) in map {
                let child_pointer = format!("{pointer}/{}", source::escape(key));
                match (key.as_str(), child) {
                    ("$ref", Value::String(reference)) => out.push((child_pointer, reference.clone())),
                    // Examples are data: a `$ref` inside one is just a field. A map of Example
                    // Objects may refer to shared ones, though.
                    ("example" | "const" | "default" | "enum", _) | ("examples", Value::Array(_)) => {}
                    ("examples", Value::Object(examples)) => {
                        for (name, example) in examples {
                            if let Some(Value::String(reference)) = example.get("$ref") {
                                out.push((format!("{child_pointer}/{}/$ref", source::escape(name)), reference.clone()));
                            }
                        }
                    }
                    _ => collect_refs(child, child_pointer, out),
                }
            }
        }
        Value::Array(items) => {
            for (i, child) in items.iter().enumerate() {
                collect_refs(child, format!("{pointer}/{i}"), out);
            }
        }
        _ => {}
    }
}

/// `pets.yaml`, `common.json`: a file beside the document, nothing that climbs or leaves.
fn is_same_folder_file(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    !name.is_empty()
        && !name.starts_with('.')
        && !name.contains(['/', '\\', ':', '\0'])
        && (lower.ends_with(".yaml") || lower.ends_with(".yml") || lower.ends_with(".json"))
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        match (bytes[i], bytes.get(i + 1).copied().and_then(hex), bytes.get(i + 2).copied().and_then(hex)) {
            (b'%', Some(high), Some(low)) => {
                out.push((high * 16 + low) as u8);
                i += 3;
            }
            (b, _, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refs_stay_in_the_documents_folder() {
        assert!(is_same_folder_file("common.yaml"));
        assert!(is_same_folder_file("Pets.JSON"));
        for bad in ["../secret.yaml", "/etc/passwd", "sub/x.yaml", "..\\x.yaml", "https://x/y.yaml", ".hidden.yaml", "x.txt", ""] {
            assert!(!is_same_folder_file(bad), "{bad}");
        }
        assert_eq!(percent_decode("/paths/~1pets~1%7Bid%7D"), "/paths/~1pets~1{id}");
    }
}
