//! The OpenAPI 3.1 schema (`docs/api.json`, `docs/api.yaml`) and the browsable docs page
//! (`docs/`), generated from the router's table of endpoints ([`crate::router::ROUTES`]), the
//! filter and ordering lists the list handlers parse with, and the serializers in
//! [`components`]. pulp-glue (pulp-cli, Ansible) builds every request from this schema: it
//! looks operations up by Pulp's operationIds, sends only declared parameters, validates
//! bodies against the request schemas, and sends credentials only to operations whose
//! `security` names `basicAuth`.

pub mod components;

use serde_json::{Map, Value, json};
use warp::http::{HeaderValue, Method, StatusCode};

use crate::api::{self, Ctx};
use crate::request::{Response, text};
use crate::router::{Kind, ROUTES, is_open};
use crate::{ApiError, Req};
use components::SERIALIZERS;

/// One operation of an endpoint.
#[derive(Debug, Clone)]
pub struct Op {
    /// Its method.
    pub method: Method,
    /// Pulp's operationId.
    pub id: String,
    /// Its tag (binding class names come from tags).
    pub tag: &'static str,
    /// Query (and header) parameters besides the path's.
    pub params: Vec<Value>,
    /// The request body's schema and whether it takes files (multipart only).
    pub body: Option<(&'static str, Body)>,
    /// Status → response schema (`None`: no body).
    pub responses: Vec<(u16, Option<String>)>,
}

/// How a request body may be sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Body {
    /// JSON, urlencoded or multipart.
    Any,
    /// Multipart or urlencoded (a file field).
    Form,
}

fn query(name: &str, schema: Value) -> Value {
    json!({"name": name, "in": "query", "required": false, "schema": schema})
}

/// A filter's schema, from its name and lookup (`__in` lists, numbers, flags, times).
fn filter_param(name: &str) -> Value {
    let (field, lookup) = crate::listing::lookup(name);
    let time_field = matches!(
        field,
        "pulp_created"
            | "pulp_last_updated"
            | "started_at"
            | "finished_at"
            | "unblocked_at"
            | "last_heartbeat"
    );
    let schema = match (field, lookup) {
        (_, "in") => {
            return json!({"name": name, "in": "query", "required": false, "style": "form",
                          "explode": false, "schema": {"type": "array", "items": {"type": "string"}}});
        }
        (_, "range") if time_field => {
            json!({"type": "array", "items": {"type": "string", "format": "date-time"}})
        }
        _ if time_field => json!({"type": "string", "format": "date-time"}),
        ("number" | "size" | "limit" | "offset", _) => json!({"type": "integer"}),
        ("orphaned_for", _) => json!({"type": "number"}),
        ("online" | "missing" | "minimal", _) => json!({"type": "boolean"}),
        ("state", "exact" | "ne") => {
            json!({"type": "string", "enum": ["canceled", "canceling", "completed", "failed", "running", "skipped", "waiting"]})
        }
        _ => json!({"type": "string"}),
    };
    query(name, schema)
}

fn field_params() -> Vec<Value> {
    ["fields", "exclude_fields"]
        .iter()
        .map(|n| {
            json!({"name": n, "in": "query", "required": false, "style": "form", "explode": true,
                   "schema": {"type": "array", "items": {"type": "string"}}})
        })
        .collect()
}

fn list_params(filters: &[&str], orderable: &[&str]) -> Vec<Value> {
    let mut order: Vec<String> = Vec::new();
    for o in orderable {
        order.push((*o).to_owned());
        order.push(format!("-{o}"));
    }
    let mut v = vec![
        query("limit", json!({"type": "integer"})),
        query("offset", json!({"type": "integer"})),
        json!({"name": "ordering", "in": "query", "required": false, "style": "form", "explode": false,
               "schema": {"type": "array", "items": {"type": "string", "enum": order}}}),
    ];
    v.extend(filters.iter().map(|f| filter_param(f)));
    v.extend(field_params());
    v
}

fn op(method: Method, id: &str, tag: &'static str) -> Op {
    Op {
        method,
        id: id.to_owned(),
        tag,
        params: Vec::new(),
        body: None,
        responses: Vec::new(),
    }
}

