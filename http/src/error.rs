//! The one place where failures become HTTP responses in Pulp's shapes.

use serde_json::{Value, json};
use warp::http::StatusCode;

/// An error answered to the client.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 400 with Pulp's body: `{"field": ["message", …]}` (or a list, or `{"errors": […]}`).
    #[error("bad request: {0}")]
    BadRequest(Value),
    /// 401.
    #[error("{0}")]
    Unauthenticated(&'static str),
    /// 403.
    #[error("permission denied")]
    Forbidden,
    /// 403 with the CSRF check's reason (`CSRF Failed: …`).
    #[error("{0}")]
    Csrf(String),
    /// 404 `{"detail": …}`.
    #[error("{0}")]
    NotFound(String),
    /// 405.
    #[error("method {0} not allowed")]
    MethodNotAllowed(String),
    /// 409 with a body.
    #[error("conflict")]
    Conflict(Value),
    /// 413.
    #[error("request body too large")]
    TooLarge,
    /// 503: a dependency (database, writer) is unavailable.
    #[error("{0}")]
    Unavailable(String),
    /// 500: a bug or an unexpected failure; logged, answered without internals.
    #[error("{0}")]
    Internal(String),
}

impl ApiError {
    /// A 400 for one field.
    pub fn field(field: &str, msg: impl Into<String>) -> ApiError {
        ApiError::BadRequest(json!({ field: [msg.into()] }))
    }

    /// Pulp's 404 for a model: `No <Model> matches the given query.`
    pub fn not_found(model: &str) -> ApiError {
        ApiError::NotFound(format!("No {model} matches the given query."))
    }

    /// Status and JSON body.
    pub fn parts(&self) -> (StatusCode, Value) {
        match self {
            ApiError::BadRequest(v) => (StatusCode::BAD_REQUEST, v.clone()),
            ApiError::Unauthenticated(m) => (StatusCode::UNAUTHORIZED, json!({ "detail": m })),
            ApiError::Forbidden => (
                StatusCode::FORBIDDEN,
                json!({ "detail": "You do not have permission to perform this action." }),
            ),
            ApiError::Csrf(m) => (StatusCode::FORBIDDEN, json!({ "detail": m })),
            ApiError::NotFound(m) => (StatusCode::NOT_FOUND, json!({ "detail": m })),
            ApiError::MethodNotAllowed(m) => (
                StatusCode::METHOD_NOT_ALLOWED,
                json!({ "detail": format!("Method \"{m}\" not allowed.") }),
            ),
            ApiError::Conflict(v) => (StatusCode::CONFLICT, v.clone()),
            ApiError::TooLarge => (
                StatusCode::PAYLOAD_TOO_LARGE,
                json!({ "detail": "Request body too large." }),
            ),
            ApiError::Unavailable(m) => (StatusCode::SERVICE_UNAVAILABLE, json!({ "detail": m })),
            ApiError::Internal(m) => {
                tracing::error!(error = %m, "internal error");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    json!({ "detail": "Internal server error." }),
                )
            }
        }
    }
}

impl From<pith_entities::DbError> for ApiError {
    fn from(e: pith_entities::DbError) -> ApiError {
        match e {
            pith_entities::DbError::WriterGone => {
                ApiError::Unavailable("The server is shutting down.".into())
            }
            other => ApiError::Internal(other.to_string()),
        }
    }
}

impl From<pith_entities::sea_orm::DbErr> for ApiError {
    fn from(e: pith_entities::sea_orm::DbErr) -> ApiError {
        ApiError::Internal(format!("database: {e}"))
    }
}

impl From<pith_actors::tasking::TaskingError> for ApiError {
    fn from(e: pith_actors::tasking::TaskingError) -> ApiError {
        match e {
            pith_actors::tasking::TaskingError::Db(d) => d.into(),
        }
    }
}

impl From<pith_entities::StoreError> for ApiError {
    fn from(e: pith_entities::StoreError) -> ApiError {
        ApiError::Internal(e.to_string())
    }
}

/// Collects field errors the way DRF does (every field checked, then all errors at once).
#[derive(Debug, Default)]
pub struct FieldErrors(serde_json::Map<String, Value>);

impl FieldErrors {
    /// Adds a message for a field.
    pub fn add(&mut self, field: &str, msg: impl Into<String>) {
        let entry = self
            .0
            .entry(field.to_owned())
            .or_insert_with(|| Value::Array(Vec::new()));
        if let Value::Array(a) = entry {
            a.push(Value::String(msg.into()));
        }
    }

    /// Ok when empty, else the 400.
    pub fn into_result(self) -> Result<(), ApiError> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(ApiError::BadRequest(Value::Object(self.0)))
        }
    }
}
