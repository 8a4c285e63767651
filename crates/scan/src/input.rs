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
    /// For an item unpacked from a `List` (or from a `List` inside one), its position in
    /// `items` at each level, outermost first.
    pub items: Vec<usize>,
    /// The document as JSON.
    pub value: Value,
    /// How many of `items` the positions already start inside: 0 when they are the whole
    /// document's, 1 for an item of a JSON List read item by item.
    pub local_depth: usize,
    /// Where every node of the whole document (the `List`, for an item) is in the file.
    pub positions: Arc<Positions>,
}

impl Document {
    /// Where the node at `pointer` (relative to this document or item) is in the file.
    pub fn position(&self, pointer: &str) -> Option<Pos> {
        let inner = self.items.get(self.local_depth..).unwrap_or_default();
        if inner.is_empty() {
            return self.positions.get(pointer);
        }
        let prefix: String = inner.iter().map(|i| format!("/items/{i}")).collect();
        self.positions.get(&format!("{prefix}{pointer}"))
    }

    /// Where the node at `pointer` is, else its closest ancestor in the document (a field that
    /// is not there, such as an operator's image left to its default, is placed at its block).
    pub fn closest(&self, pointer: &str) -> Pos {
        let mut at = pointer;
        loop {
            if let Some(pos) = self.position(at) {
                return pos;
            }
            match at.rsplit_once('/') {
                Some((parent, _)) => at = parent,
                None => return self.start(),
            }
        }
    }

    /// Where the document (or item) starts.
    pub fn start(&self) -> Pos {
        self.position("").unwrap_or(Pos { line: 1, column: 1 })
    }

    /// `file.yaml#3` or `file.yaml#3.items[1]`
    pub fn location(&self) -> String {
        let items: String = self.items.iter().map(|i| format!(".items[{i}]")).collect();
        format!("{}#{}{items}", self.source, self.index)
    }
}

/// A problem with the input itself, named by source and document or line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputError {
    /// The file (and document) it is about.
    pub source: String,
    /// What is wrong, and what to do.
    pub message: String,
    /// The line it is at in the file, when known (SARIF and GitHub place it there).
    pub line: Option<usize>,
}

impl std::error::Error for InputError {}

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

/// How much of one file is read by default (`--max-file-size`): far more than any manifest
/// stream (a 50,000-pod `kubectl get pods -o json` is about 92 MB), far less than memory.
pub const MAX_FILE_SIZE: u64 = 512 * 1024 * 1024;

/// Reads one source's text, at most [`MAX_FILE_SIZE`] bytes.
pub fn read(path: &Path) -> Result<String, InputError> {
    read_limited(path, MAX_FILE_SIZE)
}

/// Reads one source's text, at most `max` bytes: a larger one (`/dev/zero` named by mistake,
/// a dump far larger than any manifest) is an input error, never read until memory runs out.
pub fn read_limited(path: &Path, max: u64) -> Result<String, InputError> {
    read_text(path, max).map_err(|e| InputError {
        source: source_name(path),
        message: e,
        line: None,
    })
}

fn read_text(path: &Path, max: u64) -> Result<String, String> {
    let mut bytes = Vec::new();
    let read = if path.as_os_str() == "-" {
        std::io::stdin()
            .take(max.saturating_add(1))
            .read_to_end(&mut bytes)
            .map_err(|e| format!("cannot read stdin: {e}"))?
    } else {
        std::fs::File::open(path)
            .and_then(|f| f.take(max.saturating_add(1)).read_to_end(&mut bytes))
            .map_err(|e| format!("cannot read the file: {e}"))?
    };
    if read as u64 > max {
        return Err(format!(
            "larger than {max} bytes (--max-file-size): not read; name the manifest files themselves, or raise --max-file-size"
        ));
    }
    String::from_utf8(bytes).map_err(|e| {
        format!(
            "not UTF-8 text (byte {}): manifests are UTF-8 YAML or JSON",
            e.utf8_error().valid_up_to()
        )
    })
}

/// Whether `text` starts like a JSON stream. JSON is YAML, so this only picks the faster
/// reader: see [`json_documents`].
pub fn is_json(text: &str) -> bool {
    let t = text.trim_start();
    t.starts_with('{') || t.starts_with('[')
}

