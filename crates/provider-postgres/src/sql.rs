//! The statements the provider sends, built from values of stack files. Names are quoted as
//! identifiers and values as literals here, and only here: the statements that take no
//! parameters (`CREATE ROLE`, `COMMENT ON`, `GRANT`) are built from these pieces, so nothing
//! written in a stack file can end a literal or an identifier early.

use stack_provider_sdk::{Error, Result};

/// The longest identifier PostgreSQL keeps; a longer one would be cut, silently.
const MAX_IDENTIFIER: usize = 63;

/// The privileges a grant on a database may give, as the SQL keywords.
pub const DATABASE_PRIVILEGES: [&str; 3] = ["CONNECT", "CREATE", "TEMPORARY"];

/// `name` as a quoted identifier: `"app"`, `"my ""quoted"" role"`.
pub fn identifier(name: &str) -> Result<String> {
    if name.is_empty() || name.len() > MAX_IDENTIFIER || name.contains('\0') {
        return Err(Error::new(format!(
            "`{name}` cannot be a PostgreSQL name: it must have 1 to {MAX_IDENTIFIER} bytes and no NUL"
        ))
        .with_hint("give the resource a shorter name, or the stack a shorter one"));
    }
    Ok(format!("\"{}\"", name.replace('"', "\"\"")))
}

/// `text` as a string literal, whatever `standard_conforming_strings` says: with a backslash
/// in it, an escape string (`E'...'`) whose backslashes are doubled.
pub fn literal(text: &str) -> Result<String> {
    if text.contains('\0') {
        return Err(Error::new("a PostgreSQL string cannot hold a NUL character"));
    }
    let quoted = text.replace('\'', "''");
    Ok(if quoted.contains('\\') {
        format!("E'{}'", quoted.replace('\\', "\\\\"))
    } else {
        format!("'{quoted}'")
    })
}

/// What a role may do, as stack files say it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleOptions {
    pub login: bool,
    pub create_database: bool,
    pub create_role: bool,
    pub connection_limit: i32,
}

impl RoleOptions {
    /// `LOGIN NOCREATEDB ... CONNECTION LIMIT -1`, then the password: `verifier` is its SCRAM
    /// verifier, made here, so the password itself never reaches the server or its logs;
    /// `Some(None)` removes the password, `None` leaves it as it is.
    fn clause(&self, verifier: Option<Option<&str>>) -> Result<String> {
        let flag = |on: bool, name: &str| if on { name.to_owned() } else { format!("NO{name}") };
        let mut clause = format!(
            "{} {} {} CONNECTION LIMIT {}",
            flag(self.login, "LOGIN"),
            flag(self.create_database, "CREATEDB"),
            flag(self.create_role, "CREATEROLE"),
            self.connection_limit
        );
        match verifier {
            Some(Some(verifier)) => clause.push_str(&format!(" PASSWORD {}", literal(verifier)?)),
            Some(None) => clause.push_str(" PASSWORD NULL"),
            None => {}
        }
        Ok(clause)
    }
}

pub fn create_role(name: &str, options: &RoleOptions, verifier: Option<&str>) -> Result<String> {
    Ok(format!(
        "CREATE ROLE {} WITH {}",
        identifier(name)?,
        options.clause(Some(verifier))?
    ))
}

pub fn alter_role(name: &str, options: &RoleOptions, verifier: Option<Option<&str>>) -> Result<String> {
    Ok(format!(
        "ALTER ROLE {} WITH {}",
        identifier(name)?,
        options.clause(verifier)?
    ))
}

pub fn drop_role(name: &str) -> Result<String> {
    Ok(format!("DROP ROLE IF EXISTS {}", identifier(name)?))
}

/// What kind of object a comment is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Object {
    Role,
    Database,
}

impl Object {
    fn keyword(self) -> &'static str {
        match self {
            Object::Role => "ROLE",
            Object::Database => "DATABASE",
        }
    }
}

pub fn comment(object: Object, name: &str, text: &str) -> Result<String> {
    Ok(format!(
        "COMMENT ON {} {} IS {}",
        object.keyword(),
        identifier(name)?,
        literal(text)?
    ))
}

/// A new database, copied from `template0` so that any encoding may be asked for; owned by
/// `owner`, or by the provider's user without one.
pub fn create_database(
    name: &str,
    owner: Option<&str>,
    encoding: &str,
    connection_limit: i32,
) -> Result<String> {
    let owner = match owner {
        Some(owner) => format!(" OWNER {}", identifier(owner)?),
        None => String::new(),
    };
    Ok(format!(
        "CREATE DATABASE {}{owner} ENCODING {} TEMPLATE template0 CONNECTION LIMIT {connection_limit}",
        identifier(name)?,
        literal(encoding)?
    ))
}

pub fn alter_database_owner(name: &str, owner: Option<&str>) -> Result<String> {
    let owner = match owner {
        Some(owner) => identifier(owner)?,
        None => "CURRENT_USER".to_owned(),
    };
    Ok(format!("ALTER DATABASE {} OWNER TO {owner}", identifier(name)?))
}

pub fn alter_database_connection_limit(name: &str, limit: i32) -> Result<String> {
    Ok(format!(
        "ALTER DATABASE {} CONNECTION LIMIT {limit}",
        identifier(name)?
    ))
}

/// Drops the database even while clients are connected to it (PostgreSQL 13 and later).
pub fn drop_database(name: &str) -> Result<String> {
    Ok(format!(
        "DROP DATABASE IF EXISTS {} WITH (FORCE)",
        identifier(name)?
    ))
}

