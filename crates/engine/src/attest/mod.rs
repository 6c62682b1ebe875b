//! The evidence log's edges: record encodings, the signing key and checkpoints
//! (`evidence`), bundles exported and verified offline (`bundle`), and witnesses asked to
//! cosign checkpoints (`cosign`). The Merkle tree and
//! signed notes are pure and live in `probity-core`.

pub mod bundle;
pub mod cosign;
pub mod evidence;
