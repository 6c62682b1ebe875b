//! The evidence log's edges: record encodings, the signing key and checkpoints
//! (`evidence`), and bundles exported and verified offline (`bundle`). The Merkle tree and
//! signed notes are pure and live in `probity-core`.

pub mod bundle;
pub mod evidence;
