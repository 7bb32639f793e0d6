//! Email normalisation: what makes two spellings of one address the same account.

/// Longest address accepted (RFC 5321 path limit).
const MAX_EMAIL_LEN: usize = 254;
/// Longest local part accepted (RFC 5321).
const MAX_LOCAL_LEN: usize = 64;

/// Trims and lowercases `email`, then checks that it is a plausible address:
/// `local@domain.tld`, one `@`, no whitespace or control characters, a domain of non-empty
/// dot-separated labels, at most 254 characters; `None` for anything else (callers answer
/// `AuthError::InvalidEmail`).
///
/// This is a plausibility check, not RFC 5322 validation: only a confirmation email proves
/// that an address works.
pub(crate) fn normalize_email(email: &str) -> Option<String> {
    let email = email.trim().to_lowercase();
    if email.is_empty() || email.len() > MAX_EMAIL_LEN {
        return None;
    }
    if email
        .chars()
        .any(|c| c.is_whitespace() || c.is_control() || matches!(c, '<' | '>' | ',' | ';'))
    {
        return None;
    }
    let (local, domain) = email.split_once('@')?;
    let local_ok = !local.is_empty() && local.len() <= MAX_LOCAL_LEN;
    let labels: Vec<&str> = domain.split('.').collect();
    let domain_ok = labels.len() >= 2
        && labels.iter().all(|label| {
            !label.is_empty()
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.chars().all(|c| c.is_alphanumeric() || c == '-')
        });
    (local_ok && domain_ok).then_some(email)
}

/// The compact form (see [`compact_email`]) of a placeholder at the default domain.
pub(crate) const DEFAULT_COMPACT_PLACEHOLDER: &str = "@anonymous.invalid";

/// The domain of placeholder emails unless configured (`temp-{id}@anonymous.invalid`).
pub(crate) const DEFAULT_PLACEHOLDER_DOMAIN: &str = DEFAULT_COMPACT_PLACEHOLDER.split_at(1).1;

/// The compact form of an email, for storage and tokens: `@domain` when it is the
/// placeholder `temp-{id}@domain` of user `id`, the email itself otherwise.
pub(crate) fn compact_email<'a>(id: &str, email: &'a str) -> &'a str {
    email
        .strip_prefix(PLACEHOLDER_PREFIX)
        .and_then(|rest| rest.strip_prefix(id))
        .filter(|domain| domain.starts_with('@') && !domain[1..].contains('@'))
        .unwrap_or(email)
}

/// The user id a placeholder email (`temp-{id}@{domain}`) names. Stores keep no index entry
/// for a user's own placeholder: the email finds its user by itself.
pub(crate) fn placeholder_owner(email: &str) -> Option<&str> {
    let (local, _domain) = email.rsplit_once('@')?;
    local
        .strip_prefix(PLACEHOLDER_PREFIX)
        .filter(|id| !id.is_empty())
}

/// [`compact_email`] of an owned email, shortened in place.
pub(crate) fn into_compact_email(id: &str, mut email: String) -> String {
    let cut = email.len() - compact_email(id, &email).len();
    email.drain(..cut);
    email
}

/// The email a compact form stands for (real emails never start with `@`).
pub(crate) fn full_email(id: &str, compact: String) -> String {
    if compact.starts_with('@') {
        [PLACEHOLDER_PREFIX, id, &compact].concat()
    } else {
        compact
    }
}

/// The default placeholder email of user `id`: `temp-{id}@{domain}`.
pub(crate) fn placeholder_email(id: &str, domain: &str) -> String {
    [PLACEHOLDER_PREFIX, id, "@", domain].concat()
}

/// What every default placeholder email starts with.
const PLACEHOLDER_PREFIX: &str = "temp-";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholder_email_has_a_compact_form() {
        assert_eq!(compact_email("42", "temp-42@example.com"), "@example.com");
        assert_eq!(
            compact_email("42", "temp-43@example.com"),
            "temp-43@example.com"
        );
        assert_eq!(compact_email("42", "temp-42@a@b"), "temp-42@a@b");
        assert_eq!(
            full_email("42", "@example.com".into()),
            "temp-42@example.com"
        );
        assert_eq!(
            placeholder_email("42", "example.com"),
            "temp-42@example.com"
        );
        for email in ["temp-42@example.com", "temp-43@example.com", "a@b.c", ""] {
            assert_eq!(
                into_compact_email("42", email.to_owned()),
                compact_email("42", email)
            );
            let compact = into_compact_email("42", email.to_owned());
            assert_eq!(full_email("42", compact), email);
        }
    }

    #[test]
    fn trims_and_lowercases() {
        assert_eq!(
            normalize_email("  Ann.Lee+shop@Example.COM \n").unwrap(),
            "ann.lee+shop@example.com"
        );
        assert_eq!(normalize_email("a@b.io").unwrap(), "a@b.io");
        assert_eq!(normalize_email("ü@bücher.de").unwrap(), "ü@bücher.de");
    }

    #[test]
    fn rejects_implausible_addresses() {
        for bad in [
            "",
            "   ",
            "ann",
            "ann@",
            "@example.com",
            "ann@example",
            "ann@@example.com",
            "ann@exa mple.com",
            "ann@example..com",
            "ann@.example.com",
            "ann@example.com.",
            "ann@-example.com",
            "ann@exa_mple.com",
            "a\u{0}b@example.com",
            "Ann <ann@example.com>",
        ] {
            assert_eq!(normalize_email(bad), None, "{bad:?}");
        }
        let long_local = format!("{}@example.com", "a".repeat(65));
        assert_eq!(normalize_email(&long_local), None);
        let long = format!("a@{}.com", "b".repeat(260));
        assert_eq!(normalize_email(&long), None);
    }
}
