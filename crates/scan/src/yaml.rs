//! YAML documents as JSON values, with the line and column of every node.
//!
//! `serde-saphyr` reads the YAML (the YAML 1.2 core schema, anchors, merge keys); each node is
//! read as `Spanned`, so the checker can point a finding at the exact `image:` value instead of
//! "document 3". Positions are keyed by JSON pointer (`/spec/containers/0/image`), the same
//! paths the policy reports, so no second walk of the document is needed.

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};
use serde_saphyr::Spanned;
use std::collections::HashMap;
use std::fmt;

/// A 1-based line and column (in characters) in the source file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
pub struct Pos {
    /// 1-based line.
    pub line: usize,
    /// 1-based column.
    pub column: usize,
}

/// Where each node of a document is, by JSON pointer.
#[derive(Debug, Clone, Default)]
pub struct Positions(HashMap<String, Pos>);

impl Positions {
    /// Where the node at `pointer` starts.
    pub fn get(&self, pointer: &str) -> Option<Pos> {
        self.0.get(pointer).copied()
    }

    /// The positions under `prefix` (a JSON pointer), re-rooted there: a block of a document
    /// (a kustomization's `valuesInline`) read as a document of its own, at its lines.
    pub fn subtree(&self, prefix: &str) -> Positions {
        Positions(
            self.0
                .iter()
                .filter_map(|(p, pos)| {
                    let rest = p.strip_prefix(prefix)?;
                    (rest.is_empty() || rest.starts_with('/')).then(|| (rest.to_owned(), *pos))
                })
                .collect(),
        )
    }

    /// Moves every position `lines` down and `columns` right: a YAML text held in a string of
    /// another document (an Application's `helm.values` block) placed at its lines there.
    pub fn offset(&mut self, lines: usize, columns: usize) {
        for p in self.0.values_mut() {
            p.line += lines;
            p.column += columns;
        }
    }

    /// Sets the position of `pointer`.
    pub fn insert(&mut self, pointer: String, pos: Pos) {
        self.0.insert(pointer, pos);
    }

    /// Shifts every position by a document's place in its file: `lines` lines down, and
    /// `first_columns` columns right on the document's first line.
    pub fn shift(&mut self, lines: usize, first_columns: usize) {
        for p in self.0.values_mut() {
            if p.line == 1 {
                p.column += first_columns;
            }
            p.line += lines;
        }
    }
}

/// Parses one YAML document (JSON is YAML) into its value and the positions of its nodes.
pub fn parse(text: &str) -> Result<(Value, Positions), Error> {
    let node: Option<Node> = serde_saphyr::from_str(text).map_err(|e| Error {
        message: one_line(&e),
        line: e.location().map(|l| l.line() as usize),
    })?;
    let mut positions = Positions::default();
    let value = match node {
        Some(n) => n.into_json(String::new(), &mut positions),
        None => Value::Null,
    };
    Ok((value, positions))
}

/// A text that is not YAML: the reader's one-line message (with the line and column), and
/// the line apart, so a report places it without reading the message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    /// What is wrong, on one line.
    pub message: String,
    /// The line of the text it is at, when the reader knows.
    pub line: Option<usize>,
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}

/// Typed YAML (settings, tables, sessions) with a one-line error.
pub fn from_str<T: serde::de::DeserializeOwned>(text: &str) -> Result<T, String> {
    serde_saphyr::from_str(text).map_err(|e| one_line(&e))
}

fn one_line(e: &serde_saphyr::Error) -> String {
    let text = e.without_snippet().to_string();
    let first = text
        .lines()
        .next()
        .unwrap_or("invalid YAML")
        .trim()
        .to_owned();
    match e.location() {
        Some(l) if !first.contains("line") => {
            format!("{first} (line {}, column {})", l.line(), l.column())
        }
        _ => first,
    }
}

/// One node and where it starts.
struct Node {
    kind: Kind,
    at: Pos,
}

enum Kind {
    Null,
    Bool(bool),
    Number(Number),
    Str(String),
    Seq(Vec<Node>),
    Map(Vec<(String, Node)>),
}

impl Node {
    fn into_json(self, pointer: String, positions: &mut Positions) -> Value {
        let value = match self.kind {
            Kind::Null => Value::Null,
            Kind::Bool(b) => Value::Bool(b),
            Kind::Number(n) => Value::Number(n),
            Kind::Str(s) => Value::String(s),
            Kind::Seq(items) => Value::Array(
                items
                    .into_iter()
                    .enumerate()
                    .map(|(i, n)| n.into_json(format!("{pointer}/{i}"), positions))
                    .collect(),
            ),
            Kind::Map(entries) => {
                let mut map = Map::new();
                for (k, n) in entries {
                    let child = format!("{pointer}/{}", k.replace('~', "~0").replace('/', "~1"));
                    map.insert(k, n.into_json(child, positions));
                }
                Value::Object(map)
            }
        };
        positions.0.insert(pointer, self.at);
        value
    }
}

impl<'de> Deserialize<'de> for Node {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let spanned = Spanned::<Kind>::deserialize(d)?;
        let to_usize = |n: u64| usize::try_from(n).unwrap_or(usize::MAX);
        Ok(Node {
            kind: spanned.value,
            at: Pos {
                line: to_usize(spanned.referenced.line()),
                column: to_usize(spanned.referenced.column()),
            },
        })
    }
}

