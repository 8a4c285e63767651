//! The small path syntax of `customKinds`: dotted keys, `[N]` for one list item and `[*]` for
//! every item, as in `spec.template.spec` or `spec.templates[*].script.image`, and `..key` for
//! `key` at any depth below (Tekton nests pipelines in pipelines to any depth:
//! `spec..taskSpec.steps[*].image` reaches every embedded task's steps). Keys are
//! letters, digits, `_` and `-`. A path is matched against a parsed object and yields every
//! node it reaches with its concrete field path (`spec.templates[2].script.image`) and JSON
//! pointer, so findings and pins name the exact place.

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
    /// Reads a path such as `spec.templates[*].container`.
    pub fn parse(text: &str) -> Result<FieldPath, PathError> {
        if text.is_empty() {
            return Err(PathError::Empty);
        }
        let mut segments = Vec::new();
        let parts: Vec<&str> = text.split('.').collect();
        let mut descendant = false;
        for (n, part) in parts.iter().enumerate() {
            let (key, mut rest) = part.split_at(part.find('[').unwrap_or(part.len()));
            // `a..b`: one empty part between two keys marks `b` as a descendant.
            if part.is_empty() && n > 0 && n + 1 < parts.len() && !descendant {
                descendant = true;
                continue;
            }
            if key.is_empty() {
                return Err(if segments.is_empty() && !rest.is_empty() {
                    PathError::StartsWithIndex
                } else {
                    PathError::EmptyKey
                });
            }
            if let Some(c) = key
                .chars()
                .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '-')))
            {
                return Err(PathError::BadKeyChar(c));
            }
            segments.push(if std::mem::take(&mut descendant) {
                Segment::Descendant(key.to_owned())
            } else {
                Segment::Key(key.to_owned())
            });
            while let Some(inner) = rest.strip_prefix('[') {
                let (index, after) = inner.split_once(']').ok_or(PathError::Unclosed)?;
                segments.push(match index {
                    "*" => Segment::Every,
                    i => Segment::Index(i.parse().map_err(|_| PathError::BadIndex(i.to_owned()))?),
                });
                rest = after;
            }
            if !rest.is_empty() {
                return Err(PathError::BadIndex(rest.to_owned()));
            }
        }
        Ok(FieldPath { segments })
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

fn step<'v>(m: Match<'v>, segment: &Segment, out: &mut Vec<Match<'v>>) {
    match (segment, m.value) {
        (Segment::Key(k), Value::Object(map)) => {
            if let Some(v) = map.get(k) {
                let sep = if m.path.is_empty() { "" } else { "." };
                out.push(Match {
                    path: format!("{}{sep}{k}", m.path),
                    pointer: format!("{}/{}", m.pointer, k),
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
                Step::Key(k) => {
                    if !path.is_empty() {
                        path.push('.');
                    }
                    path.push_str(k);
                    pointer.push('/');
                    pointer.push_str(k);
                }
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
