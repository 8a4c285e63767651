//! Pinning digests into Git: tags resolved to digests at their registries (`registry`, with
//! `credentials` and `platform`), and the minimal in-place edits that write them into
//! manifests and Helm values files (`edit`), written atomically or shown as a diff (`write`).
//! Which images need pinning is the checker's business: it knows where every image is.

pub mod credentials;
pub mod edit;
pub mod platform;
pub mod registry;
pub mod write;
