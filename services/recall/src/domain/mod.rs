//! Pure recall rules: which version of an entry the read model keeps; who holds recalled
//! data and what their receipts do (`recall`).

pub mod recall;

/// A newer version replaces an older one; a repeat or an older one changes nothing, so
/// events arriving out of order cannot roll the read model back.
pub fn supersedes(incoming: u32, stored: Option<u32>) -> bool {
    stored.is_none_or(|s| incoming > s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_newer_version_replaces_the_stored_one() {
        assert!(supersedes(1, None));
        assert!(supersedes(2, Some(1)));
        assert!(!supersedes(1, Some(1)));
        assert!(!supersedes(1, Some(2)));
    }
}
