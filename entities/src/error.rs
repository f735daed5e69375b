//! The persistence layer's error type.

/// What can go wrong below the HTTP and actor layers.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// The database refused or failed a statement.
    #[error("database error: {0}")]
    Db(#[from] sea_orm::DbErr),
    /// The database URL is not one Pith can use.
    #[error("unsupported database URL {0:?}: use sqlite://PATH or postgres://USER@HOST/DB")]
    UnsupportedUrl(String),
    /// The batching writer has stopped (the process is shutting down).
    #[error("the database writer has stopped")]
    WriterGone,
    /// A stored value could not be decoded (a row written by something else).
    #[error("corrupt row: {0}")]
    Corrupt(String),
}
