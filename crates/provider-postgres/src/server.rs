//! The provider: kinds `role`, `database` and `grant` on one PostgreSQL server.
//!
//! Where the records are: a role's and a database's, what stack last gave it, are in the
//! object's own comment (`COMMENT ON ROLE`), so they live and die with it; a role dropped by
//! hand is simply not found, and the next apply creates it again. A grant has no comment: its
//! record is a row of the table `stack.postgres_grants` in the provider's `database`.

use std::time::Duration;

use postgres::{Client, NoTls};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use stack_provider_sdk::{
    DesiredObject, DriftItem, Effect, Error, FieldSpec, KindSpec, LiveObject, Provider, Result, Shape,
    TypeSpec, field,
};

use crate::sql::{self, DATABASE_PRIVILEGES, Object, RoleOptions};

/// How to reach the server: the `provider` block. No `Debug`: it holds the password.
struct Settings {
    host: String,
    port: u16,
    user: String,
    password: Option<String>,
    database: String,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            host: "localhost".to_owned(),
            port: 5432,
            user: "postgres".to_owned(),
            password: None,
            database: "postgres".to_owned(),
        }
    }
}

#[derive(Default)]
pub struct Postgres {
    settings: Settings,
}

/// What is kept with each object: whose it is, and the `config` it was last given.
#[derive(Debug, Serialize, Deserialize)]
struct Record {
    /// Marks the comment as stack's: `stack-provider-postgres`.
    #[serde(rename = "managed-by")]
    managed_by: String,
    stack: String,
    address: String,
    config: Map<String, Value>,
    /// A role's: the SHA-256 of the password verifier it was given, so that a password
    /// changed by hand shows as drift without anything of the password being kept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    verifier: Option<String>,
}

const MANAGED_BY: &str = "stack-provider-postgres";
const GRANTS_TABLE: &str = "stack.postgres_grants";
/// Grants change a database's row of the catalog, which two transactions cannot change at
/// once ("tuple concurrently updated"): they take turns on this lock.
const ACL_LOCK: &str = "SELECT pg_advisory_xact_lock(7243111)";

impl Record {
    fn new(stack: &str, object: &DesiredObject) -> Self {
        Record {
            managed_by: MANAGED_BY.to_owned(),
            stack: stack.to_owned(),
            address: object.address.clone(),
            config: object.config.clone(),
            verifier: None,
        }
    }

    /// The record in a comment, when the comment is one.
    fn parse(comment: &str) -> Option<Record> {
        serde_json::from_str::<Record>(comment)
            .ok()
            .filter(|record| record.managed_by == MANAGED_BY)
    }

    fn text(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    fn live(self, name: String, drift: Vec<DriftItem>, state: &str) -> LiveObject {
        LiveObject {
            address: self.address,
            name,
            config: self.config,
            drift,
            state: state.to_owned(),
            healthy: None,
        }
    }
}

impl Provider for Postgres {
    fn name(&self) -> &str {
        "postgres"
    }

    fn version(&self) -> &str {
        env!("CARGO_PKG_VERSION")
    }