impl Op {
    fn params(mut self, p: Vec<Value>) -> Op {
        self.params = p;
        self
    }
    fn body(mut self, schema: &'static str, how: Body) -> Op {
        self.body = Some((schema, how));
        self
    }
    fn answers(mut self, status: u16, schema: Option<&str>) -> Op {
        self.responses.push((status, schema.map(str::to_owned)));
        self
    }
    fn task(self) -> Op {
        self.answers(202, Some("AsyncOperationResponse"))
    }
}

fn paginated(name: &str) -> String {
    format!("Paginated{name}List")
}

/// `…_list`, `…_read`: the list of `resp` items with these filters.
fn list(prefix: &str, tag: &'static str, resp: &str, filters: &[&str], orderable: &[&str]) -> Op {
    op(Method::GET, &format!("{prefix}_list"), tag)
        .params(list_params(filters, orderable))
        .answers(200, Some(&paginated(resp)))
}

fn read(prefix: &str, tag: &'static str, resp: &str) -> Op {
    op(Method::GET, &format!("{prefix}_read"), tag)
        .params(field_params())
        .answers(200, Some(resp))
}

/// Update and partial update answered by a task (or 200 with the unchanged object).
fn updates(
    prefix: &str,
    tag: &'static str,
    req: &'static str,
    patched: &'static str,
    resp: &str,
) -> Vec<Op> {
    vec![
        op(Method::PUT, &format!("{prefix}_update"), tag)
            .body(req, Body::Any)
            .answers(200, Some(resp))
            .task(),
        op(Method::PATCH, &format!("{prefix}_partial_update"), tag)
            .body(patched, Body::Any)
            .answers(200, Some(resp))
            .task(),
    ]
}

/// `…_set_label` (`set`) or `…_unset_label`.
fn label(prefix: &str, tag: &'static str, set: bool) -> Op {
    let (action, schema, resp) = if set {
        ("set_label", "SetLabel", "SetLabelResponse")
    } else {
        ("unset_label", "UnsetLabel", "UnsetLabelResponse")
    };
    op(Method::POST, &format!("{prefix}_{action}"), tag)
        .body(schema, Body::Any)
        .answers(201, Some(resp))
}

const T_REMOTES: &str = "Remotes: File";
const T_REPOS: &str = "Repositories: File";
const T_VERSIONS: &str = "Repositories: File Versions";
const T_CONTENT: &str = "Content: Files";
const T_PUBS: &str = "Publications: File";
const T_DISTS: &str = "Distributions: File";