impl<'de> Deserialize<'de> for Kind {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(KindVisitor)
    }
}

struct KindVisitor;

impl<'de> Visitor<'de> for KindVisitor {
    type Value = Kind;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any YAML value")
    }
    fn visit_unit<E: de::Error>(self) -> Result<Kind, E> {
        Ok(Kind::Null)
    }
    fn visit_none<E: de::Error>(self) -> Result<Kind, E> {
        Ok(Kind::Null)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Kind, D::Error> {
        Kind::deserialize(d)
    }
    fn visit_bool<E: de::Error>(self, b: bool) -> Result<Kind, E> {
        Ok(Kind::Bool(b))
    }
    fn visit_i64<E: de::Error>(self, n: i64) -> Result<Kind, E> {
        Ok(Kind::Number(n.into()))
    }
    fn visit_u64<E: de::Error>(self, n: u64) -> Result<Kind, E> {
        Ok(Kind::Number(n.into()))
    }
    fn visit_f64<E: de::Error>(self, n: f64) -> Result<Kind, E> {
        // NaN and infinities have no JSON form; the API server would refuse them too.
        Number::from_f64(n)
            .map(Kind::Number)
            .ok_or_else(|| E::custom(format!("{n} is not a number JSON can hold")))
    }
    fn visit_str<E: de::Error>(self, s: &str) -> Result<Kind, E> {
        Ok(Kind::Str(s.to_owned()))
    }
    fn visit_string<E: de::Error>(self, s: String) -> Result<Kind, E> {
        Ok(Kind::Str(s))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Kind, A::Error> {
        let mut items = Vec::new();
        while let Some(n) = seq.next_element::<Node>()? {
            items.push(n);
        }
        Ok(Kind::Seq(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Kind, A::Error> {
        let mut entries = Vec::new();
        while let Some(key) = map.next_key::<Key>()? {
            entries.push((key.0, map.next_value::<Node>()?));
        }
        Ok(Kind::Map(entries))
    }
}

/// A mapping key as JSON spells it: scalars become strings (`1: x` is `"1"`).
struct Key(String);

impl<'de> Deserialize<'de> for Key {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Key;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a scalar mapping key")
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<Key, E> {
                Ok(Key(s.to_owned()))
            }
            fn visit_bool<E: de::Error>(self, b: bool) -> Result<Key, E> {
                Ok(Key(b.to_string()))
            }
            fn visit_i64<E: de::Error>(self, n: i64) -> Result<Key, E> {
                Ok(Key(n.to_string()))
            }
            fn visit_u64<E: de::Error>(self, n: u64) -> Result<Key, E> {
                Ok(Key(n.to_string()))
            }
            fn visit_f64<E: de::Error>(self, n: f64) -> Result<Key, E> {
                Ok(Key(n.to_string()))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Key, E> {
                Ok(Key("null".to_owned()))
            }
        }
        d.deserialize_any(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_and_positions_of_block_and_flow_yaml() {
        let text = "apiVersion: v1\nkind: Pod\nspec:\n  containers:\n  - name: a\n    image: 'nginx:1.27'\n  - {name: b, image: redis}\n";
        let (value, pos) = parse(text).expect("parses");
        assert_eq!(value["spec"]["containers"][1]["image"], "redis");
        assert_eq!(
            pos.get("/spec/containers/0/image"),
            Some(Pos {
                line: 6,
                column: 12
            })
        );
        assert_eq!(
            pos.get("/spec/containers/1/image"),
            Some(Pos {
                line: 7,
                column: 22
            })
        );
        assert_eq!(pos.get("/kind"), Some(Pos { line: 2, column: 7 }));
    }

    #[test]
    fn scalars_resolve_as_kubectl_reads_them_and_json_reads_as_yaml() {
        // `yes` is a boolean, as in the YAML 1.1 rules kubectl's parser follows.
        let (value, _) = parse("a: 1\nb: true\nc: ~\nd: '1'\ne: 1.5\nf: yes\n").expect("parses");
        assert_eq!(
            value,
            serde_json::json!({"a": 1, "b": true, "c": null, "d": "1", "e": 1.5, "f": true})
        );
        let (value, pos) = parse("{\"kind\": \"Pod\",\n \"spec\": {\"x\": [1, 2]}}").expect("JSON");
        assert_eq!(value["spec"]["x"][1], 2);
        assert_eq!(
            pos.get("/spec/x/1"),
            Some(Pos {
                line: 2,
                column: 20
            })
        );
    }

    #[test]
    fn crlf_anchors_and_errors() {
        let (value, pos) = parse("a: &x\r\n  k: v\r\nb: *x\r\n").expect("parses");
        assert_eq!(value["b"]["k"], "v");
        assert_eq!(pos.get("/a/k"), Some(Pos { line: 2, column: 6 }));
        let err = parse("kind: [unclosed\n").unwrap_err();
        assert!(!err.message.contains('\n'), "{err}");
        assert!(parse("").expect("empty").0.is_null());
    }
}