    fn kinds(&self) -> Vec<KindSpec> {
        let connection_limit = FieldSpec {
            default: Some((-1).into()),
            ..field(
                "connection-limit",
                TypeSpec::Int,
                "How many connections at once; -1 for no limit",
            )
        };
        vec![
            KindSpec {
                name: "role".to_owned(),
                doc: "A role of the server, named STACK_NAME; its password rotates in place".to_owned(),
                fields: vec![
                    FieldSpec {
                        default: Some(true.into()),
                        ..field("login", TypeSpec::Bool, "Whether it may log in")
                    },
                    FieldSpec {
                        sensitive: true,
                        ..field(
                            "password",
                            TypeSpec::String,
                            "Its password; sent to the server as a SCRAM verifier only",
                        )
                    },
                    FieldSpec {
                        default: Some(false.into()),
                        ..field(
                            "create-database",
                            TypeSpec::Bool,
                            "Whether it may create databases",
                        )
                    },
                    FieldSpec {
                        default: Some(false.into()),
                        ..field("create-role", TypeSpec::Bool, "Whether it may create roles")
                    },
                    connection_limit.clone(),
                ],
                ready: "exists".to_owned(),
            },
            KindSpec {
                name: "database".to_owned(),
                doc: "A database of the server, named STACK_NAME".to_owned(),
                fields: vec![
                    connection_limit,
                    field(
                        "owner",
                        TypeSpec::String,
                        "The role that owns it (`${role.app}`); the provider's user without one",
                    ),
                    FieldSpec {
                        default: Some("UTF8".into()),
                        effect: Effect::Replace,
                        ..field(
                            "encoding",
                            // Those any server locale accepts: others need a locale of their own.
                            TypeSpec::Enum(vec!["UTF8".to_owned(), "SQL_ASCII".to_owned()]),
                            "Its character set; a database cannot change it, so a change replaces it",
                        )
                    },
                ],
                ready: "exists".to_owned(),
            },
            KindSpec {
                name: "grant".to_owned(),
                doc: "Privileges of a role on a database".to_owned(),
                fields: vec![
                    FieldSpec {
                        required: true,
                        effect: Effect::Replace,
                        ..field("role", TypeSpec::String, "The role given the privileges")
                    },
                    FieldSpec {
                        required: true,
                        effect: Effect::Replace,
                        ..field("database", TypeSpec::String, "The database they are on")
                    },
                    FieldSpec {
                        required: true,
                        shape: Shape::List,
                        ..field(
                            "privileges",
                            TypeSpec::Enum(DATABASE_PRIVILEGES.map(str::to_owned).to_vec()),
                            "What the role may do on the database",
                        )
                    },
                ],
                ready: "exists".to_owned(),
            },
        ]
    }

    fn config(&self) -> Vec<FieldSpec> {
        vec![
            FieldSpec {
                default: Some("localhost".into()),
                ..field("host", TypeSpec::String, "The server's host name or address")
            },
            FieldSpec {
                default: Some(5432.into()),
                ..field("port", TypeSpec::Int, "The server's port")
            },
            FieldSpec {
                default: Some("postgres".into()),
                ..field(
                    "user",
                    TypeSpec::String,
                    "Who the provider logs in as: a superuser, or a role with CREATEROLE and CREATEDB",
                )
            },
            FieldSpec {
                sensitive: true,
                ..field("password", TypeSpec::String, "The user's password")
            },
            FieldSpec {
                default: Some("postgres".into()),
                ..field(
                    "database",
                    TypeSpec::String,
                    "The database the provider connects to, and keeps the records of grants in",
                )
            },
        ]
    }

    fn configure(&mut self, config: &Map<String, Value>) -> Result<()> {
        let text = |field: &str| config.get(field).and_then(Value::as_str).map(str::to_owned);
        let defaults = Settings::default();
        let port = match config.get("port").and_then(Value::as_i64) {
            Some(port) => u16::try_from(port).map_err(|_| {
                Error::new(format!("port {port} is not a TCP port")).with_hint("write 1 to 65535")
            })?,
            None => defaults.port,
        };
        self.settings = Settings {
            host: text("host").unwrap_or(defaults.host),
            port,
            user: text("user").unwrap_or(defaults.user),
            password: text("password"),
            database: text("database").unwrap_or(defaults.database),
        };
        Ok(())
    }

    fn read(&self, stack: &str, kind: &str) -> Result<Vec<LiveObject>> {
        let mut client = match self.try_connect() {
            Ok(client) => client,
            // Planned from nothing, the server is one of the stack's services, not up yet: it
            // holds nothing. Its objects are created once it is; `create` takes over those
            // that were there all along, when their records say they are the stack's.
            Err(Unreachable::Server(why)) => {
                eprintln!("{why}: no {kind} objects read");
                return Ok(Vec::new());
            }
            Err(Unreachable::Refused(error)) => return Err(error),
        };
        match kind {
            "role" => read_roles(&mut client, stack),
            "database" => read_databases(&mut client, stack),
            "grant" => read_grants(&mut client, stack),
            other => Err(unknown_kind(other)),
        }
    }

