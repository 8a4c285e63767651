//! The small path syntax of `customKinds`: dotted keys, `[N]` for one list item and `[*]` for
//! every item, as in `spec.template.spec` or `spec.templates[*].script.image`, and `..key` for
//! `key` at any depth below (Tekton nests pipelines in pipelines to any depth:
//! `spec..taskSpec.steps[*].image` reaches every embedded task's steps). Keys are
//! letters, digits, `_` and `-`. A path is matched against a parsed object and yields every
//! node it reaches with its concrete field path (`spec.templates[2].script.image`) and JSON
//! pointer, so findings and pins name the exact place. A key holding any other character
//! (an annotation's `example.com/sidecar-image`) is quoted: `annotations["example.com/x"]`.

use serde_json::Value;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    Key(String),
    /// `..key`: `key` of the node itself or of any object below it.
    Descendant(String),
    Index(usize),
    Every,
}

/// A parsed path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldPath {
    segments: Vec<Segment>,
}

/// Why a path is not one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PathError {
    /// The path is empty.
    Empty,
    /// A key between dots is empty.
    EmptyKey,
    /// A key holds a character keys cannot.
    BadKeyChar(char),
    /// An index is neither a number nor `*`.
    BadIndex(String),
    /// A `[` is not closed.
    Unclosed,
    /// The path starts with an index rather than a key.
    StartsWithIndex,
}

impl std::fmt::Display for PathError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PathError::Empty => f.write_str("the path is empty"),
            PathError::EmptyKey => f.write_str("a key between dots is empty"),
            PathError::BadKeyChar(c) => write!(
                f,
                "`{}` cannot be in a key (keys are letters, digits, `_` and `-`)",
                c.escape_debug()
            ),
            PathError::BadIndex(i) => {
                write!(f, "`[{i}]` must be `[*]` or a list index such as `[0]`")
            }
            PathError::Unclosed => f.write_str("a `[` is not closed"),
            PathError::StartsWithIndex => f.write_str("a path starts with a key, not `[…]`"),
        }
    }
}

/// One node a path reached.
#[derive(Debug, Clone, PartialEq)]
pub struct Match<'v> {
    /// `spec.templates[2].script.image`
    pub path: String,
    /// `/spec/templates/2/script/image`
    pub pointer: String,
    /// The value there.
    pub value: &'v Value,
}

