//! pulp_file's viewsets: the standard ones of its remote, repository, publication and
//! distribution types (built by core from the [`ViewSet`] declarations here), and those only
//! file has: `content/file/files/` (create from a file, artifact, upload or URL as a
//! `general_create` task; the synchronous `upload/`; list with repository-version filters;
//! show), `sync/` and publication create.

use pith_actors::tasking::TaskSpec;
use pith_actors::tasks::GENERAL_CREATE;
use pith_actors::tasks::upload;
use pith_entities::entity::artifact;
use pith_entities::sea_orm::EntityTrait;
use pith_http::access_policy::{Scoping, ViewSetPolicy};
use pith_http::api::content::ContentQuery;
use pith_http::api::repositories::version_by_ref;
use pith_http::api::{Ctx, accepted, check_relative_path, ok, parse_id};
use pith_http::error::FieldErrors;
use pith_http::listing::{self, id_from_ref, lookup};
use pith_http::openapi::{Body, label, list, op, read};
use pith_http::plugin::{RepositoryViewSet, ViewSet};
use pith_http::request::Response;
use pith_http::router::{Endpoint, handler};
use pith_http::{ApiError, Req};
use serde_json::{Value, json};

use crate::content::{content_json, find_or_create, load};
use crate::models::{
    FILE_CONTENT, FILE_DISTRIBUTION, FILE_PUBLICATION, FILE_REMOTE, FILE_REPOSITORY,
};

/// `remotes/file/file/`.
pub const REMOTES: ViewSet = ViewSet {
    detail: FILE_REMOTE,
    tag: "Remotes: File",
    serializer: "file.FileRemote",
    href_param: "file_file_remote_href",
};

/// `repositories/file/file/` and its versions.
pub const REPOSITORIES: RepositoryViewSet = RepositoryViewSet {
    repositories: ViewSet {
        detail: FILE_REPOSITORY,
        tag: "Repositories: File",
        serializer: "file.FileRepository",
        href_param: "file_file_repository_href",
    },
    versions_tag: "Repositories: File Versions",
    version_href_param: "file_file_repository_version_href",
    repository_pk: "file_file_repository_pk",
    remote_types: &[FILE_REMOTE],
};

/// `publications/file/file/`.
pub const PUBLICATIONS: ViewSet = ViewSet {
    detail: FILE_PUBLICATION,
    tag: "Publications: File",
    serializer: "file.FilePublication",
    href_param: "file_file_publication_href",
};

/// `distributions/file/file/`.
pub const DISTRIBUTIONS: ViewSet = ViewSet {
    detail: FILE_DISTRIBUTION,
    tag: "Distributions: File",
    serializer: "file.FileDistribution",
    href_param: "file_file_distribution_href",
};

/// `content/file/files/`.
pub const CONTENT: ViewSet = ViewSet {
    detail: FILE_CONTENT.detail,
    tag: "Content: Files",
    serializer: "file.FileContent",
    href_param: "file_file_content_href",
};

pub const FILTERS: [&str; 21] = [
    "pulp_label_select",
    "relative_path",
    "relative_path__iexact",
    "relative_path__in",
    "relative_path__contains",
    "relative_path__icontains",
    "relative_path__startswith",
    "relative_path__istartswith",
    "relative_path__regex",
    "relative_path__iregex",
    "sha256",
    "digest",
    "repository_version",
    "repository_version_added",
    "repository_version_removed",
    "added_between",
    "removed_between",
    "pulp_id__in",
    "pulp_href__in",
    "prn__in",
    "orphaned_for",
];

/// Orderable fields of `content/file/files/`.
pub const ORDERABLE: [&str; 4] = ["pk", "pulp_id", "pulp_created", "pulp_last_updated"];

/// Where a new content unit's bytes come from.
enum Source {
    /// A file sent with the request (hashed, not yet stored).
    File(Box<pith_entities::store::TempArtifact>),
    /// A stored artifact (its id).
    Artifact(String),
    /// A chunked upload (its id).
    Upload(String),
    /// A URL to download, with a remote's options.
    Url(String, Value),
}

/// A validated content-create form.
struct NewContent {
    relative_path: String,
    source: Source,
    repository: Option<String>,
    overwrite: bool,
    labels: Option<Value>,
}