    fn create(&self, stack: &str, object: &DesiredObject) -> Result<()> {
        let mut client = self.connect()?;
        match object.kind.as_str() {
            "role" => {
                let ours = already_ours(&mut client, Object::Role, &object.name, stack)?;
                write_role(&mut client, stack, object, !ours)
            }
            "database" => create_database(&mut client, stack, object),
            "grant" => write_grant(&mut client, stack, object, None),
            other => Err(unknown_kind(other)),
        }
    }

    fn update(&self, stack: &str, object: &DesiredObject, live: &LiveObject) -> Result<()> {
        let mut client = self.connect()?;
        match object.kind.as_str() {
            "role" => write_role(&mut client, stack, object, false),
            "database" => update_database(&mut client, stack, object),
            "grant" => write_grant(&mut client, stack, object, Some(live)),
            other => Err(unknown_kind(other)),
        }
    }

    fn delete(&self, stack: &str, live: &LiveObject) -> Result<()> {
        let mut client = self.connect()?;
        let kind = live.address.split('.').rev().nth(1).unwrap_or_default();
        let statement = match kind {
            "role" => sql::drop_role(&live.name)?,
            "database" => sql::drop_database(&live.name)?,
            "grant" => return delete_grant(&mut client, stack, live),
            other => return Err(unknown_kind(other)),
        };
        execute(&mut client, &statement, &format!("delete {}", live.address))
    }

    fn make_drift(&self, _stack: &str, live: &LiveObject) -> Option<Result<()>> {
        let kind = live.address.split('.').rev().nth(1).unwrap_or_default();
        let limit = int(&live.config, "connection-limit", -1).saturating_add(7);
        let statement = match kind {
            "role" => sql::alter_role(
                &live.name,
                &RoleOptions {
                    connection_limit: limit,
                    ..role_options(&live.config)
                },
                None,
            ),
            "database" => sql::alter_database_connection_limit(&live.name, limit),
            "grant" => grant_fields(&live.config)
                .and_then(|(role, database, privileges)| sql::grant(false, &privileges, &database, &role)),
            other => Err(unknown_kind(other)),
        };
        Some(statement.and_then(|statement| {
            let mut client = self.connect()?;
            execute(&mut client, &statement, "change by hand")
        }))
    }
}

impl Postgres {
    /// A connection per call: calls come from many threads, and a connection made when it is
    /// needed finds the server once it is up.
    fn connect(&self) -> Result<Client> {
        self.try_connect().map_err(Unreachable::into_error)
    }

