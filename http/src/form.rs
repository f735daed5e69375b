//! Multipart forms with at most one `file` part (artifact and content uploads): the file is
//! streamed into the artifact store's temporary area while it is hashed; other parts are
//! small text fields.

use pith_entities::ArtifactStore;
use pith_entities::store::TempArtifact;
use serde_json::json;

use crate::{ApiError, Req};

/// A read form.
#[derive(Debug, Default)]
pub struct Form {
    /// The `file` part, hashed, not yet in the store.
    pub file: Option<TempArtifact>,
    /// The text parts in order (untrimmed).
    pub fields: Vec<(String, String)>,
}

impl Form {
    /// The first text field named `name`.
    pub fn get(&self, name: &str) -> Option<String> {
        self.fields
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
    }
}

/// Reads a form sent as `multipart/form-data`, urlencoded or JSON (JSON values that are not
/// strings become their JSON text, e.g. a `downloader_config` object).
pub async fn read_any(
    req: &mut Req,
    store: &ArtifactStore,
    max_text: usize,
) -> Result<Form, ApiError> {
    let ct = req
        .header("content-type")
        .unwrap_or("")
        .to_ascii_lowercase();
    if ct.starts_with("multipart/") {
        return read(req, store, max_text).await;
    }
    let body = req.object(max_text.saturating_mul(16)).await?;
    let fields = body
        .into_iter()
        .map(|(k, v)| match v {
            serde_json::Value::String(s) => (k, s),
            other => (k, other.to_string()),
        })
        .collect();
    Ok(Form { file: None, fields })
}

/// The boundary of a `multipart/form-data` content type (Pulp's 400 for another type).
fn boundary(content_type: &str) -> Result<String, ApiError> {
    multer::parse_boundary(content_type).map_err(|_| {
        ApiError::BadRequest(
            json!({ "detail": format!("Unsupported media type \"{content_type}\" in request.") }),
        )
    })
}

fn bad(e: multer::Error) -> ApiError {
    ApiError::BadRequest(json!({ "detail": format!("Multipart form parse error - {e}") }))
}

/// One text part, whole; longer than `max_text` bytes is a 400 naming it.
async fn text(
    field: &mut multer::Field<'_>,
    name: &str,
    max_text: usize,
) -> Result<String, ApiError> {
    let mut text = Vec::new();
    while let Some(chunk) = field.chunk().await.map_err(bad)? {
        if text.len() + chunk.len() > max_text {
            return Err(ApiError::field(
                name,
                format!("Ensure this field has no more than {max_text} characters."),
            ));
        }
        text.extend_from_slice(&chunk);
    }
    Ok(String::from_utf8_lossy(&text).into_owned())
}

/// Reads a `multipart/form-data` body; a text field longer than `max_text` bytes is a 400.
pub async fn read(req: &mut Req, store: &ArtifactStore, max_text: usize) -> Result<Form, ApiError> {
    let boundary = boundary(req.header("content-type").unwrap_or(""))?;
    let mut form = Form::default();
    let Some(body) = req.take_body() else {
        return Ok(form);
    };
    let mut mp = multer::Multipart::new(body, boundary);
    while let Some(mut field) = mp.next_field().await.map_err(bad)? {
        let name = field.name().unwrap_or("").to_owned();
        if name == "file" {
            let mut t = store.temp().await?;
            while let Some(chunk) = field.chunk().await.map_err(bad)? {
                t.write(&chunk).await?;
            }
            form.file = Some(t);
        } else {
            let value = text(&mut field, &name, max_text).await?;
            form.fields.push((name, value));
        }
    }
    Ok(form)
}

/// The text parts of a multipart body (the `file` part skipped, unread), the first of each
/// name: what an access condition looks at before the handler reads the form itself.
pub(crate) async fn text_fields(
    body: crate::request::BodyStream,
    content_type: &str,
    max_text: usize,
) -> Result<serde_json::Map<String, serde_json::Value>, ApiError> {
    let mut mp = multer::Multipart::new(body, boundary(content_type)?);
    let mut fields = serde_json::Map::new();
    while let Some(mut field) = mp.next_field().await.map_err(bad)? {
        let name = field.name().unwrap_or("").to_owned();
        if name == "file" {
            continue;
        }
        let value = text(&mut field, &name, max_text).await?;
        fields
            .entry(name)
            .or_insert(serde_json::Value::String(value));
    }
    Ok(fields)
}
