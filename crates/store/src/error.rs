//! What can go wrong in the local store.

/// A store failure. None of these is the person's fault; the app reports them as "storage".
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("database: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("schema migration: {0}")]
    Migration(#[from] rusqlite_migration::Error),
    /// A stored value that the domain cannot read back, e.g. an unknown unit code.
    #[error("stored data is not readable: {what}")]
    Corrupt { what: String },
}

impl From<sqlite_rows::Error> for Error {
    fn from(error: sqlite_rows::Error) -> Self {
        match error {
            sqlite_rows::Error::Sqlite(error) => Error::Sqlite(error),
            sqlite_rows::Error::Corrupt(what) => Error::Corrupt { what },
        }
    }
}

impl Error {
    pub(crate) fn corrupt(what: impl Into<String>) -> Error {
        Error::Corrupt { what: what.into() }
    }
}
