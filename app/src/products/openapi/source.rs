//! One OpenAPI file (YAML or JSON) read into a JSON value, with the line of every node, so a
//! problem found anywhere later is reported as `file:line: reason`.
//!
//! YAML 1.2 is a superset of JSON, so one event parser (yaml-rust2, which gives positions) reads
//! both; serde_json only words the error of a JSON file that does not parse.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde_json::{Map, Value};
use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser};
use yaml_rust2::scanner::{Marker, TScalarStyle};

use crate::config::ConfigProblem;

pub struct Source {
    /// As named in the settings or the `$ref` that led here (for messages).
    pub path: PathBuf,
    /// The file as given, served to SDK generators unchanged.
    pub text: String,
    pub value: Value,
    pub is_json: bool,
    /// JSON pointer → 1-based line.
    lines: HashMap<String, usize>,
}

impl Source {
    pub fn read(path: &Path, shown_as: &Path) -> Result<Source, ConfigProblem> {
        let text = std::fs::read_to_string(path).map_err(|e| ConfigProblem::in_file(shown_as, None, format!("cannot read it: {e}")))?;
        Source::parse(shown_as, text)
    }

    pub fn parse(path: &Path, text: String) -> Result<Source, ConfigProblem> {
        let is_json = path.extension().is_some_and(|e| e.eq_ignore_ascii_case("json")) || text.trim_start().starts_with('{');
        let mut builder = Builder::default();
        let parsed = Parser::new_from_str(&text).load(&mut builder, false);
        if let Err(err) = parsed {
            if is_json && let Err(json) = serde_json::from_str::<Value>(&text) {
                return Err(ConfigProblem::in_file(path, Some(json.line()), format!("not valid JSON: {json}")));
            }
            return Err(ConfigProblem::in_file(path, Some(err.marker().line()), format!("not valid YAML: {}", err.info())));
        }
        if let Some((line, reason)) = builder.error {
            return Err(ConfigProblem::in_file(path, Some(line), reason));
        }
        let value = builder.root.unwrap_or(Value::Null);
        Ok(Source { path: path.to_path_buf(), text, value, is_json, lines: builder.lines })
    }

    /// The line of the node at `pointer`, or of its nearest ancestor the file spells out.
    pub fn line(&self, pointer: &str) -> Option<usize> {
        let mut pointer = pointer;
        loop {
            if let Some(line) = self.lines.get(pointer) {
                return Some(*line);
            }
            pointer = &pointer[..pointer.rfind('/')?];
        }
    }

    pub fn problem(&self, pointer: &str, reason: impl Into<String>) -> ConfigProblem {
        ConfigProblem::in_file(&self.path, self.line(pointer), reason)
    }
}

/// A JSON pointer's segment, escaped (RFC 6901).
pub fn escape(segment: &str) -> String {
    segment.replace('~', "~0").replace('/', "~1")
}

enum Frame {
    Seq {
        items: Vec<Value>,
        anchor: usize,
        pointer: String,
    },
    /// `key_line`: where the pending key was written; its value is reported there.
    Map {
        entries: Map<String, Value>,
        anchor: usize,
        pointer: String,
        key: Option<String>,
        key_line: usize,
    },
}

#[derive(Default)]
struct Builder {
    stack: Vec<Frame>,
    anchors: HashMap<usize, Value>,
    lines: HashMap<String, usize>,
    root: Option<Value>,
    error: Option<(usize, String)>,
}

impl Builder {
    /// The pointer of the node that starts now, or `None` when it is a mapping's key.
    fn next_pointer(&self) -> Option<String> {
        match self.stack.last() {
            None => Some(String::new()),
            Some(Frame::Seq { items, pointer, .. }) => Some(format!("{pointer}/{}", items.len())),
            Some(Frame::Map { key: Some(key), pointer, .. }) => Some(format!("{pointer}/{}", escape(key))),
            Some(Frame::Map { key: None, .. }) => None,
        }
    }

    /// The line a node that starts at `mark` is reported at: its key's, when it has one (a
    /// block mapping's value starts on the line after its key).
    fn line_of_next(&self, mark: Marker) -> usize {
        match self.stack.last() {
            Some(Frame::Map { key: Some(_), key_line, .. }) => *key_line,
            _ => mark.line(),
        }
    }

    fn fail(&mut self, line: usize, reason: String) {
        if self.error.is_none() {
            self.error = Some((line, reason));
        }
    }

    /// A finished node: a mapping's key, or a value for its parent (or the document).
    fn finish(&mut self, value: Value, anchor: usize, mark: Marker) {
        if anchor > 0 {
            self.anchors.insert(anchor, value.clone());
        }
        match self.stack.last_mut() {
            None => self.root = Some(value),
            Some(Frame::Seq { items, .. }) => items.push(value),
            Some(Frame::Map { entries, key, key_line, .. }) => match key.take() {
                Some(k) => {
                    entries.insert(k, value);
                }
                None => {
                    let k = match value {
                        Value::String(s) => s,
                        Value::Number(n) => n.to_string(),
                        Value::Bool(b) => b.to_string(),
                        Value::Null => "null".into(),
                        _ => return self.fail(mark.line(), "a mapping key must be a plain value, not a list or mapping".into()),
                    };
                    if entries.contains_key(&k) {
                        return self.fail(mark.line(), format!("the key `{k}` appears twice in one mapping"));
                    }
                    *key = Some(k);
                    *key_line = mark.line();
                }
            },
        }
    }
}