/// The documents of `text` read as a JSON stream, when that is what it is: it starts like JSON
/// and every document parses as JSON, or its name ends in `.json` (whose errors are then JSON
/// errors). `None` for YAML, flow style included (`{apiVersion: v1, kind: Pod}` in a `.yaml`).
pub fn json_documents(source: &str, text: &str) -> Option<(Vec<Document>, Vec<InputError>)> {
    if !is_json(text) {
        return None;
    }
    let (docs, errors) = parse_json(source, text);
    (errors.is_empty() || source.ends_with(".json")).then_some((docs, errors))
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
                local_depth: 0,
            };
            push(&parsed, v, &mut docs, &mut errors)
        }
        Err(e) => errors.push(InputError {
            source: chunk.source.clone(),
            message: format!(
                "document {}: invalid YAML: {e} (the document starts at line {})",
                chunk.index, chunk.line
            ),
            line: Some(
                e.line
                    .map_or(chunk.line, |l| chunk.line + l.saturating_sub(1)),
            ),
        }),
    }
    (docs, errors)
}

/// Splits `text` into documents: a JSON stream when it is one ([`json_documents`]), else YAML.
pub fn parse(source: &str, text: &str) -> (Vec<Document>, Vec<InputError>) {
    if let Some(parsed) = json_documents(source, text) {
        return parsed;
    }
    let mut docs = Vec::new();
    let mut errors = Vec::new();
    for chunk in split_yaml(source, text) {
        let (d, e) = parse_chunk(&chunk);
        docs.extend(d);
        errors.extend(e);
    }
    (docs, errors)
}

fn parse_json(source: &str, text: &str) -> (Vec<Document>, Vec<InputError>) {
    let mut docs = Vec::new();
    let mut errors = Vec::new();
    {
        let mut stream = serde_json::Deserializer::from_str(text).into_iter::<Value>();
        let mut i = 0;
        let mut start = 0;
        let mut cursor = Cursor::default();
        while let Some(value) = stream.next() {
            i += 1;
            let end = stream.byte_offset();
            match value {
                Ok(v) => {
                    let parsed = Parsed {
                        source,
                        index: i,
                        positions: Arc::new(cursor.positions(text, start, end)),
                        local_depth: 0,
                    };
                    push(&parsed, v, &mut docs, &mut errors);
                    start = end;
                }
                Err(e) => {
                    errors.push(InputError {
                        source: source.into(),
                        message: format!("document {i}: invalid JSON: {e}"),
                        line: None,
                    });
                    break;
                }
            }
        }
    }
    (docs, errors)
}

/// A JSON `List` (`kubectl get pods -A -o json`) read item by item: the items as slices of
/// `text` (no value is built for the whole list), each parsed when its batch comes. `None`
/// when `text` is not one JSON object with an `items` array (then read it with [`parse`]).
pub struct JsonItems<'t> {
    source: String,
    text: &'t str,
    items: Vec<&'t serde_json::value::RawValue>,
    /// For a typed list (`PodList`), the kind and apiVersion its items lack.
    item_kind: Option<ItemKind>,
    cursor: Cursor,
}

impl<'t> JsonItems<'t> {
    /// Reads the list's frame; its items stay text until [`JsonItems::batch`].
    pub fn new(source: &str, text: &'t str) -> Option<JsonItems<'t>> {
        #[derive(serde::Deserialize)]
        struct Frame<'a> {
            #[serde(default)]
            kind: Option<String>,
            #[serde(default, rename = "apiVersion")]
            api_version: Option<Value>,
            #[serde(borrow)]
            items: Vec<&'a serde_json::value::RawValue>,
        }
        if !text.trim_start().starts_with('{') {
            return None;
        }
        let frame: Frame<'t> = serde_json::from_str(text).ok()?;
        // Only a list is read item by item (an object of another kind with `items` is one
        // document).
        let kind = frame.kind.filter(|k| k.ends_with("List"))?;
        Some(JsonItems {
            source: source.to_owned(),
            text,
            items: frame.items,
            item_kind: ItemKind::of(&kind, frame.api_version.as_ref()),
            cursor: Cursor::default(),
        })
    }

