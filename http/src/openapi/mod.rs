//! The OpenAPI 3.1 schema (`docs/api.json`, `docs/api.yaml`) and the browsable docs page
//! (`docs/`), generated from the router's table of endpoints ([`crate::router::Routes`]: core's
//! and the plugins'), the filter and ordering lists the list handlers parse with, and the
//! serializers in [`components`] and those the plugins declare. pulp-glue (pulp-cli, Ansible) builds every request from this schema: it
//! looks operations up by Pulp's operationIds, sends only declared parameters, validates
//! bodies against the request schemas, and sends credentials only to operations whose
//! `security` names `basicAuth`.

pub mod components;

use serde_json::{Map, Value, json};
use warp::http::{HeaderValue, Method, StatusCode};

use crate::api::Ctx;
use crate::request::{Response, text};
use crate::router::{Endpoint, Routes};
use crate::{ApiError, Req};
use components::Serializer;

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
    pub body: Option<(String, Body)>,
    /// Status → response schema (`None`: no body).
    pub responses: Vec<(u16, Option<String>)>,
    /// The access-policy action it performs, when its operationId does not say
    /// (`tasks_cancel` is Pulp's `partial_update`).
    pub action: Option<&'static str>,
}

/// How a request body may be sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Body {
    /// JSON, urlencoded or multipart.
    Any,
    /// Multipart or urlencoded (a file field).
    Form,
}

/// An optional query parameter.
pub fn query(name: &str, schema: Value) -> Value {
    json!({"name": name, "in": "query", "required": false, "schema": schema})
}

