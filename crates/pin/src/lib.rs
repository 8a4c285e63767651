//! Pinning digests into Git (issue #13, in progress): the in-place text edits that write a
//! resolved digest into a manifest or a Helm values file, touching nothing else. The command
//! that finds unpinned images (the checker's positions) and resolves them (a registry client)
//! builds on this.

pub mod edit;