    fn try_connect(&self) -> std::result::Result<Client, Unreachable> {
        let settings = &self.settings;
        let mut config = postgres::Config::new();
        config
            .host(&settings.host)
            .port(settings.port)
            .user(&settings.user)
            .dbname(&settings.database)
            .application_name("stack-provider-postgres")
            .connect_timeout(Duration::from_secs(10));
        if let Some(password) = &settings.password {
            config.password(password);
        }
        config.connect(NoTls).map_err(|error| {
            let message = format!(
                "cannot connect to PostgreSQL at {}:{} as `{}` (database `{}`): {}",
                settings.host,
                settings.port,
                settings.user,
                settings.database,
                reason(&error)
            );
            // The server said no (a wrong password, a database that is not there): it is up.
            if error.as_db_error().is_some() {
                Unreachable::Refused(
                    Error::new(message).with_hint("check the provider block's user, password and database"),
                )
            } else {
                Unreachable::Server(message)
            }
        })
    }
}

/// Why there is no connection.
enum Unreachable {
    /// Nothing answers at the address (yet).
    Server(String),
    /// The server answered, and refused.
    Refused(Error),
}

impl Unreachable {
    fn into_error(self) -> Error {
        match self {
            Unreachable::Server(message) => Error::new(message).with_hint(
                "check the provider block's host and port, and that the server is up \
                 (give the block `depends-on \"db\" condition=\"healthy\"`)",
            ),
            Unreachable::Refused(error) => error,
        }
    }
}

/// What the server said, without the noise of the client's wrapping.
fn reason(error: &postgres::Error) -> String {
    match error.as_db_error() {
        Some(db) => db.message().to_owned(),
        None => error.to_string(),
    }
}

fn failed(doing: &str, error: &postgres::Error) -> Error {
    Error::new(format!("cannot {doing}: {}", reason(error)))
}

fn execute(client: &mut Client, statement: &str, doing: &str) -> Result<()> {
    client
        .batch_execute(statement)
        .map_err(|error| failed(doing, &error))
}

fn unknown_kind(kind: &str) -> Error {
    Error::new(format!("the postgres provider has no kind `{kind}`"))
}

fn int(config: &Map<String, Value>, field: &str, default: i32) -> i32 {
    config
        .get(field)
        .and_then(Value::as_i64)
        .and_then(|value| i32::try_from(value).ok())
        .unwrap_or(default)
}

fn flag(config: &Map<String, Value>, field: &str, default: bool) -> bool {
    config.get(field).and_then(Value::as_bool).unwrap_or(default)
}

fn role_options(config: &Map<String, Value>) -> RoleOptions {
    RoleOptions {
        login: flag(config, "login", true),
        create_database: flag(config, "create-database", false),
        create_role: flag(config, "create-role", false),
        connection_limit: int(config, "connection-limit", -1),
    }
}

fn digest(text: &str) -> String {
    hex::encode(Sha256::digest(text.as_bytes()))
}

/// Whether an object of that name is there, and the stack's; one that is not the stack's is
/// never taken over.
fn already_ours(client: &mut Client, object: Object, name: &str, stack: &str) -> Result<bool> {
    let query = match object {
        Object::Role => "SELECT shobj_description(oid, 'pg_authid') FROM pg_roles WHERE rolname = $1",
        Object::Database => {
            "SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = $1"
        }
    };
    let what = match object {
        Object::Role => "role",
        Object::Database => "database",
    };
    let rows = client
        .query(query, &[&name])
        .map_err(|error| failed(&format!("look up the {what} `{name}`"), &error))?;
    let Some(row) = rows.first() else {
        return Ok(false);
    };
    let owner = row
        .get::<_, Option<String>>(0)
        .as_deref()
        .and_then(Record::parse)
        .map(|record| record.stack);
    let whose = match owner {
        Some(owner) if owner == stack => return Ok(true),
        Some(owner) => format!("it belongs to stack `{owner}`"),
        None => "stack did not create it".to_owned(),
    };
    Err(
        Error::new(format!("the {what} `{name}` already exists, and {whose}")).with_hint(
            "stack never changes what it does not own: drop or rename it, or give the stack another name",
        ),
    )
}

fn read_roles(client: &mut Client, stack: &str) -> Result<Vec<LiveObject>> {
    let rows = client
        .query(
            "SELECT r.rolname, r.rolcanlogin, r.rolcreatedb, r.rolcreaterole, r.rolconnlimit, d.description \
             FROM pg_roles r JOIN pg_shdescription d \
               ON d.objoid = r.oid AND d.classoid = 'pg_authid'::regclass",
            &[],
        )
        .map_err(|error| failed("list the roles", &error))?;
    let mut live = Vec::new();
    for row in rows {
        let Some(record) = Record::parse(row.get(5)).filter(|record| record.stack == stack) else {
            continue;
        };
        let name: String = row.get(0);
        let actual = RoleOptions {
            login: row.get(1),
            create_database: row.get(2),
            create_role: row.get(3),
            connection_limit: row.get(4),
        };
        let wanted = role_options(&record.config);
        let mut drift = Vec::new();
        for (field, differs, value) in [
            ("login", wanted.login != actual.login, Value::from(actual.login)),
            (
                "create-database",
                wanted.create_database != actual.create_database,
                Value::from(actual.create_database),
            ),
            (
                "create-role",
                wanted.create_role != actual.create_role,
                Value::from(actual.create_role),
            ),
            (
                "connection-limit",
                wanted.connection_limit != actual.connection_limit,
                Value::from(actual.connection_limit),
            ),
        ] {
            if differs {
                drift.push(DriftItem {
                    field: field.to_owned(),
                    actual: value,
                });
            }
        }
        if let Some(recorded) = &record.verifier
            && password_verifier(client, &name).is_some_and(|verifier| digest(&verifier) != *recorded)
        {
            // Never the value: stack shows only that it changed.
            drift.push(DriftItem {
                field: "password".to_owned(),
                actual: Value::Null,
            });
        }
        live.push(record.live(name, drift, if actual.login { "can log in" } else { "no login" }));
    }
    Ok(live)
}

/// The role's password verifier, when the provider's user may read it (a superuser may):
/// without it, a password changed by hand goes unseen.
fn password_verifier(client: &mut Client, role: &str) -> Option<String> {
    let row = client
        .query_opt("SELECT rolpassword FROM pg_authid WHERE rolname = $1", &[&role])
        .ok()??;
    row.get::<_, Option<String>>(0)
}

/// Creates the role (`create`) or alters it, with its record, in one transaction.
fn write_role(client: &mut Client, stack: &str, object: &DesiredObject, create: bool) -> Result<()> {
    let options = role_options(&object.config);
    let password = object.value("password").and_then(Value::as_str);
    let verifier = password.map(|password| postgres_protocol::password::scram_sha_256(password.as_bytes()));
    let mut record = Record::new(stack, object);
    record.verifier = verifier.as_deref().map(digest);
    let statement = if create {
        sql::create_role(&object.name, &options, verifier.as_deref())?
    } else if object.config.contains_key("password") && verifier.is_none() {
        // A password the call did not bring along stays as it is.
        sql::alter_role(&object.name, &options, None)?
    } else {
        sql::alter_role(&object.name, &options, Some(verifier.as_deref()))?
    };
    let comment = sql::comment(Object::Role, &object.name, &record.text())?;
    let doing = format!(
        "{} the role `{}` for {}",
        if create { "create" } else { "update" },
        object.name,
        object.address
    );
    execute(client, &format!("BEGIN; {statement}; {comment}; COMMIT"), &doing)
}

fn read_databases(client: &mut Client, stack: &str) -> Result<Vec<LiveObject>> {
    let rows = client
        .query(
            "SELECT d.datname, pg_get_userbyid(d.datdba), d.datconnlimit, s.description \
             FROM pg_database d JOIN pg_shdescription s \
               ON s.objoid = d.oid AND s.classoid = 'pg_database'::regclass",
            &[],
        )
        .map_err(|error| failed("list the databases", &error))?;
    let mut live = Vec::new();
    for row in rows {
        let Some(record) = Record::parse(row.get(3)).filter(|record| record.stack == stack) else {
            continue;
        };
        let owner: String = row.get(1);
        let limit: i32 = row.get(2);
        let mut drift = Vec::new();
        if let Some(wanted) = record.config.get("owner").and_then(Value::as_str)
            && wanted != owner
        {
            drift.push(DriftItem {
                field: "owner".to_owned(),
                actual: owner.into(),
            });
        }
        if int(&record.config, "connection-limit", -1) != limit {
            drift.push(DriftItem {
                field: "connection-limit".to_owned(),
                actual: limit.into(),
            });
        }
        live.push(record.live(row.get(0), drift, "exists"));
    }
    Ok(live)
}

/// `CREATE DATABASE` cannot run in a transaction: the record follows it, and a database left
/// without one is dropped again, so that the next apply can create it.
fn create_database(client: &mut Client, stack: &str, object: &DesiredObject) -> Result<()> {
    if already_ours(client, Object::Database, &object.name, stack)? {
        return update_database(client, stack, object);
    }
    let config = &object.config;
    let statement = sql::create_database(
        &object.name,
        config.get("owner").and_then(Value::as_str),
        config.get("encoding").and_then(Value::as_str).unwrap_or("UTF8"),
        int(config, "connection-limit", -1),
    )?;
    let doing = format!("create the database `{}` for {}", object.name, object.address);
    execute(client, &statement, &doing)?;
    let comment = sql::comment(Object::Database, &object.name, &Record::new(stack, object).text())?;
    execute(client, &comment, &doing).inspect_err(|_| {
        let _ = sql::drop_database(&object.name).map(|drop| client.batch_execute(&drop));
    })
}

/// Owner and connection limit, then the record, in one transaction.
fn update_database(client: &mut Client, stack: &str, object: &DesiredObject) -> Result<()> {
    let config = &object.config;
    let statements = [
        sql::alter_database_owner(&object.name, config.get("owner").and_then(Value::as_str))?,
        sql::alter_database_connection_limit(&object.name, int(config, "connection-limit", -1))?,
        sql::comment(Object::Database, &object.name, &Record::new(stack, object).text())?,
    ];
    let doing = format!("update the database `{}` for {}", object.name, object.address);
    execute(
        client,
        &format!("BEGIN; {}; COMMIT", statements.join("; ")),
        &doing,
    )
}

/// A grant's role, database and privileges.
fn grant_fields(config: &Map<String, Value>) -> Result<(String, String, Vec<String>)> {
    let text = |field: &str| {
        config
            .get(field)
            .and_then(Value::as_str)
            .map(str::to_owned)
            .ok_or_else(|| Error::new(format!("a grant needs `{field}`")))
    };
    let privileges = config
        .get("privileges")
        .and_then(Value::as_array)
        .map(|list| list.iter().filter_map(Value::as_str).map(str::to_owned).collect())
        .unwrap_or_default();
    Ok((text("role")?, text("database")?, privileges))
}

/// The table of grant records, made the first time a grant is written.
fn ensure_grants_table(client: &mut Client) -> Result<()> {
    // Two grants created at once would race to create the table: a lock takes turns.
    execute(
        client,
        &format!(
            "BEGIN; SELECT pg_advisory_xact_lock(7243110); \
             CREATE SCHEMA IF NOT EXISTS stack; \
             CREATE TABLE IF NOT EXISTS {GRANTS_TABLE} \
               (stack text NOT NULL, address text NOT NULL, record jsonb NOT NULL, PRIMARY KEY (stack, address)); \
             COMMIT"
        ),
        "create the table of grant records",
    )
}

fn read_grants(client: &mut Client, stack: &str) -> Result<Vec<LiveObject>> {
    let exists: bool = client
        .query_one("SELECT to_regclass($1) IS NOT NULL", &[&GRANTS_TABLE])
        .map_err(|error| failed("look for the table of grant records", &error))?
        .get(0);
    if !exists {
        return Ok(Vec::new());
    }
    let rows = client
        .query(
            &format!("SELECT record::text FROM {GRANTS_TABLE} WHERE stack = $1"),
            &[&stack],
        )
        .map_err(|error| failed("list the grants", &error))?;
    let mut live = Vec::new();
    for row in rows {
        let Some(record) = Record::parse(row.get(0)) else {
            continue;
        };
        let (role, database, wanted) = grant_fields(&record.config)?;
        let actual = granted(client, &role, &database)?;
        let mut drift = Vec::new();
        if wanted
            .iter()
            .any(|privilege| !actual.contains(&privilege.to_uppercase()))
        {
            drift.push(DriftItem {
                field: "privileges".to_owned(),
                actual: actual.into(),
            });
        }
        let name = format!("{role} on {database}");
        live.push(record.live(name, drift, "granted"));
    }
    Ok(live)
}

/// The privileges `role` has on `database`, in the order of [`DATABASE_PRIVILEGES`]; none
/// when either is gone.
fn granted(client: &mut Client, role: &str, database: &str) -> Result<Vec<String>> {
    let rows = client
        .query(
            "SELECT a.privilege_type FROM pg_database d, \
               aclexplode(COALESCE(d.datacl, acldefault('d', d.datdba))) a \
             WHERE d.datname = $1 AND a.grantee = (SELECT oid FROM pg_roles WHERE rolname = $2)",
            &[&database, &role],
        )
        .map_err(|error| {
            failed(
                &format!("read the privileges of `{role}` on `{database}`"),
                &error,
            )
        })?;
    let have: Vec<String> = rows.iter().map(|row| row.get(0)).collect();
    Ok(DATABASE_PRIVILEGES
        .into_iter()
        .filter(|privilege| have.iter().any(|held| held == privilege))
        .map(str::to_owned)
        .collect())
}

/// Grants what `object` lists, revokes what `live` had and `object` no longer lists, and
/// records it.
fn write_grant(
    client: &mut Client,
    stack: &str,
    object: &DesiredObject,
    live: Option<&LiveObject>,
) -> Result<()> {
    ensure_grants_table(client)?;
    let (role, database, privileges) = grant_fields(&object.config)?;
    let mut statements = vec!["BEGIN".to_owned(), ACL_LOCK.to_owned()];
    if let Some(live) = live {
        let (_, _, before) = grant_fields(&live.config)?;
        let dropped: Vec<String> = before
            .into_iter()
            .filter(|privilege| !privileges.iter().any(|kept| kept.eq_ignore_ascii_case(privilege)))
            .collect();
        if !dropped.is_empty() {
            statements.push(sql::grant(false, &dropped, &database, &role)?);
        }
    }
    if !privileges.is_empty() {
        statements.push(sql::grant(true, &privileges, &database, &role)?);
    }
    statements.push("COMMIT".to_owned());
    let doing = format!("grant {} to `{role}` on `{database}`", object.address);
    client
        .batch_execute(&statements.join("; "))
        .and_then(|()| {
            client.execute(
                &format!(
                    "INSERT INTO {GRANTS_TABLE} (stack, address, record) VALUES ($1, $2, $3::text::jsonb) \
                     ON CONFLICT (stack, address) DO UPDATE SET record = excluded.record"
                ),
                &[&stack, &object.address, &Record::new(stack, object).text()],
            )
        })
        .map(|_| ())
        .map_err(|error| failed(&doing, &error))
}

/// Revokes what the grant gave, where its role and database are still there, and forgets it.
fn delete_grant(client: &mut Client, stack: &str, live: &LiveObject) -> Result<()> {
    let (role, database, privileges) = grant_fields(&live.config)?;
    let doing = format!("delete {}", live.address);
    let both_exist: bool = client
        .query_one(
            "SELECT EXISTS (SELECT FROM pg_roles WHERE rolname = $1) \
               AND EXISTS (SELECT FROM pg_database WHERE datname = $2)",
            &[&role, &database],
        )
        .map_err(|error| failed(&doing, &error))?
        .get(0);
    if both_exist && !privileges.is_empty() {
        let revoke = sql::grant(false, &privileges, &database, &role)?;
        execute(client, &format!("BEGIN; {ACL_LOCK}; {revoke}; COMMIT"), &doing)?;
    }
    client
        .execute(
            &format!("DELETE FROM {GRANTS_TABLE} WHERE stack = $1 AND address = $2"),
            &[&stack, &live.address],
        )
        .map(|_| ())
        .map_err(|error| failed(&doing, &error))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_comments_written_by_the_provider_are_records() {
        assert!(Record::parse("the application's role").is_none());
        assert!(
            Record::parse(r#"{"managed-by":"someone","stack":"s","address":"role.a","config":{}}"#).is_none()
        );
        let object = DesiredObject {
            kind: "role".to_owned(),
            address: "role.app".to_owned(),
            name: "shop_app".to_owned(),
            config: Map::from_iter([("login".to_owned(), true.into())]),
            secrets: Map::from_iter([("password".to_owned(), "hunter2".into())]),
        };
        let text = Record::new("shop", &object).text();
        assert!(!text.contains("hunter2"), "{text}");
        let record = Record::parse(&text).expect("a record");
        assert_eq!(
            (record.stack.as_str(), record.address.as_str()),
            ("shop", "role.app")
        );
        assert_eq!(record.config, object.config);
    }

    #[test]
    fn role_options_fill_in_the_schemas_defaults() {
        let config = Map::from_iter([("create-role".to_owned(), true.into())]);
        assert_eq!(
            role_options(&config),
            RoleOptions {
                login: true,
                create_database: false,
                create_role: true,
                connection_limit: -1,
            }
        );
    }
}