/// Validates the fields of `content/file/files/` (and of its `upload/`, without `repository`).
async fn parse_new(ctx: &Ctx, req: &mut Req, with_repo: bool) -> Result<NewContent, ApiError> {
    let v3 = ctx.v3();
    let form = pith_http::form::read_any(req, &ctx.state.store, 65536).await?;
    let fields = form.fields;
    let mut errs = FieldErrors::default();
    let get = |k: &str| fields.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    let rel = get("relative_path");
    match &rel {
        None => errs.add("relative_path", "This field is required."),
        Some(p) => {
            if let Err(m) = check_relative_path(p) {
                errs.add("relative_path", m);
            }
        }
    }
    let mut sources = Vec::new();
    if let Some(t) = form.file {
        sources.push(Source::File(Box::new(t)));
    }
    if let Some(h) = get("artifact") {
        match id_from_ref(&v3, "artifacts", "core.artifact", &h) {
            Some(id)
                if artifact::Entity::find_by_id(id.clone())
                    .one(&ctx.state.db.read)
                    .await?
                    .is_some() =>
            {
                sources.push(Source::Artifact(id))
            }
            _ => errs.add("artifact", "Invalid hyperlink - Object does not exist."),
        }
    }
    if let Some(h) = get("upload") {
        match pith_http::api::uploads::resolve(ctx, &h).await {
            Some(id) => sources.push(Source::Upload(id)),
            None => errs.add("upload", "Invalid hyperlink - Object does not exist."),
        }
    }
    let config = match get("downloader_config") {
        None => Value::Null,
        Some(text) => match serde_json::from_str::<Value>(&text) {
            Ok(Value::Object(m)) => {
                Value::Object(pith_http::api::remotes::validate_options(ctx, &m).await?)
            }
            _ => {
                errs.add("downloader_config", "Value must be valid JSON.");
                Value::Null
            }
        },
    };
    if let Some(url) = get("file_url") {
        let url = url.trim().to_owned();
        if url.starts_with("http://") || url.starts_with("https://") {
            sources.push(Source::Url(url, config));
        } else {
            errs.add("file_url", "Enter a valid URL.");
        }
    }
    let mut repo = None;
    if let Some(h) = get("repository").filter(|h| !h.is_empty() && with_repo) {
        match id_from_ref(
            &v3,
            FILE_REPOSITORY.collection,
            FILE_REPOSITORY.prn_type,
            &h,
        ) {
            Some(id)
                if pith_http::api::repositories::load(ctx, &id, &REPOSITORIES)
                    .await
                    .is_ok() =>
            {
                repo = Some(id)
            }
            _ => errs.add("repository", "Invalid hyperlink - Object does not exist."),
        }
    }
    let overwrite = match get("overwrite").as_deref() {
        None | Some("true" | "True") => true,
        Some("false" | "False") => false,
        Some(_) => {
            errs.add("overwrite", "Must be a valid boolean.");
            true
        }
    };
    let labels = match get("pulp_labels") {
        None => None,
        Some(text) => match serde_json::from_str::<Value>(&text) {
            Ok(v) => match listing::validate_labels(&v) {
                Ok(()) => Some(v),
                Err(e) => {
                    errs.add("pulp_labels", e);
                    None
                }
            },
            Err(_) => {
                errs.add("pulp_labels", "Value must be valid JSON.");
                None
            }
        },
    };
    for (k, _) in &fields {
        match k.as_str() {
            "relative_path" | "artifact" | "upload" | "file_url" | "downloader_config"
            | "pulp_labels" => {}
            "repository" | "overwrite" if with_repo => {}
            other => errs.add(other, "Unexpected field"),
        }
    }
    if sources.len() != 1 {
        errs.add(
            "non_field_errors",
            "Exactly one of 'file', 'artifact', 'upload' or 'file_url' must be specified.",
        );
    }
    errs.into_result()?;
    let (Some(relative_path), Some(source)) = (rel, sources.pop()) else {
        return Err(ApiError::Internal(
            "validated form without its fields".into(),
        ));
    };
    Ok(NewContent {
        relative_path,
        source,
        repository: repo,
        overwrite,
        labels,
    })
}

