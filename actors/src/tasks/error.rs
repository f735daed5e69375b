//! Why a task body failed, in the terms that decide what happens next: a user error is
//! reported and forgotten, a remote failure may go away on a retry, an infrastructure failure
//! is logged as an error of the node. [`TaskError::description`] is the one mapping to Pulp's
//! task `error` (`{"description": …}`).

use crate::download::DownloadError;
use pith_entities::DbError;
use pith_entities::store::StoreError;

/// A failed task body.
#[derive(Debug, thiserror::Error)]
pub enum TaskError {
    /// The task cannot do what it was asked (its objects are gone, a version would break a
    /// repository's rules, an argument is missing): the user's to fix.
    #[error("{0}")]
    Invalid(String),
    /// An upstream failed or sent bytes that are not what it declared.
    #[error(transparent)]
    Remote(#[from] DownloadError),
    /// The database failed.
    #[error("Database error: {0}")]
    Database(String),
    /// The artifact store failed.
    #[error(transparent)]
    Storage(#[from] StoreError),
}

impl TaskError {
    /// A user error with this message.
    pub fn invalid(msg: impl Into<String>) -> TaskError {
        TaskError::Invalid(msg.into())
    }

    /// Pulp's `error.description`.
    pub fn description(&self) -> String {
        self.to_string()
    }

    /// Whether the node, not the request, is at fault (logged as an error).
    pub fn is_infrastructure(&self) -> bool {
        matches!(self, TaskError::Database(_) | TaskError::Storage(_))
    }
}

impl From<std::io::Error> for TaskError {
    fn from(e: std::io::Error) -> TaskError {
        TaskError::Storage(StoreError::Io(e))
    }
}

impl From<DbError> for TaskError {
    fn from(e: DbError) -> TaskError {
        TaskError::Database(e.to_string())
    }
}

impl From<pith_entities::sea_orm::DbErr> for TaskError {
    fn from(e: pith_entities::sea_orm::DbErr) -> TaskError {
        TaskError::Database(e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn descriptions_and_kinds() {
        let e = TaskError::invalid("The remote no longer exists.");
        assert_eq!(e.description(), "The remote no longer exists.");
        assert!(!e.is_infrastructure());
        let e = TaskError::from(DbError::WriterGone);
        assert_eq!(
            e.description(),
            "Database error: the database writer has stopped"
        );
        assert!(e.is_infrastructure());
        let e = TaskError::from(DownloadError::Status {
            status: 404,
            reason: "Not Found",
            url: "http://h/x".into(),
        });
        assert_eq!(e.description(), "404 Not Found for url http://h/x");
    }
}
