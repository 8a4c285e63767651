//! Reading manifests: multi-document YAML or JSON from files, directories and stdin, as
//! `helm template` and `kustomize build` print them.

use crate::yaml::{self, Pos, Positions};
use serde_json::Value;
use std::io::Read;
use std::path::Path;
use std::sync::Arc;

/// One document of one input, numbered from 1 within its source.
#[derive(Debug, Clone)]
pub struct Document {
    /// The file (`<stdin>`) the document is in.
    pub source: String,
    /// Its 1-based index in the file.
    pub index: usize,
    /// For an item unpacked from a `List`, its position in `items`.
    pub item: Option<usize>,
    /// The document as JSON.
    pub value: Value,
    /// Where every node of the whole document (the `List`, for an item) is in the file.
    pub positions: Arc<Positions>,
}

impl Document {
    /// Where the node at `pointer` (relative to this document or item) is in the file.
    pub fn position(&self, pointer: &str) -> Option<Pos> {
        match self.item {
            None => self.positions.get(pointer),
            Some(i) => self.positions.get(&format!("/items/{i}{pointer}")),
        }
    }

    /// Where the document (or item) starts.
    pub fn start(&self) -> Pos {
        self.position("").unwrap_or(Pos { line: 1, column: 1 })
    }

    /// `file.yaml#3` or `file.yaml#3.items[1]`
    pub fn location(&self) -> String {
        match self.item {
            None => format!("{}#{}", self.source, self.index),
            Some(i) => format!("{}#{}.items[{i}]", self.source, self.index),
        }
    }
}

/// A problem with the input itself, named by source and document or line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputError {
    /// The file (and document) it is about.
    pub source: String,
    /// What is wrong, and what to do.
    pub message: String,
}

impl std::fmt::Display for InputError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.source, self.message)
    }
}

/// The name a source is reported under.
pub fn source_name(path: &Path) -> String {
    if path.as_os_str() == "-" {
        "<stdin>".to_owned()
    } else {
        path.display().to_string()
    }
}

/// Reads one source's text.
pub fn read(path: &Path) -> Result<String, InputError> {
    read_text(path).map_err(|e| InputError {
        source: source_name(path),
        message: e,
    })
}

fn read_text(path: &Path) -> Result<String, String> {
    let mut text = String::new();
    if path.as_os_str() == "-" {
        std::io::stdin()
            .read_to_string(&mut text)
            .map_err(|e| format!("cannot read stdin: {e}"))?;
    } else {
        text = std::fs::read_to_string(path).map_err(|e| format!("cannot read the file: {e}"))?;
    }
    Ok(text)
}

/// Whether `text` is a JSON stream (else it is read as YAML).
pub fn is_json(text: &str) -> bool {
    let t = text.trim_start();
    t.starts_with('{') || t.starts_with('[')
}

/// One YAML document of a stream, not parsed yet: splitting is cheap and serial, parsing is
/// the expensive part and runs in parallel.
#[derive(Debug, Clone)]
pub struct Chunk {
    /// The file's name as messages show it.
    pub source: String,
    /// The document's number in its stream, from 1.
    pub index: usize,
    /// The line the document starts at in its stream, from 1.
    pub line: usize,
    /// Columns cut from the text's first line (`--- ` before content on the marker line).
    pub column: usize,
    /// Its text.
    pub text: String,
}