fn scalar(text: String, style: TScalarStyle, tag: Option<&yaml_rust2::parser::Tag>) -> Value {
    if style != TScalarStyle::Plain || tag.is_some_and(|t| t.suffix == "str") {
        return Value::String(text);
    }
    match yaml_rust2::Yaml::from_str(&text) {
        yaml_rust2::Yaml::Integer(i) => Value::from(i),
        yaml_rust2::Yaml::Real(r) => {
            r.parse::<f64>().ok().and_then(serde_json::Number::from_f64).map(Value::Number).unwrap_or(Value::String(r))
        }
        yaml_rust2::Yaml::Boolean(b) => Value::Bool(b),
        yaml_rust2::Yaml::Null => Value::Null,
        _ => Value::String(text),
    }
}

impl MarkedEventReceiver for Builder {
    fn on_event(&mut self, event: Event, mark: Marker) {
        if self.error.is_some() {
            return;
        }
        match event {
            Event::Scalar(text, style, anchor, tag) => {
                if let Some(pointer) = self.next_pointer() {
                    self.lines.insert(pointer, self.line_of_next(mark));
                }
                let value = scalar(text, style, tag.as_ref());
                self.finish(value, anchor, mark);
            }
            Event::Alias(anchor) => {
                let value = self.anchors.get(&anchor).cloned().unwrap_or(Value::Null);
                if let Some(pointer) = self.next_pointer() {
                    self.lines.insert(pointer, self.line_of_next(mark));
                }
                self.finish(value, 0, mark);
            }
            Event::SequenceStart(anchor, _) | Event::MappingStart(anchor, _) => {
                let Some(pointer) = self.next_pointer() else {
                    return self.fail(mark.line(), "a mapping key must be a plain value, not a list or mapping".into());
                };
                self.lines.insert(pointer.clone(), self.line_of_next(mark));
                self.stack.push(match event {
                    Event::SequenceStart(..) => Frame::Seq { items: Vec::new(), anchor, pointer },
                    _ => Frame::Map { entries: Map::new(), anchor, pointer, key: None, key_line: 0 },
                });
            }
            Event::SequenceEnd | Event::MappingEnd => match self.stack.pop() {
                Some(Frame::Seq { items, anchor, .. }) => self.finish(Value::Array(items), anchor, mark),
                Some(Frame::Map { entries, anchor, .. }) => self.finish(Value::Object(entries), anchor, mark),
                None => {}
            },
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(name: &str, text: &str) -> Result<Source, String> {
        Source::parse(Path::new(name), text.to_string()).map_err(|p| p.to_string())
    }

    #[test]
    fn yaml_becomes_json_with_the_line_of_every_node() {
        let doc = parse(
            "api.yaml",
            "openapi: 3.1.0\ninfo:\n  title: Pets\n  version: '1'\npaths:\n  /pets:\n    get:\n      responses:\n        200:\n          description: ok\n",
        )
        .unwrap();
        assert_eq!(doc.value["info"]["version"], "1", "quoted stays a string");
        assert_eq!(doc.value["paths"]["/pets"]["get"]["responses"]["200"]["description"], "ok", "number keys become strings");
        assert_eq!(doc.line("/paths/~1pets/get"), Some(7));
        assert_eq!(doc.line("/paths/~1pets/get/responses/200/description"), Some(10));
        assert_eq!(doc.line("/paths/~1pets/get/parameters/0"), Some(7), "a missing node: its nearest ancestor");
    }

    #[test]
    fn anchors_and_scalars_resolve_as_yaml_says() {
        let doc = parse("a.yaml", "base: &b {type: integer, minimum: 1}\nuse: *b\nn: 1.5\nyes: true\nnone: ~\ntext: '007'\n").unwrap();
        assert_eq!(doc.value["use"]["minimum"], 1);
        assert_eq!(doc.value["n"], 1.5);
        assert_eq!(doc.value["yes"], true);
        assert!(doc.value["none"].is_null());
        assert_eq!(doc.value["text"], "007");
    }

    #[test]
    fn json_reads_the_same_and_broken_files_name_their_line() {
        let doc = parse("a.json", "{\n  \"openapi\": \"3.0.3\",\n  \"paths\": {\"/a\": {}}\n}\n").unwrap();
        assert!(doc.is_json);
        assert_eq!(doc.line("/paths/~1a"), Some(3));
        let broken = parse("a.json", "{\n  \"openapi\": \"3.0.3\",\n  \"paths\": {\n}\n").err().unwrap();
        assert!(broken.starts_with("a.json:5: not valid JSON") || broken.starts_with("a.json:4: not valid JSON"), "{broken}");
        let yaml = parse("a.yaml", "openapi: 3.0.3\npaths:\n  /a: [\n").err().unwrap();
        assert!(yaml.starts_with("a.yaml:") && yaml.contains("not valid YAML"), "{yaml}");
        let twice = parse("a.yaml", "a: 1\nb: 2\na: 3\n").err().unwrap();
        assert_eq!(twice, "a.yaml:3: the key `a` appears twice in one mapping");
    }
}