/// The href path parameter of an endpoint whose path carries ids, and the names of those ids
/// in the `pk_path=1` form.
pub fn href_param(kind: Kind) -> Option<(&'static str, &'static [&'static str])> {
    const ONE: &[&str] = &["pulp_id"];
    const VERSION: &[&str] = &["file_file_repository_pk", "number"];
    Some(match kind {
        Kind::Task => ("task_href", ONE),
        Kind::Worker => ("worker_href", ONE),
        Kind::Artifact => ("artifact_href", ONE),
        Kind::FileRemote | Kind::FileRemoteSetLabel | Kind::FileRemoteUnsetLabel => {
            ("file_file_remote_href", ONE)
        }
        Kind::FileRepository
        | Kind::FileRepositorySetLabel
        | Kind::FileRepositoryUnsetLabel
        | Kind::FileRepositoryModify
        | Kind::FileRepositorySync
        | Kind::FileRepositoryVersions => ("file_file_repository_href", ONE),
        Kind::FileRepositoryVersion | Kind::FileRepositoryVersionRepair => {
            ("file_file_repository_version_href", VERSION)
        }
        Kind::FilePublication => ("file_file_publication_href", ONE),
        Kind::FileDistribution => ("file_file_distribution_href", ONE),
        Kind::FileContent => ("file_file_content_href", ONE),
        Kind::Upload | Kind::UploadCommit => ("upload_href", ONE),
        _ => return None,
    })
}

/// What each endpoint does, in the schema's terms. Exhaustive: a new endpoint does not compile
/// until it is documented.
pub fn operations(kind: Kind) -> Vec<Op> {
    use Method as M;
    use api::{artifacts, content, publishing, remotes, repositories, tasks, uploads, workers};
    let task_filters = tasks::filter_names();
    let task_filters: Vec<&str> = task_filters.iter().map(String::as_str).collect();
    match kind {
        Kind::Root => vec![op(M::GET, "api_root_read", "Api Root").answers(200, None)],
        Kind::Status => vec![op(M::GET, "status_read", "Status").answers(200, Some("StatusResponse"))],
        Kind::Livez => vec![op(M::GET, "livez_read", "Livez").answers(200, None)],
        Kind::Docs => vec![op(M::GET, "docs_read", "Docs").answers(200, None)],
        Kind::DocsJson => vec![op(M::GET, "docs_api_json_read", "Docs").answers(200, None)],
        Kind::DocsYaml => vec![op(M::GET, "docs_api_yaml_read", "Docs").answers(200, None)],
        Kind::Tasks => {
            let mut l = list("tasks", "Tasks", "TaskResponse", &task_filters, &tasks::ORDERABLE);
            l.params.push(filter_param("minimal"));
            vec![l]
        }
        Kind::TasksPurge => vec![op(M::POST, "tasks_purge", "Tasks").body("Purge", Body::Any).task()],
        Kind::Task => vec![
            read("tasks", "Tasks", "TaskResponse"),
            op(M::PATCH, "tasks_cancel", "Tasks")
                .body("PatchedTaskCancel", Body::Any)
                .answers(200, Some("TaskResponse"))
                .answers(409, Some("TaskResponse")),
            op(M::DELETE, "tasks_delete", "Tasks").answers(204, None),
        ],
        Kind::Workers => vec![list("workers", "Workers", "WorkerResponse", &workers::FILTERS, &workers::ORDERABLE)],
        Kind::Worker => vec![read("workers", "Workers", "WorkerResponse")],
        Kind::Artifacts => vec![
            list("artifacts", "Artifacts", "ArtifactResponse", &artifacts::FILTERS, &artifacts::ORDERABLE),
            op(M::POST, "artifacts_create", "Artifacts")
                .body("Artifact", Body::Form)
                .answers(201, Some("ArtifactResponse")),
        ],
        Kind::Artifact => vec![
            read("artifacts", "Artifacts", "ArtifactResponse"),
            op(M::DELETE, "artifacts_delete", "Artifacts").answers(204, None),
        ],
        Kind::OrphansCleanup => vec![
            op(M::POST, "orphans_cleanup_cleanup", "Orphans: Cleanup")
                .body("OrphansCleanup", Body::Any)
                .task(),
        ],
        Kind::Orphans => vec![op(M::DELETE, "orphans_delete", "Orphans").task()],
        Kind::Remotes => vec![list("remotes", "Remotes", "file.FileRemoteResponse", &remotes::FILTERS, &remotes::ORDERABLE)],
        Kind::FileRemotes => vec![
            list("remotes_file_file", T_REMOTES, "file.FileRemoteResponse", &remotes::FILTERS, &remotes::ORDERABLE),
            op(M::POST, "remotes_file_file_create", T_REMOTES)
                .body("file.FileRemote", Body::Any)
                .answers(201, Some("file.FileRemoteResponse")),
        ],
        Kind::FileRemote => {
            let mut v = vec![read("remotes_file_file", T_REMOTES, "file.FileRemoteResponse")];
            v.extend(updates("remotes_file_file", T_REMOTES, "file.FileRemote", "Patchedfile.FileRemote", "file.FileRemoteResponse"));
            v.push(op(M::DELETE, "remotes_file_file_delete", T_REMOTES).task());
            v
        }
        Kind::FileRemoteSetLabel => vec![label("remotes_file_file", T_REMOTES, true)],
        Kind::FileRemoteUnsetLabel => vec![label("remotes_file_file", T_REMOTES, false)],
        Kind::Repositories => vec![list("repositories", "Repositories", "file.FileRepositoryResponse", &repositories::FILTERS, &repositories::ORDERABLE)],
        Kind::RepositoryVersions => vec![list("repository_versions", "Repository Versions", "RepositoryVersionResponse", &repositories::VERSION_FILTERS, &repositories::VERSION_ORDERABLE)],
        Kind::FileRepositories => vec![
            list("repositories_file_file", T_REPOS, "file.FileRepositoryResponse", &repositories::FILTERS, &repositories::ORDERABLE),
            op(M::POST, "repositories_file_file_create", T_REPOS)
                .body("file.FileRepository", Body::Any)
                .answers(201, Some("file.FileRepositoryResponse")),
        ],
        Kind::FileRepository => {
            let mut v = vec![read("repositories_file_file", T_REPOS, "file.FileRepositoryResponse")];
            v.extend(updates("repositories_file_file", T_REPOS, "file.FileRepository", "Patchedfile.FileRepository", "file.FileRepositoryResponse"));
            v.push(op(M::DELETE, "repositories_file_file_delete", T_REPOS).task());
            v
        }
        Kind::FileRepositorySetLabel => vec![label("repositories_file_file", T_REPOS, true)],
        Kind::FileRepositoryUnsetLabel => vec![label("repositories_file_file", T_REPOS, false)],
        Kind::FileRepositoryModify => vec![
            op(M::POST, "repositories_file_file_modify", T_REPOS)
                .body("RepositoryAddRemoveContent", Body::Any)
                .task(),
        ],
        Kind::FileRepositorySync => vec![
            op(M::POST, "repositories_file_file_sync", T_REPOS)
                .body("FileRepositorySyncURL", Body::Any)
                .task(),
        ],
        Kind::FileRepositoryVersions => vec![list("repositories_file_file_versions", T_VERSIONS, "RepositoryVersionResponse", &repositories::VERSION_FILTERS, &repositories::VERSION_ORDERABLE)],
        Kind::FileRepositoryVersion => vec![
            read("repositories_file_file_versions", T_VERSIONS, "RepositoryVersionResponse"),
            op(M::DELETE, "repositories_file_file_versions_delete", T_VERSIONS).task(),
        ],
        Kind::FileRepositoryVersionRepair => vec![
            op(M::POST, "repositories_file_file_versions_repair", T_VERSIONS)
                .body("Repair", Body::Any)
                .task(),
        ],
        Kind::Publications => vec![list("publications", "Publications", "file.FilePublicationResponse", &publishing::PUBLICATION_FILTERS, &publishing::PUBLICATION_ORDERABLE)],
        Kind::FilePublications => vec![
            list("publications_file_file", T_PUBS, "file.FilePublicationResponse", &publishing::PUBLICATION_FILTERS, &publishing::PUBLICATION_ORDERABLE),
            op(M::POST, "publications_file_file_create", T_PUBS)
                .body("file.FilePublication", Body::Any)
                .task(),
        ],
        Kind::FilePublication => vec![
            read("publications_file_file", T_PUBS, "file.FilePublicationResponse"),
            op(M::DELETE, "publications_file_file_delete", T_PUBS).answers(204, None),
        ],
        Kind::Distributions => vec![list("distributions", "Distributions", "file.FileDistributionResponse", &publishing::DISTRIBUTION_FILTERS, &publishing::DISTRIBUTION_ORDERABLE)],
        Kind::FileDistributions => vec![
            list("distributions_file_file", T_DISTS, "file.FileDistributionResponse", &publishing::DISTRIBUTION_FILTERS, &publishing::DISTRIBUTION_ORDERABLE),
            op(M::POST, "distributions_file_file_create", T_DISTS)
                .body("file.FileDistribution", Body::Any)
                .task(),
        ],
        Kind::FileDistribution => {
            let mut v = vec![read("distributions_file_file", T_DISTS, "file.FileDistributionResponse")];
            v.extend(updates("distributions_file_file", T_DISTS, "file.FileDistribution", "Patchedfile.FileDistribution", "file.FileDistributionResponse"));
            v.push(op(M::DELETE, "distributions_file_file_delete", T_DISTS).task());
            v
        }
        Kind::FileContents => vec![
            list("content_file_files", T_CONTENT, "file.FileContentResponse", &content::FILTERS, &content::ORDERABLE),
            op(M::POST, "content_file_files_create", T_CONTENT)
                .body("file.FileContent", Body::Form)
                .task(),
        ],
        Kind::FileContentUpload => vec![
            op(M::POST, "content_file_files_upload", T_CONTENT)
                .body("file.FileContent", Body::Form)
                .answers(201, Some("file.FileContentResponse")),
        ],
        Kind::FileContent => vec![read("content_file_files", T_CONTENT, "file.FileContentResponse")],
        Kind::Uploads => vec![
            list("uploads", "Uploads", "UploadResponse", &uploads::FILTERS, &uploads::ORDERABLE),
            op(M::POST, "uploads_create", "Uploads")
                .body("Upload", Body::Any)
                .answers(201, Some("UploadResponse")),
        ],
        Kind::Upload => vec![
            read("uploads", "Uploads", "UploadDetailResponse"),
            op(M::PUT, "uploads_update", "Uploads")
                .params(vec![json!({"name": "Content-Range", "in": "header", "required": true,
                                    "description": "The range of the upload this chunk holds: `bytes <start>-<end>/<total or *>`.",
                                    "schema": {"type": "string"}})])
                .body("UploadChunk", Body::Form)
                .answers(200, Some("UploadResponse")),
            op(M::DELETE, "uploads_delete", "Uploads").answers(204, None),
        ],
        Kind::UploadCommit => vec![
            op(M::POST, "uploads_commit", "Uploads")
                .body("UploadCommit", Body::Any)
                .task(),
        ],
        Kind::TestTasks => vec![
            op(M::POST, "pith_test_tasks_create", "Pith: Test")
                .body("TestTask", Body::Any)
                .task(),
        ],
    }
}

/// A route template as a schema path: href style (`{file_file_repository_href}sync/`) by
/// default, concrete (`/pulp/api/v3/repositories/file/file/{pulp_id}/sync/`) with `pk_path`.
fn path_of(v3: &str, template: &str, kind: Kind, pk_path: bool) -> (String, Vec<Value>) {
    let Some((href, names)) = href_param(kind) else {
        return (format!("{v3}{template}"), Vec::new());
    };
    let param = |name: &str| json!({"name": name, "in": "path", "required": true, "schema": {"type": "string"}});
    if pk_path {
        let mut out = String::from(v3);
        let mut params = Vec::new();
        let mut names = names.iter();
        for seg in template.split_inclusive('/') {
            if seg == "{}/" {
                let n = names.next().copied().unwrap_or("pulp_id");
                out.push_str(&format!("{{{n}}}/"));
                params.push(param(n));
            } else {
                out.push_str(seg);
            }
        }
        (out, params)
    } else {
        let rest = template.rsplit_once("{}/").map(|(_, r)| r).unwrap_or("");
        (format!("{{{href}}}{rest}"), vec![param(href)])
    }
}

fn content_for(schema: &str, how: Body) -> Value {
    let r = json!({"schema": {"$ref": format!("#/components/schemas/{schema}")}});
    match how {
        Body::Any => json!({
            "application/json": r,
            "application/x-www-form-urlencoded": r,
            "multipart/form-data": r,
        }),
        Body::Form => json!({
            "multipart/form-data": r,
            "application/x-www-form-urlencoded": r,
        }),
    }
}

fn response_list_schema(item: &str) -> Value {
    json!({
        "type": "object",
        "required": ["count", "results"],
        "properties": {
            "count": {"type": "integer", "example": 123},
            "next": {"type": ["string", "null"], "format": "uri"},
            "previous": {"type": ["string", "null"], "format": "uri"},
            "results": {"type": "array", "items": {"$ref": format!("#/components/schemas/{item}")}},
        },
    })
}

/// Builds the whole schema.
pub fn schema(v3: &str, server: &str, pk_path: bool, test_tasks: bool) -> Value {
    let mut paths = Map::new();
    let mut schemas = Map::new();
    let mut tags = std::collections::BTreeSet::new();
    for s in SERIALIZERS {
        for (name, v) in s.schemas() {
            schemas.insert(name, v);
        }
    }
    for (template, kind) in ROUTES {
        if *kind == Kind::TestTasks && !test_tasks {
            continue;
        }
        let (path, path_params) = path_of(v3, template, *kind, pk_path);
        let mut item = Map::new();
        for o in operations(*kind) {
            tags.insert(o.tag);
            let mut params = path_params.clone();
            params.extend(o.params.iter().cloned());
            let mut responses = Map::new();
            for (status, schema) in &o.responses {
                let mut r = json!({"description": ""});
                if let Some(s) = schema {
                    if let Some(item) = s
                        .strip_prefix("Paginated")
                        .and_then(|x| x.strip_suffix("List"))
                    {
                        schemas.insert(s.clone(), response_list_schema(item));
                    }
                    r["content"] = json!({"application/json": {"schema": {"$ref": format!("#/components/schemas/{s}")}}});
                } else if *status != 204 {
                    r["description"] = json!("No response body");
                }
                responses.insert(status.to_string(), r);
            }
            let mut v = json!({
                "operationId": o.id,
                "tags": [o.tag],
                "parameters": params,
                "responses": responses,
            });
            if let Some((schema, how)) = o.body {
                v["requestBody"] = json!({"content": content_for(schema, how), "required": true});
            }
            if !is_open(*kind) {
                v["security"] = json!([{"basicAuth": []}]);
            }
            item.insert(o.method.as_str().to_ascii_lowercase(), v);
        }
        paths.insert(path, Value::Object(item));
    }
    let versions = api::status::versions_map();
    json!({
        "openapi": "3.1.1",
        "info": {
            "title": "Pulp 3 API",
            "version": "v3",
            "description": "Fetch, Upload, Organize, and Distribute Software Packages (served by Pith, a Pulp-compatible server).",
            "contact": {"name": "Pulp Team", "email": "pulp-list@redhat.com", "url": "https://pulpproject.org"},
            "license": {"name": "GNU General Public License v2.0 or later", "identifier": "GPL-2.0-or-later"},
            "x-pulp-app-versions": versions,
            "x-pulp-domain-enabled": false,
            "x-pith-version": env!("CARGO_PKG_VERSION"),
        },
        "servers": [{"url": server}],
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {"basicAuth": {"type": "http", "scheme": "basic"}},
        },
        "tags": tags.into_iter().map(|t| json!({"name": t})).collect::<Vec<_>>(),
    })
}

