//! Which server probes which target, when several share one store: rendezvous (highest
//! random weight) hashing over the live members' names. Every server computes it from the
//! same member list and gets the same answer, without talking to the others; when a member
//! leaves, only its targets move, and when one joins it takes about its share, each from
//! the server that had it.

use sha2::{Digest, Sha256};

/// The weight of `member` for `target`: the first 8 bytes of SHA-256 over both names
/// (length-prefixed, so that no two pairs of names hash the same bytes). SHA-256 rather
/// than a faster hash because every server, whatever its version, must compute it alike.
pub fn weight(member: &str, target: &str) -> u64 {
    let mut h = Sha256::new();
    h.update((member.len() as u64).to_be_bytes());
    h.update(member.as_bytes());
    h.update(target.as_bytes());
    let d = h.finalize();
    u64::from_be_bytes(d[..8].try_into().expect("8 bytes"))
}

/// The member that probes `target`: the one of highest weight (ties, which SHA-256 makes
/// all but impossible, go to the first name in order). `None` without members.
pub fn owner<'a>(target: &str, members: &'a [String]) -> Option<&'a str> {
    members
        .iter()
        .map(|m| (weight(m, target), std::cmp::Reverse(m)))
        .max()
        .map(|(_, std::cmp::Reverse(m))| m.as_str())
}

/// The targets of `targets` that `me` probes among `members`.
pub fn owned<'t>(
    targets: impl IntoIterator<Item = &'t str>,
    members: &[String],
    me: &str,
) -> std::collections::BTreeSet<String> {
    targets
        .into_iter()
        .filter(|t| owner(t, members) == Some(me))
        .map(str::to_string)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(n: &[&str]) -> Vec<String> {
        n.iter().map(|s| s.to_string()).collect()
    }

    fn targets(n: usize) -> Vec<String> {
        (0..n).map(|i| format!("target-{i}")).collect()
    }

    #[test]
    fn every_target_has_exactly_one_owner_and_the_shares_are_even() {
        let members = names(&["a", "b", "c"]);
        let ts = targets(3000);
        let shares: Vec<_> = members
            .iter()
            .map(|m| owned(ts.iter().map(String::as_str), &members, m))
            .collect();
        assert_eq!(shares.iter().map(|s| s.len()).sum::<usize>(), 3000);
        for (i, a) in shares.iter().enumerate() {
            for b in &shares[i + 1..] {
                assert!(a.is_disjoint(b));
            }
            // 1,000 expected each; six standard deviations (about 26 each) either side.
            assert!((850..=1150).contains(&a.len()), "{}", a.len());
        }
    }

    #[test]
    fn a_member_leaving_moves_only_its_own_targets() {
        let all = names(&["a", "b", "c", "d"]);
        let without_c = names(&["a", "b", "d"]);
        for t in targets(2000) {
            let before = owner(&t, &all).unwrap();
            let after = owner(&t, &without_c).unwrap();
            if before != "c" {
                assert_eq!(before, after, "{t} moved although its owner stayed");
            } else {
                assert_ne!(after, "c");
            }
        }
    }

    #[test]
    fn a_member_joining_takes_targets_only_for_itself() {
        let before = names(&["a", "b"]);
        let after = names(&["a", "b", "c"]);
        let mut taken = 0;
        for t in targets(2000) {
            let (x, y) = (owner(&t, &before).unwrap(), owner(&t, &after).unwrap());
            if x != y {
                assert_eq!(y, "c", "{t} moved from {x} to {y}, not to the newcomer");
                taken += 1;
            }
        }
        assert!((500..=834).contains(&taken), "{taken}");
    }

    #[test]
    fn the_order_of_the_member_list_does_not_matter() {
        let x = names(&["a", "b", "c"]);
        let y = names(&["c", "a", "b"]);
        for t in targets(500) {
            assert_eq!(owner(&t, &x), owner(&t, &y));
        }
        assert_eq!(owner("t", &[]), None);
    }

    #[test]
    fn weights_are_fixed_across_builds() {
        // Servers of one installation must agree: the function may never change.
        assert_ne!(weight("ab", "c"), weight("a", "bc"));
        // SHA-256 of 00..08 "server-1" "api", its first 8 bytes big-endian (computed apart).
        assert_eq!(weight("server-1", "api"), 11_204_003_628_368_110_544);
    }
}
