//! The README's error-code table must match `AuthError::code` and `AuthError::status`.

use tower_anonymous_auth::{AuthError, StoreError};

#[test]
fn the_error_code_table_matches_the_code() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/README.md");
    let readme = std::fs::read_to_string(path).unwrap();
    let section = readme
        .split("\n## Error codes\n")
        .nth(1)
        .expect("an \"## Error codes\" section in the README");
    let table = section.split("\n## ").next().unwrap_or_default();
    let rows: Vec<(String, u16)> = table
        .lines()
        .filter(|line| line.starts_with("| `"))
        .map(|line| {
            let cells: Vec<&str> = line.split('|').map(str::trim).collect();
            let code = cells[1].trim_matches('`').to_owned();
            let status = cells[2].split(' ').next().unwrap().parse().unwrap();
            (code, status)
        })
        .collect();
    let errors = [
        AuthError::AnonymousCannotSignInAgain,
        AuthError::InvalidEmail,
        AuthError::WeakPassword { min: 8, max: 128 },
        AuthError::Unauthenticated,
        AuthError::InvalidCredentials,
        AuthError::InvalidToken,
        AuthError::RegisteredUserRequired,
        AuthError::NotOwner,
        AuthError::IdentityTaken,
        AuthError::from(StoreError::IdentityTaken),
        AuthError::IdentityEmailInUse,
        AuthError::InvalidIdentity,
        AuthError::LastSignInMethod,
        AuthError::InvalidEmailCode,
        AuthError::EmailNotSent,
        AuthError::CrossSiteRequest,
        AuthError::EmailTaken,
        AuthError::from(StoreError::EmailTaken),
        AuthError::AlreadyRegistered,
        AuthError::RateLimited {
            retry_after_secs: 3,
        },
        AuthError::Busy {
            retry_after_secs: 1,
        },
        AuthError::LinkFailed("x".into()),
        AuthError::LayerMissing,
        AuthError::Store(StoreError::Corrupt("x".into())),
        AuthError::Internal("x".into()),
        AuthError::Store(StoreError::Unavailable("x".into())),
    ];
    for error in &errors {
        let row = rows.iter().find(|(code, _)| code == error.code());
        assert_eq!(
            row.map(|(_, status)| *status),
            Some(error.status().as_u16()),
            "{} is missing or has the wrong status in the README's error-code table",
            error.code()
        );
    }
    let codes: std::collections::BTreeSet<&str> = errors.iter().map(AuthError::code).collect();
    assert_eq!(
        codes.len(),
        rows.len(),
        "every row of the table is a real code"
    );
}
