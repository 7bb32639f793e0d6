//! The names that go into the store's SQL: its schema and the app's owned tables, checked to
//! be plain identifiers and quoted, so a configured name can never change a statement.

use crate::ConfigError;

/// A checked SQL identifier and its quoted form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Ident {
    name: String,
    quoted: String,
}

impl Ident {
    /// Checks `name` for `what` (`"schema"`, `"table"`, `"column"`): letters, digits and `_`,
    /// not starting with a digit, at most 63 bytes (PostgreSQL's limit). Quoted, so it keeps
    /// its case.
    pub(super) fn of(what: &'static str, name: &str) -> Result<Self, ConfigError> {
        let plain = !name.is_empty()
            && name.len() <= 63
            && !name.starts_with(|c: char| c.is_ascii_digit())
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !plain {
            return Err(ConfigError::InvalidIdentifier {
                what,
                name: name.to_owned(),
            });
        }
        Ok(Self {
            name: name.to_owned(),
            quoted: format!("\"{name}\""),
        })
    }

    /// The store's schema name: an identifier of at most 55 bytes, so that its revocation
    /// channel `<schema>.revoked` fits PostgreSQL's 63.
    pub(super) fn new(schema: &str) -> Result<Self, ConfigError> {
        if schema.len() > 55 {
            return Err(ConfigError::InvalidIdentifier {
                what: "schema",
                name: schema.to_owned(),
            });
        }
        Self::of("schema", schema)
    }

    pub(super) fn name(&self) -> &str {
        &self.name
    }

    pub(super) fn quoted(&self) -> &str {
        &self.quoted
    }
}

/// An app table whose column names the user each row belongs to, with the statement that moves
/// a guest's rows to an account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct OwnedTable {
    /// `"schema"."table"` or `"table"`, for messages.
    pub(super) table: String,
    /// `UPDATE table SET column = $2 WHERE column = $1`.
    pub(super) rewrite: String,
}

impl OwnedTable {
    pub(super) fn new(table: &str, column: &str) -> Result<Self, ConfigError> {
        let table_name = match table.split_once('.') {
            Some((schema, name)) => format!(
                "{}.{}",
                Ident::of("schema", schema)?.quoted(),
                Ident::of("table", name)?.quoted()
            ),
            None => Ident::of("table", table)?.quoted().to_owned(),
        };
        let column = Ident::of("column", column)?;
        let column = column.quoted();
        Ok(Self {
            rewrite: format!("UPDATE {table_name} SET {column} = $2 WHERE {column} = $1"),
            table: table_name,
        })
    }
}

/// `url` with its password replaced by `***`, for messages.
pub(super) fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let Some((userinfo, host)) = rest.rsplit_once('@') else {
        return url.to_owned();
    };
    match userinfo.split_once(':') {
        Some((user, _password)) => format!("{scheme}://{user}:***@{host}"),
        None => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn plain_names_pass_and_are_quoted() {
        assert_eq!(Ident::new("tenant_7").unwrap().quoted(), "\"tenant_7\"");
        let carts = OwnedTable::new("shop.carts", "owner_id").unwrap();
        assert_eq!(
            carts.rewrite,
            "UPDATE \"shop\".\"carts\" SET \"owner_id\" = $2 WHERE \"owner_id\" = $1"
        );
    }

    #[test]
    fn anything_else_is_refused_with_its_name() {
        for bad in [
            "",
            "7up",
            "a-b",
            "a\"b",
            "x; drop table users",
            &"a".repeat(64),
        ] {
            let err = Ident::new(bad).unwrap_err();
            assert_eq!(
                err,
                ConfigError::InvalidIdentifier {
                    what: "schema",
                    name: bad.to_owned()
                }
            );
        }
        assert!(matches!(
            OwnedTable::new("carts", "owner id"),
            Err(ConfigError::InvalidIdentifier { what: "column", .. })
        ));
        assert!(OwnedTable::new("a.b.c", "x").is_err());
    }

    #[test]
    fn a_schema_leaves_room_for_its_revocation_channel() {
        assert!(Ident::new(&"s".repeat(55)).is_ok());
        assert!(
            Ident::new(&"s".repeat(56)).is_err(),
            "`<schema>.revoked` would pass 63 bytes"
        );
        assert!(
            Ident::of("table", &"t".repeat(63)).is_ok(),
            "tables keep the full 63"
        );
    }

    #[test]
    fn passwords_are_redacted() {
        assert_eq!(
            redact_url("postgres://app:s3cret@db:5432/shop"),
            "postgres://app:***@db:5432/shop"
        );
        assert_eq!(redact_url("postgres://db/shop"), "postgres://db/shop");
    }

    proptest! {
        /// Whatever the name, an accepted one quotes to `"name"` with no quote inside.
        #[test]
        fn accepted_names_cannot_break_out_of_their_quotes(name in ".{0,70}") {
            if let Ok(ident) = Ident::new(&name) {
                prop_assert_eq!(ident.quoted().matches('"').count(), 2);
                prop_assert!(ident.name().chars().all(|c| c.is_ascii_alphanumeric() || c == '_'));
            }
        }
    }
}