/// `POST content/file/files/` → 202: a `general_create` task (a sent file is stored as an
/// artifact first, as Pulp does; an upload or URL is turned into one by the task).
pub async fn create(ctx: &Ctx, req: &mut Req) -> Result<Response, ApiError> {
    let new = parse_new(ctx, req, true).await?;
    let v3 = ctx.v3();
    let mut args = json!({ "table": FILE_CONTENT.table.name, "v3": v3,
                           "relative_path": new.relative_path, "repository": new.repository,
                           "overwrite": new.overwrite, "pulp_labels": new.labels });
    let mut exclusive: Vec<String> = new
        .repository
        .iter()
        .map(|r| FILE_REPOSITORY.prn(r))
        .collect();
    match new.source {
        Source::File(mut t) => {
            let d = t.finish().await?;
            let (a, _) =
                pith_entities::artifacts::store(&ctx.state.db, &ctx.state.store, *t, &d).await?;
            args["artifact"] = json!(a.pulp_id);
        }
        Source::Artifact(id) => args["artifact"] = json!(id),
        Source::Upload(id) => {
            exclusive.push(format!("prn:core.upload:{id}"));
            args["upload"] = json!(id);
        }
        Source::Url(url, config) => {
            args["file_url"] = json!(url);
            args["downloader_config"] = config;
        }
    }
    let domain = pith_http::api::domain_id(&ctx.state).await?;
    let spec = TaskSpec {
        name: GENERAL_CREATE.into(),
        args,
        exclusive,
        shared: vec![format!("prn:core.domain:{domain}")],
        deferred: true,
        logging_cid: ctx.cid.clone(),
        created_by: ctx.user_href(),
        ..TaskSpec::default()
    };
    Ok(accepted(&ctx.v3(), ctx.dispatch(spec).await?))
}

/// `POST content/file/files/upload/` → 201 with the content, synchronously.
pub async fn upload(ctx: &Ctx, req: &mut Req) -> Result<Response, ApiError> {
    let new = parse_new(ctx, req, false).await?;
    let (db, store) = (&ctx.state.db, &ctx.state.store);
    let deps = upload::Deps { db, store };
    let art = match new.source {
        Source::File(mut t) => {
            let d = t.finish().await?;
            pith_entities::artifacts::store(db, store, *t, &d).await?.0
        }
        Source::Artifact(id) => artifact::Entity::find_by_id(id)
            .one(&db.read)
            .await?
            .ok_or_else(|| {
                ApiError::field("artifact", "Invalid hyperlink - Object does not exist.")
            })?,
        Source::Upload(id) => upload::assemble(&deps, &id, None)
            .await
            .map_err(|e| ApiError::field("upload", e.description()))?,
        Source::Url(url, config) => upload::fetch_url(&deps, &url, &config)
            .await
            .map_err(|e| ApiError::field("file_url", e.description()))?,
    };
    let txn = pith_entities::sea_orm::TransactionTrait::begin(&db.write).await?;
    let id = find_or_create(db, &txn, &new.relative_path, &art, new.labels.as_ref()).await?;
    txn.commit().await?;
    let c = load(db, std::slice::from_ref(&id)).await?;
    let body = c
        .first()
        .map(|c| content_json(&ctx.v3(), c))
        .ok_or_else(|| ApiError::Internal("the new content vanished".into()))?;
    Ok(pith_http::request::json(
        warp::http::StatusCode::CREATED,
        &body,
    ))
}

/// `GET content/file/files/`.
pub async fn list_content(ctx: &Ctx, req: &Req) -> Result<Response, ApiError> {
    let p = listing::parse(req, &FILTERS, &ORDERABLE)?;
    let v3 = ctx.v3();
    let mut q = ContentQuery::of_types(&[CONTENT.detail]);
    for (name, value) in &p.filters {
        if q.generic_filter(ctx, name, value, &[CONTENT.detail])
            .await?
        {
            continue;
        }
        let (field, lk) = lookup(name);
        match field {
            "relative_path" => q.text(ctx, "f.relative_path", lk, value)?,
            "sha256" | "digest" => q.text(ctx, "f.digest", "exact", value.trim())?,
            _ => return Err(ApiError::field(name, "Unknown filter.")),
        }
    }
    let db = &ctx.state.db;
    let (count, ids) = q.page(ctx, &p, Some(FILE_CONTENT.table.name)).await?;
    let results = load(db, &ids)
        .await?
        .iter()
        .map(|c| content_json(&v3, c))
        .collect();
    Ok(ok(&listing::page(req, &p, count, results)))
}