/// `GRANT` (or `REVOKE`) privileges on a database to (from) a role. Each privilege must be
/// one of [`DATABASE_PRIVILEGES`]: the keyword sent is this crate's, never the file's text.
pub fn grant(give: bool, privileges: &[String], database: &str, role: &str) -> Result<String> {
    let keywords = privileges
        .iter()
        .map(|wanted| {
            DATABASE_PRIVILEGES
                .into_iter()
                .find(|known| known.eq_ignore_ascii_case(wanted))
                .ok_or_else(|| {
                    Error::new(format!("`{wanted}` is not a privilege on a database"))
                        .with_hint(format!("write one of {}", DATABASE_PRIVILEGES.join(", ")))
                })
        })
        .collect::<Result<Vec<_>>>()?;
    let (verb, direction) = if give { ("GRANT", "TO") } else { ("REVOKE", "FROM") };
    Ok(format!(
        "{verb} {} ON DATABASE {} {direction} {}",
        keywords.join(", "),
        identifier(database)?,
        identifier(role)?
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_are_quoted_and_their_quotes_doubled() {
        assert_eq!(identifier("app").as_deref(), Ok("\"app\""));
        assert_eq!(
            identifier("shop_app\"; DROP ROLE postgres; --").as_deref(),
            Ok("\"shop_app\"\"; DROP ROLE postgres; --\"")
        );
        assert_eq!(identifier("Mixed-Case").as_deref(), Ok("\"Mixed-Case\""));
    }

    #[test]
    fn names_postgres_would_cut_or_cannot_hold_are_refused() {
        assert!(identifier("").is_err());
        assert!(identifier(&"a".repeat(64)).is_err());
        assert!(identifier(&"a".repeat(63)).is_ok());
        assert!(identifier("a\0b").is_err());
    }

    #[test]
    fn literals_double_quotes_and_escape_backslashes() {
        assert_eq!(literal("UTF8").as_deref(), Ok("'UTF8'"));
        assert_eq!(literal("it's'); DROP").as_deref(), Ok("'it''s''); DROP'"));
        assert_eq!(literal(r"a\'b").as_deref(), Ok(r"E'a\\''b'"));
        assert!(literal("a\0").is_err());
    }

    #[test]
    fn a_role_is_created_with_its_options_and_its_verifier_never_its_password() {
        let options = RoleOptions {
            login: true,
            create_database: false,
            create_role: true,
            connection_limit: -1,
        };
        assert_eq!(
            create_role("shop_app", &options, Some("SCRAM-SHA-256$4096:c2FsdA==$a:b")).as_deref(),
            Ok(
                "CREATE ROLE \"shop_app\" WITH LOGIN NOCREATEDB CREATEROLE CONNECTION LIMIT -1 PASSWORD 'SCRAM-SHA-256$4096:c2FsdA==$a:b'"
            )
        );
        let options = RoleOptions {
            login: false,
            connection_limit: 3,
            ..options
        };
        assert_eq!(
            alter_role("shop_app", &options, Some(None)).as_deref(),
            Ok("ALTER ROLE \"shop_app\" WITH NOLOGIN NOCREATEDB CREATEROLE CONNECTION LIMIT 3 PASSWORD NULL")
        );
        assert_eq!(
            alter_role("shop_app", &options, None).as_deref(),
            Ok("ALTER ROLE \"shop_app\" WITH NOLOGIN NOCREATEDB CREATEROLE CONNECTION LIMIT 3")
        );
    }

    #[test]
    fn databases_are_created_from_template0_with_owner_and_encoding() {
        assert_eq!(
            create_database("shop_app", Some("shop_app"), "UTF8", -1).as_deref(),
            Ok(
                "CREATE DATABASE \"shop_app\" OWNER \"shop_app\" ENCODING 'UTF8' TEMPLATE template0 CONNECTION LIMIT -1"
            )
        );
        assert_eq!(
            create_database("d", None, "x'; DROP DATABASE postgres; --", 2).as_deref(),
            Ok(
                "CREATE DATABASE \"d\" ENCODING 'x''; DROP DATABASE postgres; --' TEMPLATE template0 CONNECTION LIMIT 2"
            )
        );
        assert_eq!(
            alter_database_owner("d", None).as_deref(),
            Ok("ALTER DATABASE \"d\" OWNER TO CURRENT_USER")
        );
        assert_eq!(
            drop_database("d").as_deref(),
            Ok("DROP DATABASE IF EXISTS \"d\" WITH (FORCE)")
        );
    }

    #[test]
    fn comments_hold_any_text_as_a_literal() {
        assert_eq!(
            comment(Object::Role, "r", r#"{"a":"it's"}"#).as_deref(),
            Ok(r#"COMMENT ON ROLE "r" IS '{"a":"it''s"}'"#)
        );
    }

    #[test]
    fn grants_send_known_keywords_only() {
        let privileges = ["connect".to_owned(), "TEMPORARY".to_owned()];
        assert_eq!(
            grant(true, &privileges, "shop", "app").as_deref(),
            Ok("GRANT CONNECT, TEMPORARY ON DATABASE \"shop\" TO \"app\"")
        );
        assert_eq!(
            grant(false, &privileges[..1], "shop", "app").as_deref(),
            Ok("REVOKE CONNECT ON DATABASE \"shop\" FROM \"app\"")
        );
        let error = grant(true, &["ALL; DROP TABLE x".to_owned()], "shop", "app").expect_err("refused");
        assert!(error.message.contains("not a privilege"), "{error:?}");
    }
}
