//! Counts in messages: `1 page`, `2 pages`, `0 referrals`.

/// `n` and `noun`, the noun with an `s` unless `n` is 1 (every noun the CLI counts takes one).
pub fn count(n: impl TryInto<u64>, noun: &str) -> String {
    match n.try_into().unwrap_or(u64::MAX) {
        1 => format!("1 {noun}"),
        n => format!("{n} {noun}s"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_is_singular_and_every_other_count_plural() {
        assert_eq!(count(0u64, "page"), "0 pages");
        assert_eq!(count(1u64, "page"), "1 page");
        assert_eq!(count(2u32, "request"), "2 requests");
        assert_eq!(count(1usize, "synthetic referral"), "1 synthetic referral");
        assert_eq!(
            count(250usize, "synthetic referral"),
            "250 synthetic referrals"
        );
    }
}
