//! The Merkle tree of RFC 6962 / RFC 9162: leaf hash SHA-256(0x00 ‖ data), node hash
//! SHA-256(0x01 ‖ left ‖ right), the empty tree's root SHA-256(""), and inclusion and
//! consistency proofs with their verifiers.
//!
//! Storage is not this module's business: proofs are built from *perfect subtrees*,
//! addressed by `(level, index)` (the subtree of `2^level` leaves starting at leaf
//! `index << level`), which a caller keeps wherever it likes and offers through [`Nodes`].
//! Every perfect subtree is written once, when its last leaf arrives ([`append`]), and never
//! changes, so any proof for any past tree size needs O(log n) lookups.

use sha2::{Digest, Sha256};

pub type Hash = [u8; 32];

pub fn leaf_hash(data: &[u8]) -> Hash {
    let mut h = Sha256::new();
    h.update([0u8]);
    h.update(data);
    h.finalize().into()
}

pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut h = Sha256::new();
    h.update([1u8]);
    h.update(left);
    h.update(right);
    h.finalize().into()
}

/// The root of the empty tree: SHA-256 of nothing.
pub fn empty_root() -> Hash {
    Sha256::digest([]).into()
}

/// Where perfect-subtree hashes come from.
pub trait Nodes {
    /// The hash of the perfect subtree at `level` and `index`, if it is complete.
    fn node(&self, level: u32, index: u64) -> Option<Hash>;
}

/// Why a proof could not be built.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ProofError {
    #[error("leaf {index} is not in a tree of size {size}")]
    IndexOutOfRange { index: u64, size: u64 },
    #[error("tree size {size} is larger than the log ({have})")]
    SizeBeyondLog { size: u64, have: u64 },
    #[error("no consistency proof from size {old} to {new}: need 0 < old <= new")]
    BadSizes { old: u64, new: u64 },
    #[error("the store is missing subtree hash at level {level}, index {index}")]
    MissingNode { level: u32, index: u64 },
}

/// Why a proof did not verify.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    #[error("leaf index {index} is not below tree size {size}")]
    IndexOutOfRange { index: u64, size: u64 },
    #[error("the proof has the wrong number of hashes")]
    WrongLength,
    #[error("the computed root does not match")]
    RootMismatch,
    #[error("a consistency proof from size 0 proves nothing")]
    FromEmpty,
    #[error("consistency needs old size <= new size ({old} > {new})")]
    Shrinking { old: u64, new: u64 },
    #[error("a hash is {0} bytes long, not 32")]
    BadHashLength(usize),
}

/// Reads a 32-byte hash from a slice, rejecting any other length.
pub fn hash_from_slice(b: &[u8]) -> Result<Hash, VerifyError> {
    b.try_into()
        .map_err(|_| VerifyError::BadHashLength(b.len()))
}

/// Appends the leaf with hash `leaf` at position `size` (the tree's current size) and
/// returns every perfect subtree it completes, bottom up: `(0, size, leaf)` and then a
/// parent for each level at which this leaf closes a pair. `nodes` must hold the subtrees
/// of the tree so far.
pub fn append(
    nodes: &impl Nodes,
    size: u64,
    leaf: Hash,
) -> Result<Vec<(u32, u64, Hash)>, ProofError> {
    let mut out = vec![(0, size, leaf)];
    let (mut level, mut index, mut hash) = (0u32, size, leaf);
    while index & 1 == 1 {
        let left = nodes
            .node(level, index - 1)
            .ok_or(ProofError::MissingNode {
                level,
                index: index - 1,
            })?;
        hash = node_hash(&left, &hash);
        level += 1;
        index >>= 1;
        out.push((level, index, hash));
    }
    Ok(out)
}

/// The largest power of two strictly below `n` (n > 1).
fn split(n: u64) -> u64 {
    debug_assert!(n > 1);
    1 << (63 - (n - 1).leading_zeros())
}

/// The hash of leaves `start..end`, in the shape RFC 6962 gives a tree over them. The
/// ranges proofs ask for always start on a boundary of their left part, so this needs
/// O(log n) lookups.
pub fn range_hash(nodes: &impl Nodes, start: u64, end: u64) -> Result<Hash, ProofError> {
    let size = end - start;
    if size == 0 {
        return Ok(empty_root());
    }
    if size.is_power_of_two() && start.is_multiple_of(size) {
        let level = size.trailing_zeros();
        let index = start >> level;
        return nodes
            .node(level, index)
            .ok_or(ProofError::MissingNode { level, index });
    }
    let k = split(size);
    let left = range_hash(nodes, start, start + k)?;
    let right = range_hash(nodes, start + k, end)?;
    Ok(node_hash(&left, &right))
}