/// A filter's schema, from its name and lookup (`__in` lists, numbers, flags, times).
pub fn filter_param(name: &str) -> Value {
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
        (_, "in") | ("added_between" | "removed_between", _) => {
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

/// `fields` and `exclude_fields`.
pub fn field_params() -> Vec<Value> {
    ["fields", "exclude_fields"]
        .iter()
        .map(|n| {
            json!({"name": n, "in": "query", "required": false, "style": "form", "explode": true,
                   "schema": {"type": "array", "items": {"type": "string"}}})
        })
        .collect()
}

/// A list's paging, ordering, filter and field parameters.
pub fn list_params(filters: &[&str], orderable: &[&str]) -> Vec<Value> {
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

/// An operation without parameters, body or responses yet.
pub fn op(method: Method, id: &str, tag: &'static str) -> Op {
    Op {
        method,
        id: id.to_owned(),
        tag,
        params: Vec::new(),
        body: None,
        responses: Vec::new(),
        action: None,
    }
}

impl Op {
    /// Performing access-policy action `a`.
    pub fn action(mut self, a: &'static str) -> Op {
        self.action = Some(a);
        self
    }

    /// With these query (and header) parameters.
    pub fn params(mut self, p: Vec<Value>) -> Op {
        self.params = p;
        self
    }
    /// With a request body of component `schema`.
    pub fn body(mut self, schema: &str, how: Body) -> Op {
        self.body = Some((schema.to_owned(), how));
        self
    }
    /// Answering `status` with a body of component `schema` (or none).
    pub fn answers(mut self, status: u16, schema: Option<&str>) -> Op {
        self.responses.push((status, schema.map(str::to_owned)));
        self
    }
    /// Answering 202 with a task.
    pub fn task(self) -> Op {
        self.answers(202, Some("AsyncOperationResponse"))
    }
}

fn paginated(name: &str) -> String {
    format!("Paginated{name}List")
}

/// `…_list`: the list of `resp` items with these filters.
pub fn list(
    prefix: &str,
    tag: &'static str,
    resp: &str,
    filters: &[&str],
    orderable: &[&str],
) -> Op {
    op(Method::GET, &format!("{prefix}_list"), tag)
        .params(list_params(filters, orderable))
        .answers(200, Some(&paginated(resp)))
}

/// `…_read`: one object.
pub fn read(prefix: &str, tag: &'static str, resp: &str) -> Op {
    op(Method::GET, &format!("{prefix}_read"), tag)
        .params(field_params())
        .answers(200, Some(resp))
}

/// Update and partial update answered by a task (or 200 with the unchanged object).
pub fn updates(prefix: &str, tag: &'static str, req: &str, patched: &str, resp: &str) -> [Op; 2] {
    [
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
pub fn label(prefix: &str, tag: &'static str, set: bool) -> Op {
    let (action, schema, resp) = if set {
        ("set_label", "SetLabel", "SetLabelResponse")
    } else {
        ("unset_label", "UnsetLabel", "UnsetLabelResponse")
    };
    op(Method::POST, &format!("{prefix}_{action}"), tag)
        .body(schema, Body::Any)
        .answers(201, Some(resp))
}

/// A route template as a schema path: href style (`{<app>_<type>_repository_href}sync/`) by
/// default, concrete (`/pulp/api/v3/repositories/<app>/<type>/{pulp_id}/sync/`) with
/// `pk_path`.
fn path_of(v3: &str, e: &Endpoint, pk_path: bool) -> (String, Vec<Value>) {
    let template = e.template;
    let Some((href, names)) = e.href else {
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

/// What the schema is built from: the endpoints, the serializers, and the components' versions.
#[derive(Clone, Copy, Debug)]
pub struct Sources<'a> {
    /// Every endpoint.
    pub routes: &'a Routes,
    /// Every serializer (core's and the plugins').
    pub serializers: &'a [&'static Serializer],
    /// `{"core": "3.123.1", "file": …}`.
    pub versions: &'a Value,
}

/// Builds the whole schema.
pub fn schema(src: Sources<'_>, v3: &str, server: &str, pk_path: bool) -> Value {
    let mut paths = Map::new();
    let mut schemas = Map::new();
    let mut tags = std::collections::BTreeSet::new();
    for s in src.serializers {
        for (name, v) in s.schemas() {
            schemas.insert(name, v);
        }
    }
    for e in src.routes.endpoints() {
        let (path, path_params) = path_of(v3, e, pk_path);
        let mut item = Map::new();
        for o in e.operations.iter().map(|o| &o.op) {
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
            if let Some((schema, how)) = &o.body {
                v["requestBody"] = json!({"content": content_for(schema, *how), "required": true});
            }
            if !e.open {
                v["security"] = json!([{"basicAuth": []}]);
            }
            item.insert(o.method.as_str().to_ascii_lowercase(), v);
        }
        paths.insert(path, Value::Object(item));
    }
    let versions = src.versions;
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
                let known = &ctx.state.platform.versions;
                for c in v.split(',').filter(|c| !c.is_empty()) {
                    if known.get(c).is_none() {
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
    let mut s = schema(
        ctx.state.platform.schema_sources(),
        &ctx.v3(),
        &server,
        pk_path,
    );
    // The trusted-proxy mechanisms, when on, are documented as Pulp names them.
    let trusted = ctx.state.auth.trusted();
    let schemes = &mut s["components"]["securitySchemes"];
    if trusted.json_header.is_some() {
        schemes["json_header_remote_authentication"] = trusted.json_header_scheme.clone();
    }
    if trusted.remote_user_header.is_some() {
        schemes["remoteUserAuthentication"] = trusted.remote_user_scheme.clone();
    }
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

/// What is wrong with the schema of `platform`, if anything: a path that does not resolve
/// back to the endpoint it documents, a method documented but not answered (or the other way
/// round), a duplicate operationId, a dangling component reference. Each plugin's tests run
/// it over core with that plugin.
pub fn consistency_errors(platform: &crate::plugin::Platform) -> Vec<String> {
    let mut errors = Vec::new();
    let s = schema(
        platform.schema_sources(),
        "/pulp/api/v3/",
        "http://x/",
        true,
    );
    let Some(paths) = s["paths"].as_object() else {
        return vec!["no paths".into()];
    };
    let endpoints = platform.routes.endpoints();
    if paths.len() != endpoints.len() {
        errors.push(format!(
            "{} paths for {} endpoints",
            paths.len(),
            endpoints.len()
        ));
    }
    let mut ids = std::collections::BTreeSet::new();
    for e in endpoints {
        let (path, _) = path_of("/pulp/api/v3/", e, true);
        let Some(item) = paths.get(&path).and_then(Value::as_object) else {
            errors.push(format!("{path} is not documented"));
            continue;
        };
        let mut documented: Vec<String> = item.keys().cloned().collect();
        documented.sort();
        let mut answered: Vec<String> = e
            .methods()
            .iter()
            .map(|m| m.as_str().to_ascii_lowercase())
            .collect();
        answered.sort();
        if documented != answered {
            errors.push(format!(
                "{path}: documents {documented:?}, answers {answered:?}"
            ));
        }
        for o in item.values() {
            let id = o["operationId"].as_str().unwrap_or_default().to_owned();
            if !ids.insert(id.clone()) {
                errors.push(format!("operationId {id} twice"));
            }
        }
        // The concrete path, with ids filled in, routes back to this endpoint.
        let concrete: Vec<&str> = path
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
            .collect();
        if platform.routes.resolve(&concrete).map(|(r, _)| r.template) != Some(e.template) {
            errors.push(format!("{path} does not route back to {}", e.template));
        }
    }
    let text = s.to_string();
    for r in text.split("#/components/schemas/").skip(1) {
        let name = r.split('"').next().unwrap_or_default();
        if s["components"]["schemas"].get(name).is_none() {
            errors.push(format!("dangling {name}"));
        }
    }
    errors
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plugin::{Core, Platform};

    /// Core alone: every endpoint documented with exactly its methods, routing back.
    #[test]
    fn core_schema_and_router_agree() {
        let p = Platform::new(Core::new(true), Vec::new(), true);
        assert_eq!(consistency_errors(&p), Vec::<String>::new());
        let s = schema(p.schema_sources(), "/pulp/api/v3/", "http://x/", false);
        assert!(
            s["paths"]["/pulp/api/v3/status/"]["get"]
                .get("security")
                .is_none()
        );
        assert_eq!(
            s["paths"]["/pulp/api/v3/tasks/"]["get"]["security"],
            json!([{"basicAuth": []}])
        );
        assert!(s["paths"]["{task_href}"]["patch"].is_object());
        assert_eq!(s["info"]["x-pulp-app-versions"], json!({"core": "3.123.1"}));
        let off = Platform::new(Core::new(false), Vec::new(), false);
        let s = schema(off.schema_sources(), "/pulp/api/v3/", "http://x/", false);
        assert!(s["paths"].get("/pulp/api/v3/pith/test/tasks/").is_none());
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
