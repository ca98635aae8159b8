//! [`StoreSpec`]: which database a library string names. A
//! `postgres://` / `postgresql://` URL is a PostgreSQL server
//! ([`crate::postgres`]); anything else is the path of a SQLite file
//! ([`crate::sqlite`]), as it always was.

use std::path::PathBuf;
use std::time::Duration;

use resonode_core::Result;

use crate::postgres::{is_postgres_url, PgTarget, PostgresStore};
use crate::sqlite::{SqliteStore, DEFAULT_BUSY_TIMEOUT};
use crate::store::Store;

/// A library database, named but not opened.
#[derive(Debug, Clone)]
pub enum StoreSpec {
    /// A SQLite file (created on first use).
    Sqlite(PathBuf),
    /// A PostgreSQL server.
    Postgres(Box<PgTarget>),
}

/// How to open a [`StoreSpec`]; each option applies to one backend.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct OpenOptions {
    /// SQLite: how long a write waits for another connection's lock
    /// (default [`DEFAULT_BUSY_TIMEOUT`]).
    pub busy_timeout: Option<Duration>,
    /// PostgreSQL: the limit of each connection attempt (default: the
    /// URL's `connect_timeout`, else
    /// [`crate::postgres::DEFAULT_CONNECT_TIMEOUT`]).
    pub connect_timeout: Option<Duration>,
}

impl StoreSpec {
    /// Reads a library string: a PostgreSQL URL or a file path.
    ///
    /// # Errors
    /// `Error::InvalidParameter` for a malformed PostgreSQL URL or an
    /// unknown parameter or `sslmode` in it (see [`PgTarget::parse`]). Paths are not checked
    /// here (see [`SqliteStore::open`]).
    pub fn parse(s: &str) -> Result<StoreSpec> {
        if is_postgres_url(s) {
            Ok(StoreSpec::Postgres(Box::new(PgTarget::parse(s)?)))
        } else {
            Ok(StoreSpec::Sqlite(PathBuf::from(s)))
        }
    }

    /// Where the data lives: the file path, or the URL without its password.
    pub fn location(&self) -> String {
        match self {
            StoreSpec::Sqlite(p) => p.display().to_string(),
            StoreSpec::Postgres(t) => t.location().to_string(),
        }
    }

    /// Opens the database (a PostgreSQL store connects now).
    ///
    /// # Errors
    /// See [`SqliteStore::open`] and [`PostgresStore::connect`].
    pub fn open(&self, options: &OpenOptions) -> Result<Box<dyn Store>> {
        Ok(match self {
            StoreSpec::Sqlite(p) => Box::new(SqliteStore::open(p, options.busy_timeout.unwrap_or(DEFAULT_BUSY_TIMEOUT))?),
            StoreSpec::Postgres(t) => Box::new(PostgresStore::connect(t, options.connect_timeout)?),
        })
    }
}