/// The root of the first `size` leaves.
pub fn root(nodes: &impl Nodes, size: u64) -> Result<Hash, ProofError> {
    range_hash(nodes, 0, size)
}

/// The audit path of leaf `index` in the tree of the first `size` leaves (RFC 6962 §2.1.1).
pub fn inclusion_proof(nodes: &impl Nodes, index: u64, size: u64) -> Result<Vec<Hash>, ProofError> {
    if index >= size {
        return Err(ProofError::IndexOutOfRange { index, size });
    }
    let mut proof = Vec::new();
    path(nodes, index, 0, size, &mut proof)?;
    Ok(proof)
}

fn path(
    nodes: &impl Nodes,
    m: u64,
    start: u64,
    n: u64,
    out: &mut Vec<Hash>,
) -> Result<(), ProofError> {
    if n == 1 {
        return Ok(());
    }
    let k = split(n);
    if m < k {
        path(nodes, m, start, k, out)?;
        out.push(range_hash(nodes, start + k, start + n)?);
    } else {
        path(nodes, m - k, start + k, n - k, out)?;
        out.push(range_hash(nodes, start, start + k)?);
    }
    Ok(())
}

/// The consistency proof between the trees of the first `old` and `new` leaves
/// (RFC 6962 §2.1.2).
pub fn consistency_proof(nodes: &impl Nodes, old: u64, new: u64) -> Result<Vec<Hash>, ProofError> {
    if old == 0 || old > new {
        return Err(ProofError::BadSizes { old, new });
    }
    let mut proof = Vec::new();
    if old < new {
        subproof(nodes, old, 0, new, true, &mut proof)?;
    }
    Ok(proof)
}

fn subproof(
    nodes: &impl Nodes,
    m: u64,
    start: u64,
    n: u64,
    whole: bool,
    out: &mut Vec<Hash>,
) -> Result<(), ProofError> {
    if m == n {
        if !whole {
            out.push(range_hash(nodes, start, start + n)?);
        }
        return Ok(());
    }
    let k = split(n);
    if m <= k {
        subproof(nodes, m, start, k, whole, out)?;
        out.push(range_hash(nodes, start + k, start + n)?);
    } else {
        subproof(nodes, m - k, start + k, n - k, false, out)?;
        out.push(range_hash(nodes, start, start + k)?);
    }
    Ok(())
}

/// Verifies an inclusion proof (RFC 9162 §2.1.3.2).
pub fn verify_inclusion(
    index: u64,
    size: u64,
    leaf: &Hash,
    proof: &[Hash],
    root: &Hash,
) -> Result<(), VerifyError> {
    if index >= size {
        return Err(VerifyError::IndexOutOfRange { index, size });
    }
    let (mut f, mut s) = (index, size - 1);
    let mut r = *leaf;
    for p in proof {
        if s == 0 {
            return Err(VerifyError::WrongLength);
        }
        if f & 1 == 1 || f == s {
            r = node_hash(p, &r);
            if f & 1 == 0 {
                while f & 1 == 0 && f != 0 {
                    f >>= 1;
                    s >>= 1;
                }
            }
        } else {
            r = node_hash(&r, p);
        }
        f >>= 1;
        s >>= 1;
    }
    if s != 0 {
        return Err(VerifyError::WrongLength);
    }
    if r != *root {
        return Err(VerifyError::RootMismatch);
    }
    Ok(())
}

/// Verifies a consistency proof (RFC 9162 §2.1.4.2). A proof from size 0 is refused: the
/// empty tree is consistent with everything, so such a proof would prove nothing.
pub fn verify_consistency(
    old: u64,
    new: u64,
    old_root: &Hash,
    new_root: &Hash,
    proof: &[Hash],
) -> Result<(), VerifyError> {
    if old == 0 {
        return Err(VerifyError::FromEmpty);
    }
    if old > new {
        return Err(VerifyError::Shrinking { old, new });
    }
    if old == new {
        if !proof.is_empty() {
            return Err(VerifyError::WrongLength);
        }
        return if old_root == new_root {
            Ok(())
        } else {
            Err(VerifyError::RootMismatch)
        };
    }
    if proof.is_empty() {
        return Err(VerifyError::WrongLength);
    }
    let mut path: Vec<Hash> = Vec::with_capacity(proof.len() + 1);
    if old.is_power_of_two() {
        path.push(*old_root);
    }
    path.extend_from_slice(proof);
    let (mut f, mut s) = (old - 1, new - 1);
    while f & 1 == 1 {
        f >>= 1;
        s >>= 1;
    }
    let (mut fr, mut sr) = (path[0], path[0]);
    for c in &path[1..] {
        if s == 0 {
            return Err(VerifyError::WrongLength);
        }
        if f & 1 == 1 || f == s {
            fr = node_hash(c, &fr);
            sr = node_hash(c, &sr);
            if f & 1 == 0 {
                while f & 1 == 0 && f != 0 {
                    f >>= 1;
                    s >>= 1;
                }
            }
        } else {
            sr = node_hash(&sr, c);
        }
        f >>= 1;
        s >>= 1;
    }
    if s != 0 {
        return Err(VerifyError::WrongLength);
    }
    if fr != *old_root || sr != *new_root {
        return Err(VerifyError::RootMismatch);
    }
    Ok(())
}

