//! `stack-provider-postgres`: databases, roles and grants on a PostgreSQL server, like
//! Terraform's PostgreSQL provider, written with the Rust SDK and run outside `stack`.

mod server;
mod sql;

fn main() -> std::process::ExitCode {
    stack_provider_sdk::serve(server::Postgres::default())
}