impl FieldPath {
    /// Reads a path such as `spec.templates[*].container`, or
    /// `metadata.annotations["example.com/sidecar-image"]` for a key holding `.` or `/`.
    pub fn parse(text: &str) -> Result<FieldPath, PathError> {
        if text.is_empty() {
            return Err(PathError::Empty);
        }
        let mut segments = Vec::new();
        let mut rest = text;
        let mut descendant = false;
        loop {
            let end = rest.find(['.', '[']).unwrap_or(rest.len());
            let (key, mut after) = rest.split_at(end);
            let quoted_next = after.starts_with("[\"");
            if key.is_empty() {
                // A quoted key may start the path or follow `..`; an index may not start it.
                if !(quoted_next && (segments.is_empty() || descendant)) {
                    return Err(if segments.is_empty() && after.starts_with('[') {
                        PathError::StartsWithIndex
                    } else {
                        PathError::EmptyKey
                    });
                }
            } else {
                if let Some(c) = key
                    .chars()
                    .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '-')))
                {
                    return Err(PathError::BadKeyChar(c));
                }
                segments.push(key_segment(key, std::mem::take(&mut descendant)));
            }
            while let Some(inner) = after.strip_prefix('[') {
                if let Some(quoted) = inner.strip_prefix('"') {
                    let (key, next) = quoted.split_once("\"]").ok_or(PathError::Unclosed)?;
                    if key.is_empty() {
                        return Err(PathError::EmptyKey);
                    }
                    if let Some(c) = key.chars().find(|c| matches!(c, '"' | '\\')) {
                        return Err(PathError::BadKeyChar(c));
                    }
                    segments.push(key_segment(key, std::mem::take(&mut descendant)));
                    after = next;
                    continue;
                }
                let (index, next) = inner.split_once(']').ok_or(PathError::Unclosed)?;
                segments.push(match index {
                    "*" => Segment::Every,
                    i => Segment::Index(i.parse().map_err(|_| PathError::BadIndex(i.to_owned()))?),
                });
                after = next;
            }
            if after.is_empty() {
                return Ok(FieldPath { segments });
            }
            rest = if let Some(r) = after.strip_prefix("..") {
                descendant = true;
                r
            } else if let Some(r) = after.strip_prefix('.') {
                r
            } else {
                return Err(PathError::BadIndex(after.to_owned()));
            };
            if rest.is_empty() {
                return Err(PathError::EmptyKey);
            }
        }
    }

    /// The last key of the path, when it ends in one (where a missing field is added).
    pub fn last_key(&self) -> Option<&str> {
        match self.segments.last() {
            Some(Segment::Key(k)) => Some(k),
            _ => None,
        }
    }

    /// A path of one key.
    pub fn key(key: &str) -> FieldPath {
        FieldPath {
            segments: vec![Segment::Key(key.to_owned())],
        }
    }

    /// Whether the path names one place: keys and list indexes, no `[*]` or `..`.
    pub fn is_plain(&self) -> bool {
        self.segments
            .iter()
            .all(|s| matches!(s, Segment::Key(_) | Segment::Index(_)))
    }

    /// The field path and JSON pointer of a plain path below `path` / `pointer`, whether or
    /// not the object has it (where `pin` writes a digest that is not there yet); `None` for a
    /// path that is not plain.
    pub fn place(&self, path: &str, pointer: &str) -> Option<(String, String)> {
        let (mut path, mut pointer) = (path.to_owned(), pointer.to_owned());
        for segment in &self.segments {
            match segment {
                Segment::Key(k) => push_key(&mut path, &mut pointer, k),
                Segment::Index(i) => {
                    path.push_str(&format!("[{i}]"));
                    pointer.push_str(&format!("/{i}"));
                }
                _ => return None,
            }
        }
        Some((path, pointer))
    }

    /// The node a plain path reaches below `root`, if it is there.
    pub fn first<'v>(&self, root: &'v Value) -> Option<&'v Value> {
        walk(&self.segments, root)
    }

    /// The node that holds the path's last field (`spec.kafka` of `spec.kafka.image`), if it
    /// is there; `None` for a path of one segment.
    pub fn parent_node<'v>(&self, root: &'v Value) -> Option<&'v Value> {
        match self.segments.split_last() {
            Some((_, rest)) if !rest.is_empty() => walk(rest, root),
            _ => None,
        }
    }

    /// Every node of `root` the path reaches, in document order.
    pub fn matches<'v>(&self, root: &'v Value) -> Vec<Match<'v>> {
        let mut current = vec![Match {
            path: String::new(),
            pointer: String::new(),
            value: root,
        }];
        for segment in &self.segments {
            let mut next = Vec::new();
            for m in current {
                step(m, segment, &mut next);
            }
            current = next;
        }
        current
    }
}

/// The node plain `segments` reach below `root` (keys and indexes; anything else reaches
/// nothing).
fn walk<'v>(segments: &[Segment], root: &'v Value) -> Option<&'v Value> {
    let mut at = root;
    for segment in segments {
        at = match (segment, at) {
            (Segment::Key(k), Value::Object(map)) => map.get(k)?,
            (Segment::Index(i), Value::Array(items)) => items.get(*i)?,
            _ => return None,
        };
    }
    Some(at)
}

fn key_segment(key: &str, descendant: bool) -> Segment {
    if descendant {
        Segment::Descendant(key.to_owned())
    } else {
        Segment::Key(key.to_owned())
    }
}

/// Whether a key is written bare in a path (`spec`), or must be quoted
/// (`["example.com/sidecar-image"]`).
fn is_bare(key: &str) -> bool {
    !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-'))
}

/// Appends `key` to a field path (`.key`, or `["key"]` when it holds other characters) and to
/// a JSON pointer (`/key`, with `~` and `/` escaped as RFC 6901 says).
pub fn push_key(path: &mut String, pointer: &mut String, key: &str) {
    if is_bare(key) {
        if !path.is_empty() {
            path.push('.');
        }
        path.push_str(key);
    } else {
        path.push_str("[\"");
        path.push_str(key);
        path.push_str("\"]");
    }
    pointer.push('/');
    let mut last = 0;
    for (i, m) in key.match_indices(['~', '/']) {
        pointer.push_str(key.get(last..i).unwrap_or_default());
        pointer.push_str(if m == "~" { "~0" } else { "~1" });
        last = i + 1;
    }
    pointer.push_str(key.get(last..).unwrap_or_default());
}