    /// How many items the list holds.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// Whether the list is empty.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// The documents of items `range` (batches taken in order), with their positions in the
    /// file.
    pub fn batch(&mut self, range: std::ops::Range<usize>) -> (Vec<Document>, Vec<InputError>) {
        let mut docs = Vec::new();
        let mut errors = Vec::new();
        for i in range {
            let Some(raw) = self.items.get(i) else { break };
            let slice = raw.get();
            let start = (slice.as_ptr() as usize).saturating_sub(self.text.as_ptr() as usize);
            match serde_json::from_str::<Value>(slice) {
                Ok(Value::Object(mut item)) => {
                    if let Some(k) = &self.item_kind {
                        k.fill(&mut item);
                    }
                    let parsed = Parsed {
                        source: &self.source,
                        index: 1,
                        positions: Arc::new(self.cursor.positions(
                            self.text,
                            start,
                            start + slice.len(),
                        )),
                        local_depth: 1,
                    };
                    // A List among the items is unpacked as kubectl does.
                    unpack(&parsed, item, &mut vec![i], &mut docs, &mut errors);
                }
                _ => errors.push(InputError {
                    source: self.source.clone(),
                    message: format!("document 1: items[{i}] is not an object"),
                    line: None,
                }),
            }
        }
        (docs, errors)
    }
}

/// Where the JSON document at `text[start..end]` has its nodes: JSON is YAML, so the YAML
/// reader finds them; the values themselves come from serde_json.
/// Where a reader is in a text, by line: positions of documents taken in order cost one pass
/// over the text in all, not one pass from the start per document.
#[derive(Default)]
struct Cursor {
    offset: usize,
    lines: usize,
    line_start: usize,
}

impl Cursor {
    /// The 0-based line and the column (in characters) of byte `pos`, at or after the last.
    fn at(&mut self, text: &str, pos: usize) -> Option<(usize, usize)> {
        if pos < self.offset {
            *self = Cursor::default();
        }
        let seg = text.get(self.offset..pos)?;
        for (i, b) in seg.bytes().enumerate() {
            if b == b'\n' {
                self.lines += 1;
                self.line_start = self.offset + i + 1;
            }
        }
        self.offset = pos;
        Some((self.lines, text.get(self.line_start..pos)?.chars().count()))
    }

    /// Where the JSON document at `text[start..end]` has its nodes: JSON is YAML, so the YAML
    /// reader finds them; the values themselves come from serde_json.
    fn positions(&mut self, text: &str, start: usize, end: usize) -> Positions {
        let Some(slice) = text.get(start..end) else {
            return Positions::default();
        };
        let skipped = slice.len() - slice.trim_start().len();
        let Some((line, column)) = self.at(text, start + skipped) else {
            return Positions::default();
        };
        match yaml::parse(slice.trim_start()) {
            Ok((_, mut positions)) => {
                positions.shift(line, column);
                positions
            }
            Err(_) => Positions::default(),
        }
    }
}

/// A parsed document's source, number and positions, before `List` items are unpacked.
struct Parsed<'s> {
    source: &'s str,
    index: usize,
    positions: Arc<Positions>,
    /// See [`Document::local_depth`].
    local_depth: usize,
}

fn push(parsed: &Parsed<'_>, value: Value, docs: &mut Vec<Document>, errors: &mut Vec<InputError>) {
    match value {
        // `---` with nothing after it, as helm prints between templates.
        Value::Null => {}
        Value::Object(map) => unpack(parsed, map, &mut Vec::new(), docs, errors),
        other => errors.push(InputError {
            source: parsed.source.into(),
            message: format!(
                "document {}: a Kubernetes manifest must be an object, found {}",
                parsed.index,
                image_digest_policy::json::type_name(&other)
            ),
            line: None,
        }),
    }
}

/// What a typed list (`DeploymentList`, as the API returns it) gives its items, which carry no
/// `kind`/`apiVersion` of their own: the kind without `List`, and the list's apiVersion.
struct ItemKind {
    kind: String,
    api_version: Option<Value>,
}

impl ItemKind {
    /// For a list of `kind` (`None` for a plain `List`).
    fn of(kind: &str, api_version: Option<&Value>) -> Option<ItemKind> {
        let item = kind.strip_suffix("List").filter(|k| !k.is_empty())?;
        Some(ItemKind {
            kind: item.to_owned(),
            api_version: api_version.cloned(),
        })
    }