/// The right edge of a tree: the roots of its perfect subtrees, largest first. Enough to
/// append and to compute the root at the current size, in O(log n) memory, so a log of any
/// length can be replayed (an audit) without holding it.
#[derive(Clone, Debug, Default)]
pub struct Frontier {
    size: u64,
    /// (level, root) of each perfect subtree, left to right; levels strictly decrease.
    stack: Vec<(u32, Hash)>,
}

impl Frontier {
    pub fn new() -> Self {
        Self::default()
    }
    pub fn size(&self) -> u64 {
        self.size
    }
    pub fn push(&mut self, leaf: Hash) {
        let (mut level, mut hash) = (0u32, leaf);
        while let Some(&(l, left)) = self.stack.last() {
            if l != level {
                break;
            }
            self.stack.pop();
            hash = node_hash(&left, &hash);
            level += 1;
        }
        self.stack.push((level, hash));
        self.size += 1;
    }
    /// RFC 6962's MTH at the current size: the subtrees folded from the right.
    pub fn root(&self) -> Hash {
        let mut from_right = self.stack.iter().rev();
        match from_right.next() {
            None => empty_root(),
            Some(&(_, last)) => from_right.fold(last, |acc, &(_, left)| node_hash(&left, &acc)),
        }
    }
}

/// Perfect subtrees held in memory, level by level: for tests, tools and small logs.
#[derive(Clone, Debug, Default)]
pub struct MemoryTree {
    levels: Vec<Vec<Hash>>,
}

impl MemoryTree {
    pub fn new() -> Self {
        Self::default()
    }
    pub fn size(&self) -> u64 {
        self.levels.first().map_or(0, |l| l.len() as u64)
    }
    pub fn push(&mut self, leaf: Hash) {
        let size = self.size();
        let nodes = append(self, size, leaf).expect("a memory tree has every node");
        for (level, index, hash) in nodes {
            let level = level as usize;
            if self.levels.len() <= level {
                self.levels.push(Vec::new());
            }
            debug_assert_eq!(self.levels[level].len() as u64, index);
            self.levels[level].push(hash);
        }
    }
    pub fn root(&self) -> Hash {
        root(self, self.size()).expect("a memory tree has every node")
    }
}