/// `docs/api.json` and `docs/api.yaml` (query: `pk_path`, `include_html`, `component`).
pub fn serve(ctx: &Ctx, req: &Req, yaml: bool) -> Result<Response, ApiError> {
    let mut pk_path = false;
    for (k, v) in &req.query {
        match k.as_str() {
            "pk_path" => pk_path = matches!(v.as_str(), "1" | "true" | "True"),
            "include_html" | "bindings" => {}
            "component" => {
                for c in v.split(',').filter(|c| !c.is_empty()) {
                    if !matches!(c, "core" | "file") {
                        return Err(ApiError::field(
                            "component",
                            format!("Unknown component: {c}"),
                        ));
                    }
                }
            }
            other => {
                return Err(ApiError::BadRequest(
                    json!({"errors": [format!("Invalid parameter: '{other}'")]}),
                ));
            }
        }
    }
    let server = format!("{}/", req.base_url());
    let s = schema(&ctx.v3(), &server, pk_path, ctx.state.config.test_tasks);
    let mut r = if yaml {
        let mut out = String::new();
        to_yaml(&s, 0, &mut out);
        text(StatusCode::OK, "application/yaml", out)
    } else {
        text(StatusCode::OK, "application/json", s.to_string())
    };
    r.headers_mut().insert(
        "cache-control",
        HeaderValue::from_static("public, max-age=8640000"),
    );
    Ok(r)
}