fn step<'v>(m: Match<'v>, segment: &Segment, out: &mut Vec<Match<'v>>) {
    match (segment, m.value) {
        (Segment::Key(k), Value::Object(map)) => {
            if let Some(v) = map.get(k) {
                let (mut path, mut pointer) = (m.path, m.pointer);
                push_key(&mut path, &mut pointer, k);
                out.push(Match {
                    path,
                    pointer,
                    value: v,
                });
            }
        }
        (Segment::Index(i), Value::Array(items)) => {
            if let Some(v) = items.get(*i) {
                out.push(item(&m, *i, v));
            }
        }
        (Segment::Every, Value::Array(items)) => {
            out.extend(items.iter().enumerate().map(|(i, v)| item(&m, i, v)));
        }
        (Segment::Descendant(k), _) => descendants(m, k, out),
        _ => {}
    }
}

/// Every `key` of `m`'s node or of any object below it: depth first, list items in order and
/// an object's keys in the parsed map's (sorted) order, so the order is the same for every
/// reader of the same object. A stack, not recursion: the depth of a document is bounded by
/// its parser, not by this walk. Nodes are kept as (parent, step) in an arena and only the
/// matches get their path and pointer written, so a walk over a large spec allocates one
/// string pair per match, not per node.
fn descendants<'v>(m: Match<'v>, key: &str, out: &mut Vec<Match<'v>>) {
    enum Step<'v> {
        Key(&'v str),
        Index(usize),
    }
    // (parent, the step from it, the value); index 0 is `m` itself.
    let mut arena: Vec<(usize, Option<Step<'v>>, &'v Value)> = vec![(0, None, m.value)];
    let mut stack = vec![0];
    let mut found = Vec::new();
    while let Some(node) = stack.pop() {
        let Some(&(_, _, value)) = arena.get(node) else {
            continue;
        };
        let first_child = arena.len();
        match value {
            Value::Object(map) => {
                for (k, v) in map {
                    if k == key {
                        found.push(arena.len());
                    }
                    arena.push((node, Some(Step::Key(k)), v));
                }
            }
            Value::Array(items) => {
                for (i, v) in items.iter().enumerate() {
                    arena.push((node, Some(Step::Index(i)), v));
                }
            }
            _ => {}
        }
        stack.extend((first_child..arena.len()).rev());
    }
    // A match's path and pointer: `m`'s, then the steps from it, walked up the arena.
    for at in found {
        let mut steps = Vec::new();
        let mut node = at;
        while let Some((parent, Some(step), _)) = arena.get(node) {
            steps.push(step);
            node = *parent;
        }
        let (mut path, mut pointer) = (m.path.clone(), m.pointer.clone());
        for step in steps.iter().rev() {
            match step {
                Step::Key(k) => push_key(&mut path, &mut pointer, k),
                Step::Index(i) => {
                    path.push_str(&format!("[{i}]"));
                    pointer.push_str(&format!("/{i}"));
                }
            }
        }
        if let Some(&(_, _, value)) = arena.get(at) {
            out.push(Match {
                path,
                pointer,
                value,
            });
        }
    }
}

