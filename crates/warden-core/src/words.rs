//! Counts as people read them, for every text a person reads (pages, CLI tables, event summaries).

/// A count with its noun: "1 rollback", "2 rollbacks", "0 entries".
pub fn counted(n: impl Into<i128>, one: &str, many: &str) -> String {
    let n = n.into();
    format!("{n} {}", noun(n, one, many))
}

/// The noun for a count shown apart from it.
pub fn noun<'a>(n: impl Into<i128>, one: &'a str, many: &'a str) -> &'a str {
    if n.into() == 1 { one } else { many }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_is_singular_every_other_count_plural() {
        assert_eq!(counted(1u64, "entry", "entries"), "1 entry");
        assert_eq!(counted(0, "entry", "entries"), "0 entries");
        assert_eq!(counted(-1i64, "entry", "entries"), "-1 entries");
        assert_eq!(noun(2u32, "rollback", "rollbacks"), "rollbacks");
    }
}