impl Nodes for MemoryTree {
    fn node(&self, level: u32, index: u64) -> Option<Hash> {
        self.levels
            .get(level as usize)?
            .get(usize::try_from(index).ok()?)
            .copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_frontier_has_the_roots_of_the_whole_tree() {
        let mut full = MemoryTree::new();
        let mut edge = Frontier::new();
        assert_eq!(edge.root(), empty_root());
        for i in 0..1100u32 {
            let leaf = leaf_hash(&i.to_le_bytes());
            full.push(leaf);
            edge.push(leaf);
            assert_eq!(edge.size(), full.size());
            assert_eq!(edge.root(), full.root(), "size {}", edge.size());
            // Never more than one subtree per bit of the size.
            assert_eq!(edge.stack.len() as u32, edge.size().count_ones());
        }
    }

    /// The RFC 6962 reference definition, straight from the text: MTH over a list.
    fn naive_root(leaves: &[Hash]) -> Hash {
        match leaves.len() {
            0 => empty_root(),
            1 => leaves[0],
            n => {
                let k = split(n as u64) as usize;
                node_hash(&naive_root(&leaves[..k]), &naive_root(&leaves[k..]))
            }
        }
    }

    /// The leaves behind the public test vectors.
    fn vector_leaves() -> Vec<Hash> {
        [
            "",
            "00",
            "10",
            "2021",
            "3031",
            "40414243",
            "5051525354555657",
            "606162636465666768696a6b6c6d6e6f",
        ]
        .iter()
        .map(|h| leaf_hash(&hex::decode(h).unwrap()))
        .collect()
    }

    /// Roots of the first n vector leaves, n = 0..=8 (published with the vectors).
    const ROOTS: [&str; 9] = [
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
        "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
        "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
        "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
        "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
    ];

    #[test]
    fn roots_match_the_published_values() {
        let mut t = MemoryTree::new();
        assert_eq!(hex::encode(t.root()), ROOTS[0]);
        for (n, leaf) in vector_leaves().into_iter().enumerate() {
            t.push(leaf);
            assert_eq!(hex::encode(t.root()), ROOTS[n + 1], "size {}", n + 1);
        }
        // Every past size too, from the same nodes.
        for (n, want) in ROOTS.iter().enumerate() {
            assert_eq!(hex::encode(root(&t, n as u64).unwrap()), *want);
        }
    }

    #[test]
    fn proof_building_refuses_bad_requests() {
        let mut t = MemoryTree::new();
        for l in vector_leaves() {
            t.push(l);
        }
        assert_eq!(
            inclusion_proof(&t, 8, 8),
            Err(ProofError::IndexOutOfRange { index: 8, size: 8 })
        );
        assert_eq!(
            consistency_proof(&t, 0, 8),
            Err(ProofError::BadSizes { old: 0, new: 8 })
        );
        assert_eq!(
            consistency_proof(&t, 5, 4),
            Err(ProofError::BadSizes { old: 5, new: 4 })
        );
        assert_eq!(consistency_proof(&t, 8, 8), Ok(vec![]));
        assert!(matches!(
            inclusion_proof(&t, 0, 9),
            Err(ProofError::MissingNode { .. })
        ));
    }

    #[test]
    fn verifiers_reject_zero_sizes_and_bad_hashes() {
        let r = empty_root();
        assert_eq!(
            verify_consistency(0, 4, &r, &r, &[]),
            Err(VerifyError::FromEmpty)
        );
        assert_eq!(
            verify_consistency(0, 0, &r, &r, &[]),
            Err(VerifyError::FromEmpty)
        );
        assert_eq!(
            hash_from_slice(&[0u8; 31]),
            Err(VerifyError::BadHashLength(31))
        );
        assert_eq!(
            hash_from_slice(&[0u8; 33]),
            Err(VerifyError::BadHashLength(33))
        );
        assert_eq!(
            verify_inclusion(0, 0, &r, &[], &r),
            Err(VerifyError::IndexOutOfRange { index: 0, size: 0 })
        );
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]

        /// For random sizes, every leaf's proof verifies, the root equals the reference
        /// definition, and every pair of sizes has a verifying consistency proof.
        #[test]
        fn all_proofs_verify(n in 1u64..140, seed in 0u64..1000) {
            let leaves: Vec<Hash> = (0..n).map(|i| leaf_hash(&(seed * 1000 + i).to_le_bytes())).collect();
            let mut t = MemoryTree::new();
            for l in &leaves { t.push(*l); }
            for size in 1..=n {
                let r = root(&t, size).unwrap();
                proptest::prop_assert_eq!(r, naive_root(&leaves[..size as usize]));
                for i in (0..size).step_by(((size / 7) as usize).max(1)) {
                    let p = inclusion_proof(&t, i, size).unwrap();
                    proptest::prop_assert_eq!(verify_inclusion(i, size, &leaves[i as usize], &p, &r), Ok(()));
                }
            }
            for old in (1..=n).step_by(((n / 9) as usize).max(1)) {
                for new in (old..=n).step_by(((n / 11) as usize).max(1)) {
                    let p = consistency_proof(&t, old, new).unwrap();
                    let (ro, rn) = (root(&t, old).unwrap(), root(&t, new).unwrap());
                    proptest::prop_assert_eq!(verify_consistency(old, new, &ro, &rn, &p), Ok(()));
                }
            }
        }

        /// Flipping any single bit of a proof, a leaf or a root is detected.
        #[test]
        fn any_flipped_bit_is_detected(n in 2u64..70, pick in 0u64..1000, bit in 0usize..256, which in 0usize..3) {
            let leaves: Vec<Hash> = (0..n).map(|i| leaf_hash(&i.to_be_bytes())).collect();
            let mut t = MemoryTree::new();
            for l in &leaves { t.push(*l); }
            let i = pick % n;
            let mut p = inclusion_proof(&t, i, n).unwrap();
            let mut leaf = leaves[i as usize];
            let mut r = t.root();
            let flip = |h: &mut Hash| h[bit / 8] ^= 1 << (bit % 8);
            match which {
                0 if !p.is_empty() => { let k = pick as usize % p.len(); flip(&mut p[k]) }
                1 => flip(&mut leaf),
                _ => flip(&mut r),
            }
            proptest::prop_assert!(verify_inclusion(i, n, &leaf, &p, &r).is_err());

            let old = 1 + pick % (n - 1);
            let mut cp = consistency_proof(&t, old, n).unwrap();
            let (mut ro, mut rn) = (root(&t, old).unwrap(), t.root());
            match which {
                0 if !cp.is_empty() => { let k = pick as usize % cp.len(); flip(&mut cp[k]) }
                1 => flip(&mut ro),
                _ => flip(&mut rn),
            }
            proptest::prop_assert!(verify_consistency(old, n, &ro, &rn, &cp).is_err());
        }
    }
}
