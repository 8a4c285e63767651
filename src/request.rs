//! The few fields of an AdmissionRequest the policy reads, borrowed from the payload.
//!
//! Deserialising whole objects into `k8s-openapi` structs allocates every field of every
//! container on each request; these structs name only what the contract needs and borrow
//! strings from the payload, so skipping the rest costs a scan and no allocation. Every
//! type mismatch is reported with its JSON path, so a malformed request says what is wrong.

use serde::Deserialize;
use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::value::RawValue;
use std::borrow::Cow;
use std::fmt;

/// The `validate` payload policy-server sends: the request's JSON text and the settings'
/// spliced as they are, without a parse (so a malformed request reaches the policy as written).
pub fn payload(request: &[u8], settings: &[u8]) -> Vec<u8> {
    let mut payload = Vec::with_capacity(request.len() + settings.len() + 32);
    payload.extend_from_slice(b"{\"request\":");
    payload.extend_from_slice(request);
    payload.extend_from_slice(b",\"settings\":");
    payload.extend_from_slice(settings);
    payload.push(b'}');
    payload
}

/// A JSON object read as `T`. serde's derived structs also accept a JSON *array* of their
/// fields in order; a request is never shaped like that, so accepting it would let a
/// type-confused document be read as something it is not. `Obj` accepts objects only.
#[derive(Debug, Default)]
pub struct Obj<T>(pub T);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Obj<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<T>(std::marker::PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for V<T> {
            type Value = Obj<T>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an object")
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                T::deserialize(de::value::MapAccessDeserializer::new(map)).map(Obj)
            }
        }
        d.deserialize_map(V(std::marker::PhantomData))
    }
}

impl<T> std::ops::Deref for Obj<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

/// The `validate` payload: `{"request": AdmissionRequest, "settings": {...}}`, read in one
/// pass (only the objects are kept raw, for the shape their kind says and for pinning).
#[derive(Deserialize)]
pub struct ValidatePayload<'a> {
    /// The AdmissionRequest.
    #[serde(borrow)]
    pub request: Option<Obj<AdmissionRequest<'a>>>,
    /// The policy's settings, as the host sends them.
    #[serde(default)]
    pub settings: Option<serde_json::Value>,
}

/// The fields of an AdmissionRequest the policy reads, borrowed from the payload.
#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct AdmissionRequest<'a> {
    /// The object's group, version and kind.
    #[serde(borrow)]
    pub kind: Option<Obj<GroupVersionKind<'a>>>,
    /// The resource (`pods`, `deployments`).
    #[serde(borrow)]
    pub resource: Option<Obj<GroupVersionResource<'a>>>,
    /// The subresource (`ephemeralcontainers`, `status`…).
    #[serde(borrow)]
    pub sub_resource: Option<Cow<'a, str>>,
    /// The object's name, when the request names it.
    #[serde(borrow)]
    pub name: Option<Cow<'a, str>>,
    /// The request's namespace.
    #[serde(borrow)]
    pub namespace: Option<Cow<'a, str>>,
    /// `CREATE`, `UPDATE`, `DELETE` or `CONNECT`.
    #[serde(borrow)]
    pub operation: Option<Cow<'a, str>>,
    /// The object, unparsed until its kind is known.
    #[serde(borrow)]
    pub object: Option<&'a RawValue>,
    /// The object before an UPDATE.
    #[serde(borrow)]
    pub old_object: Option<&'a RawValue>,
}

/// An object's group and kind.
#[derive(Deserialize, Default)]
pub struct GroupVersionKind<'a> {
    /// The API group (empty for the core group).
    #[serde(borrow, default)]
    pub group: Cow<'a, str>,
    /// The kind.
    #[serde(borrow, default)]
    pub kind: Cow<'a, str>,
}

/// A request's resource.
#[derive(Deserialize, Default)]
pub struct GroupVersionResource<'a> {
    /// The resource's plural name.
    #[serde(borrow, default)]
    pub resource: Cow<'a, str>,
}

/// The object metadata the policy reads.
#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct Metadata<'a> {
    /// `metadata.name`.
    #[serde(borrow)]
    pub name: Option<Cow<'a, str>>,
    /// `metadata.generateName`.
    #[serde(borrow)]
    pub generate_name: Option<Cow<'a, str>>,
    /// `metadata.namespace`.
    #[serde(borrow)]
    pub namespace: Option<Cow<'a, str>>,
}

