//! Pull-through caching (Pulp's `Distribution.remote`): a distribution that names a remote
//! serves a path it has no content at by asking the remote's type for the upstream URL
//! ([`PullThrough::url`]) and streaming it from there through the node's fetchers. The
//! verified bytes become content of the type the remote's type chooses
//! ([`PullThrough::content`]), with a remote artifact at that URL, so the next request for the
//! path finds it and is served from the store; when the distribution's repository type adds
//! pulled content (Pulp's `PULL_THROUGH_SUPPORTED`), an `add_and_remove` task puts it in a new
//! version. `streamed` remotes and paths the type keeps nothing of (metadata) are only
//! streamed.

use std::sync::Arc;

use pith_actors::fetch::{self, Keep, Source};
use pith_actors::plugin::{PullThrough, PulledArtifact, Types};

use crate::plugin::Platform;
use pith_actors::tasking::{TaskSpec, Tasking};
use pith_entities::content::{NewContent, RemoteArtifact};
use pith_entities::entity::{remote, repository};
use pith_entities::sea_orm::{EntityTrait, TransactionTrait};
use pith_entities::{ArtifactStore, Db, Digests, TempArtifact};
use serde_json::json;

use crate::content_index::{Dist, Remote as Pending, Stored};
use crate::request::Response;
use crate::{ApiError, HttpState, Req};

/// Serves `rel` of `d` through its remote; `None` when it has none, the remote's type has no
/// pull-through or no upstream URL for the path (the caller answers 404).
pub async fn serve(
    state: &HttpState,
    req: &Req,
    d: &Dist,
    rel: &str,
    content_type: &str,
) -> Result<Option<Response>, ApiError> {
    let Some(remote_id) = &d.remote_id else {
        return Ok(None);
    };
    let Some(remote) = remote::Entity::find_by_id(remote_id.clone())
        .one(&state.db.read)
        .await?
    else {
        return Ok(None);
    };
    let types = &state.platform.types;
    let Some(hooks) = types.pull_through(&remote.pulp_type).copied() else {
        return Ok(None);
    };
    let Some(url) = (hooks.url)(&remote, rel) else {
        return Ok(None);
    };
    if let Some(known) = pith_entities::content::pulled_through(&state.db, remote_id, &url).await? {
        add_to_repository(
            &state.tasking,
            types,
            &state.config.v3(),
            d,
            &known.content_id,
        )
        .await;
        let stored = pith_entities::content::stored_artifact(&state.db, &known.content_artifact)
            .await?
            .map(Stored::from_row);
        if let Some(a) = stored {
            return Ok(Some(crate::content::serve_file(state, req, &a, rel).await?));
        }
        // Pulled by a `streamed` remote before, or its stored file was reclaimed.
        if let Some(sha256) = known.sha256 {
            let pending = Arc::new(Pending {
                content_artifact: known.content_artifact,
                sha256,
                size: known.size.map(|n| n as u64),
            });
            return Ok(Some(
                crate::on_demand::serve(state, req, &pending, content_type).await?,
            ));
        }
    }
    let keep = if remote.policy == "streamed" {
        Keep::Nothing
    } else {
        let pulled = Pulled {
            db: state.db.clone(),
            store: state.store.clone(),
            tasking: state.tasking.clone(),
            platform: state.platform.clone(),
            v3: state.config.v3(),
            hooks,
            dist: d.clone(),
            remote: remote.pulp_id.clone(),
            relative_path: rel.to_owned(),
            url: url.clone(),
        };
        Keep::With(Box::new(move |temp, digests| {
            Box::pin(async move { pulled.keep(temp, digests).await })
        }))
    };
    let request = fetch::Request {
        key: format!("pull-through {} {url}", remote.pulp_id),
        sources: vec![Source {
            remote_artifact: None,
            url,
            remote,
        }],
        sha256: None,
        size: None,
        keep,
    };
    Ok(Some(
        crate::on_demand::stream(state, req, request, content_type).await?,
    ))
}

/// What a pull-through keeps once its bytes are verified.
struct Pulled {
    db: Db,
    store: ArtifactStore,
    tasking: Tasking,
    platform: Arc<Platform>,
    v3: String,
    hooks: PullThrough,
    dist: Dist,
    remote: String,
    relative_path: String,
    url: String,
}