/// `GET content/file/files/<id>/`.
pub async fn read_content(ctx: &Ctx, req: &Req, id: &str) -> Result<Response, ApiError> {
    let id = parse_id(id, CONTENT.detail.model)?.to_string();
    let c = load(&ctx.state.db, std::slice::from_ref(&id)).await?;
    let c = c
        .first()
        .ok_or_else(|| ApiError::not_found(CONTENT.detail.model))?;
    Ok(ok(&listing::select_from_query(
        content_json(&ctx.v3(), c),
        req,
    )))
}

/// `POST …/sync/ {"remote"?, "mirror"?}`: a sync task holding the repository exclusively and
/// the remote shared. Without a `remote` the repository's own is used (400 when it has none).
pub async fn sync(ctx: &Ctx, req: &mut Req, id: &str) -> Result<Response, ApiError> {
    let body = req.object(ctx.state.config.max_json_body).await?;
    let repo = pith_http::api::repositories::load(ctx, id, &REPOSITORIES).await?;
    let v3 = ctx.v3();
    let mut errs = FieldErrors::default();
    let mut remote_id = repo.remote_id.clone();
    let mut mirror = false;
    for (k, v) in &body {
        match (k.as_str(), v) {
            ("remote", Value::Null) => {}
            ("remote", Value::String(h)) => {
                match id_from_ref(&v3, FILE_REMOTE.collection, FILE_REMOTE.prn_type, h) {
                    Some(rid)
                        if pith_entities::entity::remote::Entity::find_by_id(rid.clone())
                            .one(&ctx.state.db.read)
                            .await?
                            .is_some() =>
                    {
                        remote_id = Some(rid)
                    }
                    _ => errs.add(k, "Invalid hyperlink - Object does not exist."),
                }
            }
            ("remote", _) => errs.add(k, "Incorrect type. Expected URL string."),
            ("mirror", Value::Bool(b)) => mirror = *b,
            ("mirror", _) => errs.add(k, "Must be a valid boolean."),
            // Pith never skips work a full sync would do, so there is nothing to optimize away.
            ("optimize", Value::Bool(_)) => {}
            ("optimize", _) => errs.add(k, "Must be a valid boolean."),
            _ => errs.add(k, "Unexpected field"),
        }
    }
    errs.into_result()?;
    let Some(remote_id) = remote_id else {
        return Err(ApiError::field(
            "remote",
            "This field is required since a remote is not set on the repository.",
        ));
    };
    let autopublish = crate::models::repository_fields(&ctx.state.db, &repo.pulp_id)
        .await?
        .get("autopublish")
        .and_then(Value::as_bool)
        == Some(true);
    if mirror && autopublish {
        return Err(ApiError::BadRequest(json!([
            "Cannot use mirror mode with autopublished repository."
        ])));
    }
    let mut shared = pith_http::api::repositories::domain_shared(ctx).await?;
    shared.insert(0, FILE_REMOTE.prn(&remote_id));
    let spec = TaskSpec {
        name: crate::task_names::SYNCHRONIZE.into(),
        args: json!({ "v3": v3, "repository": repo.pulp_id, "remote": remote_id, "mirror": mirror }),
        exclusive: vec![FILE_REPOSITORY.prn(&repo.pulp_id)],
        shared,
        deferred: true,
        logging_cid: ctx.cid.clone(),
        created_by: ctx.user_href(),
        ..TaskSpec::default()
    };
    Ok(accepted(&ctx.v3(), ctx.dispatch(spec).await?))
}

