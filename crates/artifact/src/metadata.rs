//! `metadata.yml`, read and turned into the JSON `kwctl annotate` embeds in the module.

use crate::error::{Error, Result};
use serde_json::{Map, Value};
use std::path::Path;

/// The annotation under which kwctl stores the README.
pub const USAGE: &str = "io.kubewarden.policy.usage";

/// `metadata.yml` as a JSON object (its keys are already camelCase).
pub fn load(path: &Path) -> Result<Map<String, Value>> {
    let text = std::fs::read_to_string(path).map_err(|source| Error::Read {
        path: path.to_owned(),
        source,
    })?;
    let value: Value = serde_saphyr::from_str(&text)
        .map_err(|e| Error::Metadata(format!("{} is not valid YAML: {e}", path.display())))?;
    let Value::Object(map) = value else {
        return Err(Error::Metadata(format!(
            "{} must be a mapping",
            path.display()
        )));
    };
    for key in ["rules", "mutating", "executionMode", "annotations"] {
        if !map.contains_key(key) {
            return Err(Error::Metadata(format!(
                "{} has no `{key}`",
                path.display()
            )));
        }
    }
    Ok(map)
}

/// The annotation `key` of the metadata, when it is a string.
pub fn annotation<'m>(metadata: &'m Map<String, Value>, key: &str) -> Option<&'m str> {
    metadata.get("annotations")?.get(key)?.as_str()
}

/// The metadata to embed: `metadata.yml` plus the protocol version the module itself
/// reports and the README as the usage annotation, with kwctl's defaults filled in.
pub fn embedded(metadata: &Map<String, Value>, protocol_version: &str, readme: &str) -> Value {
    let mut m = metadata.clone();
    m.insert(
        "protocolVersion".into(),
        Value::String(protocol_version.to_owned()),
    );
    m.entry("backgroundAudit").or_insert(Value::Bool(true));
    m.entry("contextAware").or_insert(Value::Bool(false));
    m.entry("policyType")
        .or_insert(Value::String("kubernetes".into()));
    let usage = match annotation(metadata, "io.kubewarden.policy.source") {
        Some(source) => absolute_links(
            readme,
            &format!("{}/blob/main/", source.trim_end_matches('/')),
        ),
        None => readme.to_owned(),
    };
    if let Some(Value::Object(a)) = m.get_mut("annotations") {
        a.insert(USAGE.into(), Value::String(usage));
    }
    Value::Object(m)
}

/// The README with its relative links (`docs/policy.md`, `SECURITY.md`) made absolute under
/// `base`: the embedded README is read on ArtifactHub and by `kwctl inspect`, where a link
/// into the repository means nothing. Links with a scheme and in-page anchors stay.
pub fn absolute_links(readme: &str, base: &str) -> String {
    let mut out = String::with_capacity(readme.len() + 256);
    let mut rest = readme;
    while let Some(at) = rest.find("](") {
        let (before, after) = rest.split_at(at + 2);
        out.push_str(before);
        let relative = !after.starts_with('#')
            && !after.starts_with("http://")
            && !after.starts_with("https://")
            && !after.starts_with("mailto:");
        if relative {
            out.push_str(base);
        }
        rest = after;
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_links_become_absolute_and_the_others_stay() {
        let base = "https://github.com/o/r/blob/main/";
        assert_eq!(
            absolute_links(
                "[a](docs/policy.md#x) [b](#verdicts) [c](https://kubewarden.io) [d](SECURITY.md)",
                base
            ),
            "[a](https://github.com/o/r/blob/main/docs/policy.md#x) [b](#verdicts) [c](https://kubewarden.io) [d](https://github.com/o/r/blob/main/SECURITY.md)"
        );
    }
}