/// Splits a YAML stream at its `---` document markers. Text before the first marker is a
/// document only when it holds something other than comments and blank lines, as in YAML.
pub fn split_yaml(source: &str, text: &str) -> Vec<Chunk> {
    let mut chunks = Vec::new();
    let mut current = String::new();
    let mut start = 1;
    let mut column = 0;
    let mut seen_marker = false;
    let flush =
        |current: &mut String, at: (usize, usize), chunks: &mut Vec<Chunk>, is_doc: bool| {
            if is_doc {
                chunks.push(Chunk {
                    source: source.to_owned(),
                    index: chunks.len() + 1,
                    line: at.0,
                    column: at.1,
                    text: std::mem::take(current),
                });
            } else {
                current.clear();
            }
        };
    for (n, line) in text.split_inclusive('\n').enumerate() {
        let bare = line.trim_end_matches(['\n', '\r']);
        let rest = if bare == "---" {
            Some("")
        } else {
            bare.strip_prefix("--- ")
        };
        if let Some(rest) = rest {
            let is_doc = seen_marker || has_content(&current);
            flush(&mut current, (start, column), &mut chunks, is_doc);
            seen_marker = true;
            start = n + 1;
            column = if rest.is_empty() { 0 } else { 4 };
            current.push_str(rest);
            current.push('\n');
        } else {
            current.push_str(line);
        }
    }
    let is_doc = seen_marker || has_content(&current);
    flush(&mut current, (start, column), &mut chunks, is_doc);
    chunks
}

fn has_content(text: &str) -> bool {
    text.lines().any(|l| {
        let t = l.trim();
        !t.is_empty() && !t.starts_with('#')
    })
}

/// Parses one document; an empty one (`---` with nothing after it, as helm prints between
/// templates) yields nothing.
pub fn parse_chunk(chunk: &Chunk) -> (Vec<Document>, Vec<InputError>) {
    let mut docs = Vec::new();
    let mut errors = Vec::new();
    match yaml::parse(&chunk.text) {
        Ok((v, mut positions)) => {
            positions.shift(chunk.line - 1, chunk.column);
            let parsed = Parsed {
                source: &chunk.source,
                index: chunk.index,
                positions: Arc::new(positions),
            };
            push(&parsed, v, &mut docs, &mut errors)
        }
        Err(e) => errors.push(InputError {
            source: chunk.source.clone(),
            message: format!(
                "document {}: invalid YAML: {e} (the document starts at line {})",
                chunk.index, chunk.line
            ),
        }),
    }
    (docs, errors)
}

/// Splits `text` into documents: a JSON stream when it starts like JSON, else YAML.
pub fn parse(source: &str, text: &str) -> (Vec<Document>, Vec<InputError>) {
    let mut docs = Vec::new();
    let mut errors = Vec::new();
    if is_json(text) {
        let mut stream = serde_json::Deserializer::from_str(text).into_iter::<Value>();
        let mut i = 0;
        let mut start = 0;
        while let Some(value) = stream.next() {
            i += 1;
            let end = stream.byte_offset();
            match value {
                Ok(v) => {
                    let parsed = Parsed {
                        source,
                        index: i,
                        positions: Arc::new(json_positions(text, start, end)),
                    };
                    push(&parsed, v, &mut docs, &mut errors);
                    start = end;
                }
                Err(e) => {
                    errors.push(InputError {
                        source: source.into(),
                        message: format!("document {i}: invalid JSON: {e}"),
                    });
                    break;
                }
            }
        }
    } else {
        for chunk in split_yaml(source, text) {
            let (d, e) = parse_chunk(&chunk);
            docs.extend(d);
            errors.extend(e);
        }
    }
    (docs, errors)
}

/// Where the JSON document at `text[start..end]` has its nodes: JSON is YAML, so the YAML
/// reader finds them; the values themselves come from serde_json.
fn json_positions(text: &str, start: usize, end: usize) -> Positions {
    let Some(slice) = text.get(start..end) else {
        return Positions::default();
    };
    let skipped = slice.len() - slice.trim_start().len();
    let Some(before) = text.get(..start + skipped) else {
        return Positions::default();
    };
    let line = before.matches('\n').count();
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count());
    match yaml::parse(slice.trim_start()) {
        Ok((_, mut positions)) => {
            positions.shift(line, column);
            positions
        }
        Err(_) => Positions::default(),
    }
}

/// A parsed document's source, number and positions, before `List` items are unpacked.
struct Parsed<'s> {
    source: &'s str,
    index: usize,
    positions: Arc<Positions>,
}