/// `POST publications/file/file/ {"repository" | "repository_version", "manifest"?}`: a
/// publish task sharing the repository.
pub async fn create_publication(ctx: &Ctx, req: &mut Req) -> Result<Response, ApiError> {
    let body = req.object(ctx.state.config.max_json_body).await?;
    let v3 = ctx.v3();
    let mut errs = FieldErrors::default();
    let mut manifest = Some("PULP_MANIFEST".to_owned());
    let (mut repo, mut ver) = (None, None);
    let mut checkpoint = false;
    for (k, v) in &body {
        match (k.as_str(), v) {
            ("manifest", Value::Null) => manifest = None,
            ("manifest", Value::String(m)) => manifest = Some(m.clone()),
            ("repository", Value::String(h)) => {
                match id_from_ref(&v3, FILE_REPOSITORY.collection, FILE_REPOSITORY.prn_type, h) {
                    Some(id)
                        if pith_http::api::repositories::load(ctx, &id, &REPOSITORIES)
                            .await
                            .is_ok() =>
                    {
                        repo = Some(id)
                    }
                    _ => errs.add(k, "Invalid hyperlink - Object does not exist."),
                }
            }
            ("repository_version", Value::String(h)) => {
                match version_by_ref(ctx, &[FILE_REPOSITORY], h).await? {
                    Ok((r, _, id)) => ver = Some((r, id)),
                    Err(bad) => errs.add(k, bad.message()),
                }
            }
            ("repository" | "repository_version", Value::Null) => {}
            ("checkpoint", Value::Bool(b)) => checkpoint = *b,
            ("checkpoint", Value::Null) => {}
            ("checkpoint", _) => errs.add(k, "Must be a valid boolean."),
            ("manifest" | "repository" | "repository_version", _) => {
                errs.add(k, "Not a valid string.")
            }
            _ => errs.add(k, "Unexpected field"),
        }
    }
    errs.into_result()?;
    let (repo_id, vid) = match (repo, ver) {
        (Some(_), Some(_)) => {
            return Err(ApiError::field(
                "non_field_errors",
                "Either the 'repository' or 'repository_version' need to be specified but not both.",
            ));
        }
        (None, None) => {
            return Err(ApiError::field(
                "non_field_errors",
                "Either the 'repository' or 'repository_version' need to be specified",
            ));
        }
        (Some(r), None) => {
            let n = pith_entities::versions::latest_number(&ctx.state.db, &ctx.state.db.read, &r)
                .await?;
            let id = pith_http::api::publishing::version_id(ctx, &r, n)
                .await?
                .ok_or_else(|| ApiError::field("repository", "The repository has no version."))?;
            (r, id)
        }
        (None, Some(_)) if checkpoint => {
            return Err(ApiError::field(
                "non_field_errors",
                "'checkpoint' may only be used with 'repository'",
            ));
        }
        (None, Some((r, id))) => (r, id),
    };
    let spec = TaskSpec {
        name: crate::task_names::PUBLISH.into(),
        args: json!({ "v3": v3, "repository_version": vid, "manifest": manifest, "checkpoint": checkpoint }),
        shared: vec![
            FILE_REPOSITORY.prn(&repo_id),
            pith_http::api::publishing::domain_shared(ctx).await?,
        ],
        deferred: true,
        logging_cid: ctx.cid.clone(),
        created_by: ctx.user_href(),
        ..TaskSpec::default()
    };
    Ok(accepted(&v3, ctx.dispatch(spec).await?))
}

