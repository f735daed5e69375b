//! Chunked uploads become artifacts (`commit`), and content can be created from an upload or
//! from a URL: the bytes are assembled or downloaded, hashed, verified when a checksum was
//! given, and only then stored.

use crate::tasks::TaskError;
use pith_entities::entity::{artifact, remote};
use pith_entities::store::TempArtifact;
use pith_entities::time::now_micros;
use serde_json::Value;
use tokio::io::AsyncReadExt;

use super::{TaskContext, TaskOutput};

/// What assembling and fetching need: the database and the artifact store (the API uses them
/// too, for its synchronous upload endpoint).
#[derive(Clone, Copy, Debug)]
pub struct Deps<'a> {
    /// The database.
    pub db: &'a pith_entities::Db,
    /// The artifact store.
    pub store: &'a pith_entities::ArtifactStore,
}

impl<'a> From<&'a super::TaskDeps> for Deps<'a> {
    fn from(d: &'a super::TaskDeps) -> Self {
        Deps {
            db: &d.db,
            store: &d.store,
        }
    }
}

/// Concatenates an upload's chunks (they must cover it exactly), verifies `sha256` when given,
/// stores the artifact (or re-uses the stored one with the same bytes) and deletes the upload.
pub async fn assemble(
    deps: &Deps<'_>,
    upload: &str,
    sha256: Option<&str>,
) -> Result<artifact::Model, TaskError> {
    let db = deps.db;
    let size = pith_entities::uploads::size(db, upload)
        .await?
        .ok_or_else(|| TaskError::invalid("The upload no longer exists."))?;
    let chunks = pith_entities::uploads::chunks(db, upload).await?;
    let mut at = 0i64;
    for c in &chunks {
        if c.offset != at {
            return Err(TaskError::Invalid(format!(
                "The upload is incomplete: bytes {at}-{} were never sent.",
                c.offset - 1
            )));
        }
        at += c.size;
    }
    if at != size {
        return Err(TaskError::Invalid(format!(
            "The upload is incomplete: {at} of {size} bytes were sent."
        )));
    }
    let mut t = deps.store.temp().await?;
    let mut buf = vec![0u8; 256 * 1024];
    for c in &chunks {
        let mut f = tokio::fs::File::open(deps.store.path_of(&c.file)).await?;
        loop {
            let n = f.read(&mut buf).await?;
            if n == 0 {
                break;
            }
            t.write(&buf[..n]).await?;
        }
    }
    let a = store_verified(deps, t, sha256, || {
        "The provided sha256 value does not match the sha256 of the uploaded file.".to_owned()
    })
    .await?;
    // The chunk files go with the rows (the artifact has its own copy).
    for f in pith_entities::uploads::delete(db, upload).await? {
        let _ = deps.store.remove(&f).await;
    }
    Ok(a)
}

/// Finishes `t`, checks its sha256 against `expected` (if any) and stores it.
async fn store_verified(
    deps: &Deps<'_>,
    mut t: TempArtifact,
    expected: Option<&str>,
    mismatch: impl FnOnce() -> String,
) -> Result<artifact::Model, TaskError> {
    let d = t.finish().await?;
    if expected.is_some_and(|s| !s.eq_ignore_ascii_case(&d.sha256)) {
        return Err(TaskError::Invalid(mismatch()));
    }
    let (a, _) = pith_entities::artifacts::store(deps.db, deps.store, t, &d).await?;
    Ok(a)
}

/// Downloads `url` with the options of `config` (a remote's fields, validated by the API) and
/// stores it as an artifact.
pub async fn fetch_url(
    deps: &Deps<'_>,
    url: &str,
    config: &Value,
) -> Result<artifact::Model, TaskError> {
    let now = now_micros();
    let mut r = remote::Model {
        pulp_id: String::new(),
        // A throwaway remote that only carries the connection options: never stored.
        pulp_type: String::new(),
        name: "file_url".into(),
        url: url.to_owned(),
        pulp_created: now,
        pulp_last_updated: now,
        pulp_labels: "{}".into(),
        policy: "immediate".into(),
        ca_cert: None,
        client_cert: None,
        client_key: None,
        tls_validation: true,
        proxy_url: None,
        proxy_username: None,
        proxy_password: None,
        username: None,
        password: None,
        max_retries: None,
        total_timeout: None,
        connect_timeout: None,
        sock_connect_timeout: None,
        sock_read_timeout: None,
        headers: "[]".into(),
        download_concurrency: None,
        rate_limit: None,
    };
    if let Some(cfg) = config.as_object() {
        use pith_entities::sea_orm::{IntoActiveModel, TryIntoModel};
        let mut am = r.into_active_model();
        for (k, v) in cfg {
            pith_entities::remotes::set_field(&mut am, k, v).map_err(TaskError::Invalid)?;
        }
        r = am
            .try_into_model()
            .map_err(|e| TaskError::Invalid(format!("downloader_config: {e}")))?;
    }
    let client = crate::download::client(&r)?;
    let t = crate::download::download_to_temp(deps.store, &client, &r, url).await?;
    store_verified(deps, t, None, String::new).await
}

/// `pulpcore.app.tasks.upload.commit`: `{v3, upload, sha256}`.
pub(super) async fn commit(ctx: TaskContext) -> Result<TaskOutput, TaskError> {
    let arg = |k: &str| {
        ctx.args
            .get(k)
            .and_then(Value::as_str)
            .ok_or_else(|| TaskError::Invalid(format!("Missing argument '{k}'.")))
    };
    let (v3, upload, sha256) = (arg("v3")?, arg("upload")?, arg("sha256")?);
    let a = assemble(&(&*ctx.deps).into(), upload, Some(sha256)).await?;
    Ok(TaskOutput {
        result: None,
        created: vec![(
            format!("{v3}artifacts/{}/", a.pulp_id),
            format!("prn:core.artifact:{}", a.pulp_id),
        )],
    })
}