fn push(parsed: &Parsed<'_>, value: Value, docs: &mut Vec<Document>, errors: &mut Vec<InputError>) {
    let (source, index) = (parsed.source, parsed.index);
    match value {
        // `---` with nothing after it, as helm prints between templates.
        Value::Null => {}
        Value::Object(ref map) => {
            let kind = map.get("kind").and_then(Value::as_str).unwrap_or("");
            if kind.ends_with("List") && map.get("items").is_some_and(Value::is_array) {
                if let Some(Value::Array(items)) = map.get("items") {
                    for (i, item) in items.iter().enumerate() {
                        if item.is_object() {
                            docs.push(Document {
                                source: source.into(),
                                index,
                                item: Some(i),
                                value: item.clone(),
                                positions: parsed.positions.clone(),
                            });
                        } else {
                            errors.push(InputError {
                                source: source.into(),
                                message: format!("document {index}: items[{i}] is not an object"),
                            });
                        }
                    }
                }
            } else {
                docs.push(Document {
                    source: source.into(),
                    index,
                    item: None,
                    value,
                    positions: parsed.positions.clone(),
                });
            }
        }
        other => errors.push(InputError {
            source: source.into(),
            message: format!(
                "document {index}: a Kubernetes manifest must be an object, found {}",
                image_digest_policy::json::type_name(&other)
            ),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yaml_streams_lists_and_blank_documents() {
        let text = "---\n# comment only\n---\napiVersion: v1\nkind: Pod\nmetadata: {name: a}\n---\napiVersion: v1\nkind: List\nitems:\n- {apiVersion: v1, kind: Pod, metadata: {name: b}}\n- {apiVersion: apps/v1, kind: Deployment, metadata: {name: c}}\n";
        let (docs, errors) = parse("x.yaml", text);
        assert!(errors.is_empty(), "{errors:?}");
        let locations: Vec<String> = docs.iter().map(Document::location).collect();
        assert_eq!(
            locations,
            ["x.yaml#2", "x.yaml#3.items[0]", "x.yaml#3.items[1]"]
        );
    }

    #[test]
    fn markers_with_content_and_preambles() {
        let chunks = split_yaml("x", "# preamble\n\n--- {kind: Pod}\n---\nkind: Job\n");
        let got: Vec<(usize, usize, usize, &str)> = chunks
            .iter()
            .map(|c| (c.index, c.line, c.column, c.text.as_str()))
            .collect();
        assert_eq!(
            got,
            [(1, 3, 4, "{kind: Pod}\n"), (2, 4, 0, "\nkind: Job\n")]
        );
        assert_eq!(split_yaml("x", "kind: Pod\n").len(), 1);
        assert_eq!(split_yaml("x", "").len(), 0);
    }

    #[test]
    fn json_streams() {
        let (docs, errors) = parse("x.json", "{\"kind\": \"Pod\"}\n{\"kind\": \"Job\"}");
        assert!(errors.is_empty());
        assert_eq!(docs.len(), 2);
    }

    #[test]
    fn bad_input_names_the_document() {
        let (docs, errors) = parse(
            "x.yaml",
            "kind: Pod\n---\n- just\n- a list\n---\nkind: [unclosed\n",
        );
        assert_eq!(docs.len(), 1);
        assert_eq!(errors.len(), 2, "{errors:?}");
        assert!(errors[0].to_string().starts_with(
            "x.yaml: document 2: a Kubernetes manifest must be an object, found a list"
        ));
        assert!(
            errors[1]
                .to_string()
                .starts_with("x.yaml: document 3: invalid YAML"),
            "{}",
            errors[1]
        );
        let (_, errors) = parse("x.json", "{\"kind\": ");
        assert!(errors[0].to_string().contains("document 1: invalid JSON"));
        let (_, errors) = parse("x.yaml", "42\n");
        assert!(errors[0].to_string().contains("found a number"));
    }
}