/// The endpoints only file has (core builds the standard ones from the viewsets above).
pub fn endpoints() -> Vec<Endpoint> {
    use warp::http::Method as M;
    let content = CONTENT.prefix();
    let (tag, resp) = (CONTENT.tag, CONTENT.response());
    let repos = REPOSITORIES.repositories;
    vec![
        Endpoint::new("content/file/files/")
            .policy(CONTENT.detail.collection)
            .on(
                list(&content, tag, &resp, &FILTERS, &ORDERABLE),
                handler(|c, r, _| Box::pin(list_content(c, r))),
            )
            .on(
                op(M::POST, &format!("{content}_create"), tag)
                    .body(CONTENT.serializer, Body::Form)
                    .task(),
                handler(|c, r, _| Box::pin(create(c, r))),
            ),
        Endpoint::new("content/file/files/upload/")
            .policy(CONTENT.detail.collection)
            .on(
                op(M::POST, &format!("{content}_upload"), tag)
                    .body(CONTENT.serializer, Body::Form)
                    .answers(201, Some(&resp)),
                handler(|c, r, _| Box::pin(upload(c, r))),
            ),
        Endpoint::new("content/file/files/{}/set_label/")
            .policy(CONTENT.detail.collection)
            .href(CONTENT.href_param, ONE)
            .on(
                label(&content, tag, true),
                handler(|c, r, i| {
                    let id = i.first().copied().unwrap_or("");
                    Box::pin(pith_http::api::content::label(
                        c,
                        r,
                        id,
                        true,
                        CONTENT.detail.model,
                    ))
                }),
            ),
        Endpoint::new("content/file/files/{}/unset_label/")
            .policy(CONTENT.detail.collection)
            .href(CONTENT.href_param, ONE)
            .on(
                label(&content, tag, false),
                handler(|c, r, i| {
                    let id = i.first().copied().unwrap_or("");
                    Box::pin(pith_http::api::content::label(
                        c,
                        r,
                        id,
                        false,
                        CONTENT.detail.model,
                    ))
                }),
            ),
        Endpoint::new("content/file/files/{}/")
            .policy(CONTENT.detail.collection)
            .href(CONTENT.href_param, ONE)
            .on(
                read(&content, tag, &resp),
                handler(|c, r, i| Box::pin(read_content(c, r, i.first().copied().unwrap_or("")))),
            ),
        Endpoint::new("repositories/file/file/{}/sync/")
            .policy(repos.detail.collection)
            .href(repos.href_param, ONE)
            .on(
                op(M::POST, &format!("{}_sync", repos.prefix()), repos.tag)
                    .body("FileRepositorySyncURL", Body::Any)
                    .task(),
                handler(|c, r, i| Box::pin(sync(c, r, i.first().copied().unwrap_or("")))),
            ),
        Endpoint::new("publications/file/file/")
            .policy(PUBLICATIONS.detail.collection)
            .on(
                op(
                    M::POST,
                    &format!("{}_create", PUBLICATIONS.prefix()),
                    PUBLICATIONS.tag,
                )
                .body(PUBLICATIONS.serializer, Body::Any)
                .task(),
                handler(|c, r, _| Box::pin(create_publication(c, r))),
            ),
    ]
}

const ONE: &[&str] = &["pulp_id"];