/// The three container lists of a pod spec, and its volumes (an image volume is pulled by
/// the kubelet like a container image). Volumes are kept raw and read only when present
/// (`workload::volume`, shared with custom kinds): most pods have none or a few, and one
/// reader for both paths keeps the module small (a typed copy cost 16 KB of policy.wasm).
#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct PodSpec<'a> {
    /// `containers`.
    #[serde(borrow)]
    pub containers: Option<Vec<Obj<Container<'a>>>>,
    /// `initContainers`.
    #[serde(borrow)]
    pub init_containers: Option<Vec<Obj<Container<'a>>>>,
    /// `ephemeralContainers`.
    #[serde(borrow)]
    pub ephemeral_containers: Option<Vec<Obj<Container<'a>>>>,
    /// `volumes`, parsed only when present (image volumes are among them).
    #[serde(borrow)]
    pub volumes: Option<&'a RawValue>,
}

/// A container as the policy reads it.
#[derive(Deserialize)]
pub struct Container<'a> {
    /// `name`.
    #[serde(borrow)]
    pub name: Option<Cow<'a, str>>,
    /// `image`, whatever its type.
    #[serde(borrow, default)]
    pub image: ImageField<'a>,
}

/// A container's `image`, whatever JSON type it has: a missing or non-string image is a
/// finding about that container (`docs/contract.md` §1), not a malformed request.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum ImageField<'a> {
    /// No `image` key.
    #[default]
    Missing,
    /// `image: null`.
    Null,
    /// A string.
    Str(Cow<'a, str>),
    /// Another JSON type; the name of the type for the message.
    NotString(&'static str),
}

impl<'de: 'a, 'a> Deserialize<'de> for ImageField<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = ImageField<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(ImageField::Str(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(ImageField::Str(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
                Ok(ImageField::Str(Cow::Owned(v)))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(ImageField::Null)
            }
            fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(ImageField::Null)
            }
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
                Ok(ImageField::NotString("a boolean"))
            }
            fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
                Ok(ImageField::NotString("a number"))
            }
            fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
                Ok(ImageField::NotString("a number"))
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
                Ok(ImageField::NotString("a number"))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(ImageField::NotString("a list"))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(ImageField::NotString("an object"))
            }
        }
        d.deserialize_any(V)
    }
}

/// Any object, for its metadata alone (custom resources, whose spec is read by path).
#[derive(Deserialize, Default)]
pub struct NamedObject<'a> {
    /// `metadata`.
    #[serde(borrow, default)]
    pub metadata: Obj<Metadata<'a>>,
}

impl ImageField<'_> {
    /// The image as written, or `""` when it is not a string.
    pub fn as_str(&self) -> &str {
        match self {
            ImageField::Str(s) => s,
            _ => "",
        }
    }

    /// A JSON value read as a container's `image`.
    pub fn of(v: Option<&serde_json::Value>) -> ImageField<'static> {
        match v {
            None => ImageField::Missing,
            Some(serde_json::Value::Null) => ImageField::Null,
            Some(serde_json::Value::String(s)) => ImageField::Str(Cow::Owned(s.clone())),
            Some(serde_json::Value::Bool(_)) => ImageField::NotString("a boolean"),
            Some(serde_json::Value::Number(_)) => ImageField::NotString("a number"),
            Some(serde_json::Value::Array(_)) => ImageField::NotString("a list"),
            Some(serde_json::Value::Object(_)) => ImageField::NotString("an object"),
        }
    }
}

/// Objects whose pod spec is at `spec` (Pod).
#[derive(Deserialize, Default)]
pub struct PodObject<'a> {
    /// `metadata`.
    #[serde(borrow, default)]
    pub metadata: Obj<Metadata<'a>>,
    /// `spec`: the pod spec.
    #[serde(borrow)]
    pub spec: Option<Obj<PodSpec<'a>>>,
}

/// Objects whose pod spec is at `spec.template.spec` (Deployment and friends, Job).
#[derive(Deserialize, Default)]
pub struct TemplateObject<'a> {
    /// `metadata`.
    #[serde(borrow, default)]
    pub metadata: Obj<Metadata<'a>>,
    /// `spec`, which holds the template.
    #[serde(borrow)]
    pub spec: Option<Obj<WithTemplate<'a>>>,
}

/// A spec with a pod template.
#[derive(Deserialize, Default)]
pub struct WithTemplate<'a> {
    /// `template`.
    #[serde(borrow)]
    pub template: Option<Obj<PodTemplate<'a>>>,
}

/// A pod template.
#[derive(Deserialize, Default)]
pub struct PodTemplate<'a> {
    /// `spec`: the pod spec.
    #[serde(borrow)]
    pub spec: Option<Obj<PodSpec<'a>>>,
}

/// CronJob: the pod spec is at `spec.jobTemplate.spec.template.spec`.
#[derive(Deserialize, Default)]
pub struct CronJobObject<'a> {
    /// `metadata`.
    #[serde(borrow, default)]
    pub metadata: Obj<Metadata<'a>>,
    /// `spec`, which holds the job template.
    #[serde(borrow)]
    pub spec: Option<Obj<CronJobSpec<'a>>>,
}

