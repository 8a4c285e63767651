//! Embedding the metadata the way `kwctl annotate` does: a custom section
//! `io.kubewarden.metadata` holding the metadata as JSON. Sections are copied through
//! `wasmparser`/`wasm-encoder`, never patched by hand, and an existing metadata section is
//! replaced rather than duplicated.

use crate::error::{Error, Result};
use std::borrow::Cow;
use wasm_encoder::{CustomSection, Module, RawSection};
use wasmparser::{Parser, Payload};

/// The custom section kwctl and policy-server read a policy's metadata from.
pub const SECTION: &str = "io.kubewarden.metadata";

/// `module` with `metadata_json` in its metadata section, as `kwctl annotate` writes it (an existing section is replaced).
pub fn annotate(module: &[u8], metadata_json: &[u8]) -> Result<Vec<u8>> {
    wasmparser::Validator::new()
        .validate_all(module)
        .map_err(|e| Error::Module(format!("policy.wasm is not a valid module: {e}")))?;
    let mut out = Module::new();
    for payload in Parser::new(0).parse_all(module) {
        let payload =
            payload.map_err(|e| Error::Module(format!("cannot parse policy.wasm: {e}")))?;
        if let Payload::CustomSection(c) = &payload
            && c.name() == SECTION
        {
            continue;
        }
        if let Some((id, range)) = payload.as_section() {
            let data = module
                .get(range)
                .ok_or_else(|| Error::Module("a section lies outside the module".into()))?;
            out.section(&RawSection { id, data });
        }
    }
    out.section(&CustomSection {
        name: Cow::Borrowed(SECTION),
        data: Cow::Borrowed(metadata_json),
    });
    let bytes = out.finish();
    wasmparser::Validator::new()
        .validate_all(&bytes)
        .map_err(|e| Error::Module(format!("the annotated module does not validate: {e}")))?;
    Ok(bytes)
}

/// Reads the metadata section back; `None` when the module has none.
pub fn read(module: &[u8]) -> Result<Option<Vec<u8>>> {
    let mut found = None;
    for payload in Parser::new(0).parse_all(module) {
        if let Payload::CustomSection(c) =
            payload.map_err(|e| Error::Module(format!("cannot parse the module: {e}")))?
            && c.name() == SECTION
        {
            if found.is_some() {
                return Err(Error::Module(format!(
                    "the module has more than one {SECTION} section"
                )));
            }
            found = Some(c.data().to_vec());
        }
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn annotating_twice_replaces_the_section() {
        let module = wasm_encoder::Module::new().finish();
        let once = annotate(&module, b"{\"a\":1}").unwrap();
        let twice = annotate(&once, b"{\"a\":2}").unwrap();
        assert_eq!(read(&twice).unwrap(), Some(b"{\"a\":2}".to_vec()));
        assert_eq!(read(&module).unwrap(), None);
        assert!(annotate(b"not wasm", b"{}").is_err());
    }
}