/// pulp_file's viewsets' default access policies (`DEFAULT_ACCESS_POLICY`), named as their
/// collections; core puts a viewset's endpoints under the policy declared for it.
pub const ACCESS_POLICIES: &[ViewSetPolicy] = &[
    ViewSetPolicy {
        viewset_name: "remotes/file/file",
        prn_type: "file.fileremote",
        model: "FileRemote",
        view_permission: "file.view_fileremote",
        scoping: Scoping::ViewPermission,
        default: r#"{"statements": [
            {"action": ["list", "retrieve", "my_permissions"], "principal": "authenticated", "effect": "allow"},
            {"action": ["create"], "principal": "authenticated", "effect": "allow",
             "condition": "has_model_or_domain_perms:file.add_fileremote"},
            {"action": ["update", "partial_update", "set_label", "unset_label"], "principal": "authenticated",
             "effect": "allow",
             "condition": ["has_model_or_domain_or_obj_perms:file.change_fileremote",
                           "has_model_or_domain_or_obj_perms:file.view_fileremote"]},
            {"action": ["destroy"], "principal": "authenticated", "effect": "allow",
             "condition": ["has_model_or_domain_or_obj_perms:file.delete_fileremote",
                           "has_model_or_domain_or_obj_perms:file.view_fileremote"]},
            {"action": ["list_roles", "add_role", "remove_role"], "principal": "authenticated", "effect": "allow",
             "condition": ["has_model_or_domain_or_obj_perms:file.manage_roles_fileremote"]}],
          "creation_hooks": [{"function": "add_roles_for_object_creator",
                              "parameters": {"roles": "file.fileremote_owner"}}],
          "queryset_scoping": {"function": "scope_queryset"}}"#,
    },
    ViewSetPolicy {
        viewset_name: "repositories/file/file",
        prn_type: "file.filerepository",
        model: "FileRepository",
        view_permission: "file.view_filerepository",
        scoping: Scoping::ViewPermission,
        default: r#"{"statements": [
            {"action": ["list", "my_permissions"], "principal": "authenticated", "effect": "allow"},
            {"action": ["create"], "principal": "authenticated", "effect": "allow",
             "condition": ["has_model_or_domain_perms:file.add_filerepository",
                           "has_remote_param_model_or_domain_or_obj_perms:file.view_fileremote"]},
            {"action": ["retrieve"], "principal": "authenticated", "effect": "allow",
             "condition": "has_model_or_domain_or_obj_perms:file.view_filerepository"},
            {"action": ["destroy"], "principal": "authenticated", "effect": "allow",
             "condition": ["has_model_or_domain_or_obj_perms:file.delete_filerepository",
                           "has_model_or_domain_or_obj_perms:file.view_filerepository"]},
            {"action": ["update", "partial_update", "set_label", "unset_label"], "principal": "authenticated",
             "effect": "allow",
             "condition": ["has_model_or_domain_or_obj_perms:file.change_filerepository",
                           "has_model_or_domain_or_obj_perms:file.view_filerepository",
                           "has_remote_param_model_or_domain_or_obj_perms:file.view_fileremote"]},
            {"action": ["sync"], "principal": "authenticated", "effect": "allow",
             "condition": ["has_model_or_domain_or_obj_perms:file.sync_filerepository",
                           "has_remote_param_model_or_domain_or_obj_perms:file.view_fileremote,file.view_filegitremote",
                           "has_model_or_domain_or_obj_perms:file.view_filerepository"]},
            {"action": ["modify"], "principal": "authenticated", "effect": "allow",
             "condition": ["has_model_or_domain_or_obj_perms:file.modify_filerepository",
                           "has_model_or_domain_or_obj_perms:file.view_filerepository"]},
            {"action": ["list_roles", "add_role", "remove_role"], "principal": "authenticated", "effect": "allow",
             "condition": ["has_model_or_domain_or_obj_perms:file.manage_roles_filerepository"]}],
          "creation_hooks": [{"function": "add_roles_for_object_creator",
                              "parameters": {"roles": "file.filerepository_owner"}}],
          "queryset_scoping": {"function": "scope_queryset"}}"#,
    },
    // A version's checks are on its repository (the one in the URL): no scoping, no roles.
    ViewSetPolicy {
        viewset_name: "repositories/file/file/versions",
        prn_type: "file.filerepository",
        model: "RepositoryVersion",
        view_permission: "file.view_filerepository",
        scoping: Scoping::ViewPermission,
        default: r#"{"statements": [
            {"action": ["list", "retrieve"], "principal": "authenticated", "effect": "allow",
             "condition": "has_repository_model_or_domain_or_obj_perms:file.view_filerepository"},
            {"action": ["destroy"], "principal": "authenticated", "effect": "allow",
             "condition": ["has_repository_model_or_domain_or_obj_perms:file.delete_filerepository",
                           "has_repository_model_or_domain_or_obj_perms:file.view_filerepository"]},
            {"action": ["repair"], "principal": "authenticated", "effect": "allow",
             "condition": ["has_repository_model_or_domain_or_obj_perms:file.repair_filerepository",
                           "has_repository_model_or_domain_or_obj_perms:file.view_filerepository"]}]}"#,
    },
    ViewSetPolicy {
        viewset_name: "content/file/files",
        prn_type: "file.filecontent",
        model: "FileContent",
        view_permission: "file.view_filecontent",
        scoping: Scoping::Repositories,
        default: r#"{"statements": [
            {"action": ["list", "retrieve"], "principal": "authenticated", "effect": "allow"},
            {"action": ["create"], "principal": "authenticated", "effect": "allow",
             "condition": ["has_required_repo_perms_on_upload:file.modify_filerepository",
                           "has_required_repo_perms_on_upload:file.view_filerepository",
                           "has_upload_param_model_or_domain_or_obj_perms:core.change_upload"]},
            {"action": ["set_label", "unset_label"], "principal": "authenticated", "effect": "allow",
             "condition": ["has_model_or_domain_perms:core.manage_content_labels"]},
            {"action": ["upload"], "principal": "authenticated", "effect": "allow",
             "condition": ["has_model_or_domain_perms:file.upload_files"]}],
          "queryset_scoping": {"function": "scope_queryset"}}"#,
    },
    ViewSetPolicy {
        viewset_name: "publications/file/file",
        prn_type: "file.filepublication",
        model: "FilePublication",
        view_permission: "file.view_filepublication",
        scoping: Scoping::ViewPermission,
        default: r#"{"statements": [
            {"action": ["list", "retrieve", "my_permissions"], "principal": "authenticated", "effect": "allow"},
            {"action": ["create"], "principal": "authenticated", "effect": "allow",
             "condition": ["has_model_or_domain_perms:file.add_filepublication",
                           "has_repo_or_repo_ver_param_model_or_domain_or_obj_perms:file.view_filerepository"]},
            {"action": ["destroy"], "principal": "authenticated", "effect": "allow",
             "condition": ["has_model_or_domain_or_obj_perms:file.delete_filepublication",
                           "has_model_or_domain_or_obj_perms:file.view_filepublication"]},
            {"action": ["list_roles", "add_role", "remove_role"], "principal": "authenticated", "effect": "allow",
             "condition": ["has_model_or_domain_or_obj_perms:file.manage_roles_filepublication"]}],
          "creation_hooks": [{"function": "add_roles_for_object_creator",
                              "parameters": {"roles": "file.filepublication_owner"}}],
          "queryset_scoping": {"function": "scope_queryset"}}"#,
    },
    ViewSetPolicy {
        viewset_name: "distributions/file/file",
        prn_type: "file.filedistribution",
        model: "FileDistribution",
        view_permission: "file.view_filedistribution",
        scoping: Scoping::ViewPermission,
        default: r#"{"statements": [
            {"action": ["list", "retrieve", "my_permissions"], "principal": "authenticated", "effect": "allow"},
            {"action": ["create"], "principal": "authenticated", "effect": "allow",
             "condition": ["has_model_or_domain_perms:file.add_filedistribution",
                           "has_repo_or_repo_ver_param_model_or_domain_or_obj_perms:file.view_filerepository",
                           "has_publication_param_model_or_domain_or_obj_perms:file.view_filepublication"]},
            {"action": ["update", "partial_update", "set_label", "unset_label"], "principal": "authenticated",
             "effect": "allow",
             "condition": ["has_model_or_domain_or_obj_perms:file.change_filedistribution",
                           "has_model_or_domain_or_obj_perms:file.view_filedistribution",
                           "has_repo_or_repo_ver_param_model_or_domain_or_obj_perms:file.view_filerepository",
                           "has_publication_param_model_or_domain_or_obj_perms:file.view_filepublication"]},
            {"action": ["destroy"], "principal": "authenticated", "effect": "allow",
             "condition": ["has_model_or_domain_or_obj_perms:file.delete_filedistribution",
                           "has_model_or_domain_or_obj_perms:file.view_filedistribution"]},
            {"action": ["list_roles", "add_role", "remove_role"], "principal": "authenticated", "effect": "allow",
             "condition": ["has_model_or_domain_or_obj_perms:file.manage_roles_filedistribution"]}],
          "creation_hooks": [{"function": "add_roles_for_object_creator",
                              "parameters": {"roles": "file.filedistribution_owner"}}],
          "queryset_scoping": {"function": "scope_queryset"}}"#,
    },
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_paths_and_version_hrefs() {
        use pith_http::api::repositories::parse_version_href;
        for good in ["a", "a/b.txt", "dir/sub/file,with,commas"] {
            assert!(check_relative_path(good).is_ok(), "{good}");
        }
        for bad in ["", "/a", "a/", "a//b", "a/./b", "../a", "a b", "a?b", "a#b"] {
            assert!(check_relative_path(bad).is_err(), "{bad}");
        }
        let id = "01a2111c-6b02-70f5-bd0f-0b9100488732";
        let v3 = "/pulp/api/v3/";
        assert_eq!(
            parse_version_href(
                v3,
                &[FILE_REPOSITORY],
                &format!("{v3}repositories/file/file/{id}/versions/3/")
            ),
            Some((id.into(), 3))
        );
        assert_eq!(
            parse_version_href(
                v3,
                &[FILE_REPOSITORY],
                &format!("{v3}repositories/file/file/{id}/")
            ),
            None
        );
    }
}