impl Pulled {
    /// Turns the bytes into content (or nothing), logging failures: the client has its
    /// verified bytes either way, and the next request pulls again.
    async fn keep(self, temp: TempArtifact, d: Digests) {
        match self.save(temp, &d).await {
            Ok(Some(content)) => {
                pith_entities::content_generation::changed(&self.db).await;
                let types = &self.platform.types;
                add_to_repository(&self.tasking, types, &self.v3, &self.dist, &content).await;
            }
            Ok(None) => {}
            Err(e) => {
                tracing::error!(url = %self.url, error = %e, "could not keep pulled-through content")
            }
        }
    }

    async fn save(&self, temp: TempArtifact, d: &Digests) -> Result<Option<String>, String> {
        let file = temp.path().ok_or("the temporary file is gone")?.to_owned();
        let artifact = PulledArtifact {
            relative_path: &self.relative_path,
            file: &file,
            sha256: &d.sha256,
            size: d.size,
        };
        let Some(unit) = (self.hooks.content)(&artifact)? else {
            return Ok(None);
        };
        let ct = self
            .platform
            .types
            .content(unit.content_type)
            .ok_or_else(|| {
                format!(
                    "the remote's type declares unknown content type {}",
                    unit.content_type
                )
            })?;
        let (a, _) = pith_entities::artifacts::store(&self.db, &self.store, temp, d)
            .await
            .map_err(|e| e.to_string())?;
        let db = &self.db;
        let txn = db.write.begin().await.map_err(|e| e.to_string())?;
        let new = NewContent {
            key: unit.key,
            fields: unit.fields,
            artifacts: vec![(self.relative_path.clone(), Some(a.pulp_id))],
            labels: None,
        };
        let ids = pith_entities::content::find_or_create(
            db,
            &txn,
            ct.detail.pulp_type,
            &ct.table,
            std::slice::from_ref(&new),
        )
        .await
        .map_err(|e| e.to_string())?;
        let content = ids.into_iter().next().ok_or("no content was made")?;
        let remote_artifact = RemoteArtifact {
            content_id: content.clone(),
            relative_path: self.relative_path.clone(),
            url: self.url.clone(),
            size: Some(d.size),
            sha256: Some(d.sha256.clone()),
        };
        pith_entities::content::record_remote_artifacts(db, &txn, &self.remote, &[remote_artifact])
            .await
            .map_err(|e| e.to_string())?;
        txn.commit().await.map_err(|e| e.to_string())?;
        Ok(Some(content))
    }
}

/// Pulp's `pull_through_add_content`: dispatches an `add_and_remove` of `content` into the
/// distribution's repository when its type adds pulled content and the latest version lacks
/// it. Failures are logged: serving does not depend on them.
async fn add_to_repository(tasking: &Tasking, types: &Types, v3: &str, d: &Dist, content: &str) {
    let Some(repo) = &d.repository_id else {
        return;
    };
    let db = &tasking.deps.db;
    let outcome: Result<(), String> = async {
        let Some(r) = repository::Entity::find_by_id(repo.clone())
            .one(&db.read)
            .await
            .map_err(|e| e.to_string())?
        else {
            return Ok(());
        };
        let Some(t) = types
            .repository(&r.pulp_type)
            .filter(|t| t.pull_through_add)
        else {
            return Ok(());
        };
        if pith_entities::versions::latest_contains(db, repo, content)
            .await
            .map_err(|e| e.to_string())?
        {
            return Ok(());
        }
        let domain = pith_entities::nodes::default_domain(db)
            .await
            .map_err(|e| e.to_string())?
            .ok_or("the default domain is missing")?;
        let spec = TaskSpec {
            name: pith_actors::tasks::ADD_AND_REMOVE.into(),
            args: json!({
                "v3": v3,
                "repository": repo,
                "add": [content],
                "remove": [],
            }),
            exclusive: vec![t.detail.prn(repo)],
            shared: vec![format!("prn:core.domain:{domain}")],
            immediate: true,
            deferred: true,
            ..TaskSpec::default()
        };
        tasking.dispatch(spec).await.map_err(|e| e.to_string())?;
        Ok(())
    }
    .await;
    if let Err(e) = outcome {
        tracing::error!(repository = %repo, error = %e, "could not add pulled-through content");
    }
}
