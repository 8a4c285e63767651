//! The release side of image-digest-policy: annotation, the OCI artifact, ArtifactHub.

pub mod annotate;
pub mod artifacthub;
pub mod error;
pub mod layout;
pub mod metadata;
