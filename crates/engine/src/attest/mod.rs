//! The evidence log's edges: record encodings, the signing key and checkpoints
//! (`evidence`), bundles exported and verified offline (`bundle`), witnesses asked to
//! cosign checkpoints (`cosign`), and outage statements shared with peers (`federation`). The Merkle tree and
//! signed notes are pure and live in `probity-core`.

pub mod bundle;
pub mod check;
pub mod cosign;
pub mod evidence;
pub mod federation;