    /// Fills in what `item` lacks.
    fn fill(&self, item: &mut serde_json::Map<String, Value>) {
        item.entry("kind")
            .or_insert_with(|| Value::String(self.kind.clone()));
        if let Some(v) = &self.api_version {
            item.entry("apiVersion").or_insert_with(|| v.clone());
        }
    }
}

/// How deep `List`s may nest: the API server refuses far less; this only stops a hostile
/// input from recursing without end.
const MAX_LIST_DEPTH: usize = 32;

/// A document, or the items of a `List` as kubectl reads them: a `List` inside a `List`
/// unpacked too, and the items of a typed list (`DeploymentList`, as the API returns them,
/// items without `kind`/`apiVersion`) given the list's kind and apiVersion.
fn unpack(
    parsed: &Parsed<'_>,
    mut map: serde_json::Map<String, Value>,
    at: &mut Vec<usize>,
    docs: &mut Vec<Document>,
    errors: &mut Vec<InputError>,
) {
    let (source, index) = (parsed.source, parsed.index);
    let kind = map
        .get("kind")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_owned();
    let is_list = kind.ends_with("List") && map.get("items").is_some_and(Value::is_array);
    if !is_list || at.len() >= MAX_LIST_DEPTH {
        if is_list {
            errors.push(InputError {
                source: source.into(),
                message: format!(
                    "document {index}: Lists nested deeper than {MAX_LIST_DEPTH}: not read"
                ),
                line: None,
            });
            return;
        }
        docs.push(Document {
            source: source.into(),
            index,
            items: at.clone(),
            value: Value::Object(map),
            positions: parsed.positions.clone(),
            local_depth: parsed.local_depth,
        });
        return;
    }
    let item_kind = ItemKind::of(&kind, map.get("apiVersion"));
    let Some(Value::Array(items)) = map.remove("items") else {
        return;
    };
    for (i, item) in items.into_iter().enumerate() {
        at.push(i);
        match item {
            Value::Object(mut item) => {
                if let Some(k) = &item_kind {
                    k.fill(&mut item);
                }
                unpack(parsed, item, at, docs, errors);
            }
            _ => {
                let path: String = at
                    .iter()
                    .map(|i| format!("items[{i}]"))
                    .collect::<Vec<_>>()
                    .join(".");
                errors.push(InputError {
                    source: source.into(),
                    message: format!("document {index}: {path} is not an object"),
                    line: None,
                });
            }
        }
        at.pop();
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
    fn lists_in_lists_and_typed_lists_are_read_as_kubectl_reads_them() {
        let text = "apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: List\n  items:\n  - {apiVersion: v1, kind: Pod, metadata: {name: a}}\n- apiVersion: apps/v1\n  kind: DeploymentList\n  items:\n  - metadata: {name: b}\n";
        let (docs, errors) = parse("x.yaml", text);
        assert!(errors.is_empty(), "{errors:?}");
        let got: Vec<(String, &str, &str, Option<Pos>)> = docs
            .iter()
            .map(|d| {
                (
                    d.location(),
                    d.value["apiVersion"].as_str().unwrap_or(""),
                    d.value["kind"].as_str().unwrap_or(""),
                    d.position("/metadata/name"),
                )
            })
            .collect();
        assert_eq!(
            got,
            [
                (
                    "x.yaml#1.items[0].items[0]".to_owned(),
                    "v1",
                    "Pod",
                    Some(Pos {
                        line: 7,
                        column: 50
                    })
                ),
                (
                    "x.yaml#1.items[1].items[0]".to_owned(),
                    "apps/v1",
                    "Deployment",
                    Some(Pos {
                        line: 11,
                        column: 22
                    })
                ),
            ]
        );
    }

    #[test]
    fn flow_style_yaml_that_starts_like_json_is_yaml() {
        let (docs, errors) = parse(
            "x.yaml",
            "{apiVersion: v1, kind: Pod, metadata: {name: a}}\n",
        );
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(docs.len(), 1);
        let (_, errors) = parse("x.json", "{apiVersion: v1}");
        assert!(errors[0].message.contains("invalid JSON"), "{errors:?}");
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