/// Block-style YAML for a JSON value (strings double-quoted with JSON escapes, which YAML
/// reads the same way).
fn to_yaml(v: &Value, indent: usize, out: &mut String) {
    let pad = " ".repeat(indent);
    match v {
        Value::Object(m) if !m.is_empty() => {
            for (k, val) in m {
                out.push_str(&format!("{pad}{}:", Value::String(k.clone())));
                scalar_or_block(val, indent, out);
            }
        }
        Value::Array(a) if !a.is_empty() => {
            for val in a {
                out.push_str(&format!("{pad}-"));
                scalar_or_block(val, indent, out);
            }
        }
        other => out.push_str(&format!("{pad}{other}\n")),
    }
}

fn scalar_or_block(val: &Value, indent: usize, out: &mut String) {
    match val {
        Value::Object(m) if !m.is_empty() => {
            out.push('\n');
            to_yaml(val, indent + 2, out);
        }
        Value::Array(a) if !a.is_empty() => {
            out.push('\n');
            to_yaml(val, indent + 2, out);
        }
        other => out.push_str(&format!(" {other}\n")),
    }
}

/// The browsable docs: a page and a script of our own that render `api.json` (nothing is
/// fetched from elsewhere, so it works offline).
pub fn docs_page() -> Response {
    text(
        StatusCode::OK,
        "text/html; charset=utf-8",
        include_str!("docs.html").replace("/*DOCS_JS*/", include_str!("docs.js")),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::router::{methods, resolve};

    /// Every route is documented with exactly the methods it answers, and every documented
    /// path resolves to the route it came from.
    #[test]
    fn schema_and_router_agree() {
        let s = schema("/pulp/api/v3/", "http://x/", true, true);
        let paths = s["paths"].as_object().expect("paths");
        assert_eq!(paths.len(), ROUTES.len());
        let mut ids = std::collections::BTreeSet::new();
        for (template, kind) in ROUTES {
            let (path, _) = path_of("/pulp/api/v3/", template, *kind, true);
            let item = paths[&path].as_object().expect("item");
            let mut documented: Vec<String> = item.keys().cloned().collect();
            documented.sort();
            let mut answered: Vec<String> = methods(*kind)
                .iter()
                .map(|m| m.as_str().to_ascii_lowercase())
                .collect();
            answered.sort();
            assert_eq!(documented, answered, "{template}");
            for o in item.values() {
                assert!(ids.insert(o["operationId"].as_str().expect("id").to_owned()));
            }
            // The concrete path, with ids filled in, routes back to this kind.
            let concrete = path
                .trim_start_matches("/pulp/api/v3/")
                .split('/')
                .filter(|x| !x.is_empty())
                .map(|seg| {
                    if seg.starts_with('{') {
                        "0190a000-0000-7000-8000-000000000000"
                    } else {
                        seg
                    }
                })
                .collect::<Vec<_>>();
            assert_eq!(
                resolve(&concrete, true).map(|r| r.kind),
                Some(*kind),
                "{path}"
            );
        }
        // Every reference resolves.
        let text = s.to_string();
        for r in text.split("#/components/schemas/").skip(1) {
            let name = &r[..r.find('"').expect("end")];
            assert!(
                s["components"]["schemas"].get(name).is_some(),
                "dangling {name}"
            );
        }
    }

    #[test]
    fn href_paths_and_security() {
        let s = schema("/pulp/api/v3/", "http://x/", false, false);
        let sync = &s["paths"]["{file_file_repository_href}sync/"]["post"];
        assert_eq!(sync["operationId"], "repositories_file_file_sync");
        assert_eq!(sync["security"], json!([{"basicAuth": []}]));
        assert!(
            s["paths"]["/pulp/api/v3/status/"]["get"]
                .get("security")
                .is_none()
        );
        assert!(s["paths"]["{file_file_repository_version_href}repair/"]["post"].is_object());
        assert!(s["paths"]["{file_file_repository_href}versions/"]["get"].is_object());
        assert!(s["paths"].get("/pulp/api/v3/pith/test/tasks/").is_none());
        assert_eq!(
            s["info"]["x-pulp-app-versions"],
            api::status::versions_map()
        );
    }

    #[test]
    fn yaml_is_block_style() {
        let mut out = String::new();
        to_yaml(
            &json!({"a": {"b": [1, "x"], "c": {}}, "d": null}),
            0,
            &mut out,
        );
        assert_eq!(
            out,
            "\"a\":\n  \"b\":\n    - 1\n    - \"x\"\n  \"c\": {}\n\"d\": null\n"
        );
    }
}