fn item<'v>(m: &Match<'v>, i: usize, v: &'v Value) -> Match<'v> {
    Match {
        path: format!("{}[{i}]", m.path),
        pointer: format!("{}/{i}", m.pointer),
        value: v,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn paths_parse_or_say_why_not() {
        assert!(FieldPath::parse("spec.template.spec").is_ok());
        assert!(FieldPath::parse("spec.templates[*].containerSet.containers[*].image").is_ok());
        assert!(FieldPath::parse("spec.tasks[0].taskSpec.steps[*].image").is_ok());
        let bad = [
            ("", PathError::Empty),
            ("spec...image", PathError::EmptyKey),
            ("..image", PathError::EmptyKey),
            ("spec..", PathError::EmptyKey),
            ("spec.image ", PathError::BadKeyChar(' ')),
            ("spec.steps[x].image", PathError::BadIndex("x".into())),
            ("spec.steps[*.image", PathError::Unclosed),
            ("[0].image", PathError::StartsWithIndex),
            ("spec.steps[0]x", PathError::BadIndex("x".into())),
        ];
        for (text, err) in bad {
            assert_eq!(FieldPath::parse(text), Err(err), "{text:?}");
        }
    }

    #[test]
    fn quoted_keys_hold_dots_and_slashes() {
        let v = json!({"metadata": {"annotations": {
            "example.com/sidecar-image": "x:1", "a.b~c": "y:1"
        }}});
        let cases = [
            (
                r#"metadata.annotations["example.com/sidecar-image"]"#,
                "/metadata/annotations/example.com~1sidecar-image",
            ),
            (
                r#"metadata.annotations["a.b~c"]"#,
                "/metadata/annotations/a.b~0c",
            ),
            (r#"metadata..["a.b~c"]"#, "/metadata/annotations/a.b~0c"),
        ];
        for (text, pointer) in cases {
            let p = FieldPath::parse(text).expect(text);
            let got = p.matches(&v);
            assert_eq!(got.len(), 1, "{text}");
            assert_eq!(got[0].pointer, pointer, "{text}");
            // The concrete path reads back as the same path.
            let back = FieldPath::parse(&got[0].path).expect("its own path parses");
            assert_eq!(back.matches(&v)[0].pointer, pointer, "{text}");
        }
        let bad = [
            (r#"metadata.annotations["x"#, PathError::Unclosed),
            (r#"metadata.annotations[""]"#, PathError::EmptyKey),
            (r#"metadata.["x"]"#, PathError::EmptyKey),
            (r#"metadata.annotations["a"b"]"#, PathError::BadKeyChar('"')),
        ];
        for (text, err) in bad {
            assert_eq!(FieldPath::parse(text), Err(err), "{text:?}");
        }
    }

    #[test]
    fn matches_name_their_concrete_places() {
        let v = json!({"spec": {"templates": [
            {"name": "a", "container": {"image": "x:1"}},
            {"name": "b", "script": {"image": "y:1"}},
            {"name": "c", "script": {"image": "z:1"}}
        ]}});
        let p = FieldPath::parse("spec.templates[*].script.image").expect("valid");
        let got: Vec<(String, String)> = p
            .matches(&v)
            .into_iter()
            .map(|m| (m.path, m.pointer))
            .collect();
        assert_eq!(
            got,
            [
                (
                    "spec.templates[1].script.image".to_owned(),
                    "/spec/templates/1/script/image".to_owned()
                ),
                (
                    "spec.templates[2].script.image".to_owned(),
                    "/spec/templates/2/script/image".to_owned()
                ),
            ]
        );
        let one = FieldPath::parse("spec.templates[0].container.image").expect("valid");
        assert_eq!(one.matches(&v).len(), 1);
        assert!(
            FieldPath::parse("spec.nothing[*].image")
                .expect("valid")
                .matches(&v)
                .is_empty()
        );
    }

    #[test]
    fn a_descendant_key_is_found_at_any_depth() {
        // Tekton: a Pipeline whose task runs a Pipeline whose task runs another, and a finally.
        let v = json!({"spec": {
            "tasks": [
                {"name": "a", "taskSpec": {"steps": [{"image": "a:1"}]}},
                {"name": "child", "pipelineSpec": {"tasks": [
                    {"name": "b", "taskSpec": {"steps": [{"image": "b:1"}]}},
                    {"name": "grandchild", "pipelineSpec": {"tasks": [
                        {"name": "c", "taskSpec": {"steps": [{"image": "c:1"}, {"image": "d:1"}]}}
                    ]}}
                ]}}
            ],
            "finally": [{"name": "e", "taskSpec": {"steps": [{"image": "e:1"}]}}]
        }});
        let p = FieldPath::parse("spec..taskSpec.steps[*].image").expect("valid");
        let got: Vec<(String, &Value)> = p
            .matches(&v)
            .into_iter()
            .map(|m| (m.path, m.value))
            .collect();
        assert_eq!(
            got,
            [
                ("spec.finally[0].taskSpec.steps[0].image".to_owned(), &json!("e:1")),
                ("spec.tasks[0].taskSpec.steps[0].image".to_owned(), &json!("a:1")),
                ("spec.tasks[1].pipelineSpec.tasks[0].taskSpec.steps[0].image".to_owned(), &json!("b:1")),
                ("spec.tasks[1].pipelineSpec.tasks[1].pipelineSpec.tasks[0].taskSpec.steps[0].image".to_owned(), &json!("c:1")),
                ("spec.tasks[1].pipelineSpec.tasks[1].pipelineSpec.tasks[0].taskSpec.steps[1].image".to_owned(), &json!("d:1")),
            ]
        );
        let pointer = &p.matches(&v)[3].pointer;
        assert_eq!(
            pointer,
            "/spec/tasks/1/pipelineSpec/tasks/1/pipelineSpec/tasks/0/taskSpec/steps/0/image"
        );
    }
}