/// A CronJob's spec.
#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct CronJobSpec<'a> {
    /// `jobTemplate`.
    #[serde(borrow)]
    pub job_template: Option<Obj<JobTemplate<'a>>>,
}

/// A CronJob's job template.
#[derive(Deserialize, Default)]
pub struct JobTemplate<'a> {
    /// `spec`, which holds the pod template.
    #[serde(borrow)]
    pub spec: Option<Obj<WithTemplate<'a>>>,
}

/// Parses `json` as `T`, and on failure says where: `request.object.spec.containers[0].name:
/// invalid type: integer `3`, expected a string`. The place is read back from the error's
/// position in the text ([`path_at`]), not tracked while parsing: a path-tracking deserializer
/// (serde_path_to_error) wrapped every typed visitor a second time, 43 KB of the policy module
/// for a path that only an error needs.
pub fn parse_at<'a, T: Deserialize<'a>>(json: &'a str, at: &str) -> Result<T, String> {
    let mut de = serde_json::Deserializer::from_str(json);
    let result = T::deserialize(&mut de).and_then(|value| de.end().map(|()| value));
    result.map_err(|e| {
        let path = match e.line() {
            0 => String::new(),
            line => path_at(json, offset(json, line, e.column())),
        };
        format!("{at}{path}: {}", without_position(&e))
    })
}

/// The byte offset of a 1-based line and column (serde_json counts columns in bytes).
fn offset(json: &str, line: usize, column: usize) -> usize {
    let start: usize = json
        .split_inclusive('\n')
        .take(line.saturating_sub(1))
        .map(str::len)
        .sum();
    (start + column).min(json.len())
}

/// The field path (`.spec.containers[0].name`) of the value the text is in at byte `end`:
/// keys and list indexes open at that point, as a small scan of the JSON's structure (strings,
/// escapes, brackets, `:` and `,`). A container opened but not yet into its first key or item
/// names itself, so a wrong-typed object or list is named by the key that holds it.
pub fn path_at(json: &str, end: usize) -> String {
    enum Frame<'a> {
        /// The current key, and whether the next string is a key.
        Object(Option<&'a str>, bool),
        /// The current index, once an item has begun.
        Array(Option<usize>),
    }
    let bytes = json.as_bytes();
    let mut frames: Vec<Frame<'_>> = Vec::new();
    let mut i = 0;
    while i < end.min(bytes.len()) {
        let Some(&b) = bytes.get(i) else { break };
        if let Some(Frame::Array(index @ None)) = frames.last_mut()
            && !matches!(b, b' ' | b'\t' | b'\n' | b'\r' | b']')
        {
            *index = Some(0);
        }
        match b {
            b'"' => {
                let start = i + 1;
                i = start;
                while let Some(&c) = bytes.get(i) {
                    match c {
                        b'\\' => i += 2,
                        b'"' => break,
                        _ => i += 1,
                    }
                }
                if let Some(Frame::Object(key, expecting @ true)) = frames.last_mut() {
                    *key = json.get(start..i.min(json.len()));
                    *expecting = false;
                }
            }
            b'{' => frames.push(Frame::Object(None, true)),
            b'[' => frames.push(Frame::Array(None)),
            b'}' | b']' => {
                frames.pop();
            }
            b',' => match frames.last_mut() {
                Some(Frame::Object(key, expecting)) => (*key, *expecting) = (None, true),
                Some(Frame::Array(Some(n))) => *n += 1,
                _ => {}
            },
            _ => {}
        }
        i += 1;
    }
    // An error at the first item of a list (a wrong-typed item) points at the item itself.
    let next = bytes
        .get(i..)
        .and_then(|rest| rest.iter().find(|c| !c.is_ascii_whitespace()));
    if let (Some(Frame::Array(index @ None)), Some(c)) = (frames.last_mut(), next)
        && *c != b']'
    {
        *index = Some(0);
    }
    let mut path = String::new();
    for frame in &frames {
        match frame {
            Frame::Object(Some(key), _) => {
                path.push('.');
                path.push_str(key);
            }
            Frame::Array(Some(n)) => path.push_str(&format!("[{n}]")),
            _ => {}
        }
    }
    path
}

/// serde_json's "at line 1 column 5123" means nothing to someone reading a rejection of a
/// request they did not write by hand; the path already says where.
fn without_position(e: &serde_json::Error) -> String {
    let s = e.to_string();
    match s.rfind(" at line ") {
        Some(i) if e.line() > 0 => s[..i].to_owned(),
        _ => s,
    }
}
