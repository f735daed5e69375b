//! Content guards (Pulp's `ContentGuard`): core's guard types and how the content app asks a
//! distribution's guard before serving anything of it.
//!
//! Core declares its types in the same shape a plugin declares its own
//! ([`ContentGuardType`]): `core.rbac` (the API's credentials, with the right to download),
//! `core.content_redirect` (URLs signed with the guard's secret, valid an hour), `core.header`
//! (a base64 header, optionally a JSON document and a path into it), `core.envvar_header` (a
//! base64 header equal to a variable of the content process's environment) and
//! `core.composite` (any of its guards; none permits everything).

use std::sync::Arc;

use base64::Engine;
use pith_actors::plugin::Detail;
use pith_entities::detail::{DetailField, DetailTable, FieldKind};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use crate::plugin::{ContentGuardType, ViewSet};
use crate::{ApiError, HttpState, Req};

/// One guard, as the content app asks it.
#[derive(Clone, Debug, PartialEq)]
pub struct Guard {
    /// Its id.
    pub id: String,
    /// Its type.
    pub pulp_type: String,
    /// Its name (refusals of a composite guard name their members).
    pub name: String,
    /// Its type's own fields.
    pub fields: Map<String, Value>,
    /// The guards it asks (composite guards).
    pub members: Vec<String>,
    /// Its secret (hex), for types that have one.
    pub secret: Option<String>,
}

/// Loads guard `id` (`None`: gone).
pub async fn load(state: &HttpState, id: &str) -> Result<Option<Guard>, ApiError> {
    let db = &state.db;
    let ids = [id.to_owned()];
    let Some(row) = pith_entities::content_guards::rows(db, &ids).await?.pop() else {
        return Ok(None);
    };
    let ty = state.platform.content_guard(&row.pulp_type);
    let fields = match ty.and_then(|t| t.table) {
        Some(t) => pith_entities::detail::load(db, &db.read, &t, &ids)
            .await?
            .remove(id)
            .unwrap_or_default(),
        None => Map::new(),
    };
    let members = if ty.is_some_and(|t| t.members) {
        pith_entities::content_guards::members(db, &ids)
            .await?
            .remove(id)
            .unwrap_or_default()
    } else {
        Vec::new()
    };
    let secret = if ty.is_some_and(|t| t.secret) {
        pith_entities::content_guards::secret(db, id).await?
    } else {
        None
    };
    Ok(Some(Guard {
        id: row.pulp_id,
        name: row.name,
        pulp_type: row.pulp_type,
        fields,
        members,
        secret,
    }))
}

/// Whether `req` may have content guarded by `guard`: `Err(reason)` refuses it. A guard of a
/// type no running plugin declares refuses everything (guarded content never leaks because
/// its plugin is missing).
pub async fn permit(
    state: &HttpState,
    req: &Req,
    guard: &Guard,
) -> Result<Result<(), String>, ApiError> {
    match state.platform.content_guard(&guard.pulp_type) {
        Some(t) => (t.permit)(state, req, guard).await,
        None => Ok(Err(format!(
            "No installed plugin provides the content guard type {:?}.",
            guard.pulp_type
        ))),
    }
}

/// Guards by id, loaded once per content-index generation (see [`crate::content_index`]).
pub type GuardCache = dashmap::DashMap<String, Option<Arc<Guard>>>;

/// Guard `id` from `cache`, loading it the first time.
pub async fn cached(
    state: &HttpState,
    cache: &GuardCache,
    id: &str,
) -> Result<Option<Arc<Guard>>, ApiError> {
    if let Some(g) = cache.get(id) {
        return Ok(g.clone());
    }
    let g = load(state, id).await?.map(Arc::new);
    cache.insert(id.to_owned(), g.clone());
    Ok(g)
}

const fn viewset(
    pulp_type: &'static str,
    endpoint: &'static str,
    model: &'static str,
    tag: &'static str,
    href_param: &'static str,
) -> ViewSet {
    ViewSet {
        detail: Detail {
            pulp_type,
            collection: endpoint,
            prn_type: model_prn(pulp_type),
            model,
        },
        tag,
        serializer: model,
        href_param,
    }
}

/// `core.<model, lower case>` PRN types, spelled out (const fns cannot lower-case).
const fn model_prn(pulp_type: &'static str) -> &'static str {
    match pulp_type.as_bytes() {
        b"core.rbac" => "core.rbaccontentguard",
        b"core.content_redirect" => "core.contentredirectcontentguard",
        b"core.header" => "core.headercontentguard",
        b"core.envvar_header" => "core.envvarheadercontentguard",
        _ => "core.compositecontentguard",
    }
}

/// `RBACContentGuard`.
pub const RBAC: ViewSet = viewset(
    "core.rbac",
    "contentguards/core/rbac",
    "RBACContentGuard",
    "Contentguards: Rbac",
    "r_b_a_c_content_guard_href",
);
/// `ContentRedirectContentGuard`.
pub const CONTENT_REDIRECT: ViewSet = viewset(
    "core.content_redirect",
    "contentguards/core/content_redirect",
    "ContentRedirectContentGuard",
    "Contentguards: Content Redirect",
    "content_redirect_content_guard_href",
);
/// `HeaderContentGuard`.
pub const HEADER: ViewSet = viewset(
    "core.header",
    "contentguards/core/header",
    "HeaderContentGuard",
    "Contentguards: Header",
    "header_content_guard_href",
);
/// `EnvVarHeaderContentGuard`.
pub const ENVVAR_HEADER: ViewSet = viewset(
    "core.envvar_header",
    "contentguards/core/envvar_header",
    "EnvVarHeaderContentGuard",
    "Contentguards: Envvar Header",
    "env_var_header_content_guard_href",
);
/// `CompositeContentGuard`.
pub const COMPOSITE: ViewSet = viewset(
    "core.composite",
    "contentguards/core/composite",
    "CompositeContentGuard",
    "Contentguards: Composite",
    "composite_content_guard_href",
);

const fn text(name: &'static str) -> DetailField {
    DetailField {
        name,
        kind: FieldKind::Text,
        default: "null",
        read_only: false,
    }
}

const HEADER_TABLE: DetailTable = DetailTable {
    name: "core_headercontentguard",
    key: "contentguard_id",
    fields: &[text("header_name"), text("header_value"), text("jq_filter")],
};

const ENVVAR_HEADER_TABLE: DetailTable = DetailTable {
    name: "core_envvarheadercontentguard",
    key: "contentguard_id",
    fields: &[text("header_name"), text("env_var")],
};

/// Core's guard types.
pub fn core_types() -> Vec<ContentGuardType> {
    let plain = |viewset, permit| ContentGuardType {
        viewset,
        table: None,
        required: &[],
        members: false,
        secret: false,
        validate: None,
        permit,
    };
    vec![
        plain(RBAC, |s, r, g| Box::pin(permit_rbac(s, r, g))),
        ContentGuardType {
            secret: true,
            ..plain(CONTENT_REDIRECT, |s, r, g| {
                Box::pin(async move { Ok(permit_redirect(s, r, g)) })
            })
        },
        ContentGuardType {
            table: Some(HEADER_TABLE),
            required: &["header_name", "header_value"],
            validate: Some(validate_header),
            ..plain(HEADER, |_, r, g| {
                Box::pin(async move { Ok(permit_header(r, g)) })
            })
        },
        ContentGuardType {
            table: Some(ENVVAR_HEADER_TABLE),
            required: &["header_name", "env_var"],
            validate: Some(validate_envvar),
            ..plain(ENVVAR_HEADER, |s, r, g| {
                Box::pin(async move { Ok(permit_envvar(s, r, g)) })
            })
        },
        ContentGuardType {
            members: true,
            ..plain(COMPOSITE, |s, r, g| Box::pin(permit_composite(s, r, g)))
        },
    ]
}

const DENIED: &str = "Access denied.";

/// The permission an RBAC guard asks for (model-wide or on the guard).
pub const DOWNLOAD: &str = "core.download_rbaccontentguard";

/// `core.rbac`: the request carries the API's credentials of a superuser or of a user holding
/// [`DOWNLOAD`] (through a role of theirs or of a group of theirs, model-wide or on the guard).
async fn permit_rbac(
    state: &HttpState,
    req: &Req,
    guard: &Guard,
) -> Result<Result<(), String>, ApiError> {
    match state.auth.authenticate(req.header("authorization")).await {
        Ok(u) if u.is_superuser => Ok(Ok(())),
        Ok(u) => {
            let object = (RBAC.detail.prn_type, guard.id.as_str());
            let may = pith_entities::rbac::has_permission(&state.db, u.id, DOWNLOAD, Some(object))
                .await?;
            Ok(if may {
                Ok(())
            } else {
                Err("You do not have permission to perform this action.".into())
            })
        }
        Err(ApiError::Unauthenticated(m)) => Ok(Err(m.into())),
        Err(e) => Err(e),
    }
}

/// How long a signed URL is valid (Pulp's `ContentRedirectContentGuard.EXPIRETIME`).
pub const REDIRECT_VALIDITY: std::time::Duration = std::time::Duration::from_secs(3600);

/// The digest a redirect guard signs `path?query` with.
fn redirect_digest(secret: &[u8], salt: &[u8], path: &str, query: &str) -> Vec<u8> {
    let mut h = Sha256::new();
    h.update(salt);
    h.update(path.as_bytes());
    h.update(b"?");
    h.update(query.as_bytes());
    h.update(secret);
    h.finalize().to_vec()
}

/// A query in the order URL normalization puts it (parameters sorted), as signed.
fn normalized_query(query: &str) -> String {
    let mut params: Vec<&str> = query.split('&').filter(|p| !p.is_empty()).collect();
    params.sort_unstable();
    params.join("&")
}

/// Signs `path` (with its query, if any) with a redirect guard's secret (hex) at `now`
/// (seconds since the epoch): the URL with `expires` and `validate_token` added (Pulp's
/// `preauthenticate_url`), which the content app then lets through for an hour.
pub fn preauthenticate_url(secret_hex: &str, url: &str, salt: &[u8], now: u64) -> String {
    let secret = hex::decode(secret_hex).unwrap_or_default();
    let sep = if url.contains('?') { '&' } else { '?' };
    let signed = format!("{url}{sep}expires={}", now + REDIRECT_VALIDITY.as_secs());
    let (path, query) = signed.split_once('?').unwrap_or((&signed, ""));
    let digest = redirect_digest(&secret, salt, path, &normalized_query(query));
    format!(
        "{signed}&validate_token={}:{}",
        hex::encode(salt),
        hex::encode(digest)
    )
}

/// Checks a signed URL's `expires` and `validate_token` against the secret at `now`.
pub fn check_signed(secret_hex: &str, path: &str, query: &str, now: u64) -> Result<(), String> {
    let not = || "Access not authenticated".to_owned();
    let secret = hex::decode(secret_hex).map_err(|_| not())?;
    let param = |name: &str| {
        query
            .split('&')
            .find_map(|p| p.strip_prefix(name)?.strip_prefix('='))
    };
    let expires: u64 = param("expires")
        .and_then(|e| e.parse().ok())
        .ok_or_else(not)?;
    if now > expires {
        return Err("Authentication expired".into());
    }
    let token = param("validate_token").ok_or_else(not)?;
    let (salt, digest) = token.split_once(':').ok_or_else(not)?;
    let (salt, digest) = (
        hex::decode(salt).map_err(|_| not())?,
        hex::decode(digest).map_err(|_| not())?,
    );
    // What was signed: the URL up to the token.
    let signed = match query.find("&validate_token=") {
        Some(i) => &query[..i],
        None => return Err(not()),
    };
    let expected = redirect_digest(&secret, &salt, path, &normalized_query(signed));
    if expected == digest {
        Ok(())
    } else {
        Err(not())
    }
}

fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

fn permit_redirect(_state: &HttpState, req: &Req, guard: &Guard) -> Result<(), String> {
    let secret = guard.secret.as_deref().ok_or("Access not authenticated")?;
    check_signed(secret, &req.path, &req.raw_query, now_secs())
}

fn header_bytes(req: &Req, name: &str) -> Option<Vec<u8>> {
    let v = req.header(&name.to_ascii_lowercase())?;
    if v.is_empty() {
        return None;
    }
    base64::engine::general_purpose::STANDARD.decode(v).ok()
}

fn field<'a>(g: &'a Guard, name: &str) -> &'a str {
    g.fields.get(name).and_then(Value::as_str).unwrap_or("")
}

/// `core.header`: the header, base64-decoded, equals `header_value`; with `jq_filter`, the
/// header is a JSON document and the value at that path must equal it.
fn permit_header(req: &Req, g: &Guard) -> Result<(), String> {
    let raw = header_bytes(req, field(g, "header_name")).ok_or(DENIED)?;
    let got = match g.fields.get("jq_filter").and_then(Value::as_str) {
        Some(path) if !path.is_empty() => {
            let doc: Value = serde_json::from_slice(&raw).map_err(|_| DENIED)?;
            let path = crate::jq::JqPath::parse(path).map_err(|_| DENIED)?;
            match path.select(&doc) {
                Some(Value::String(s)) => s.clone(),
                _ => return Err(DENIED.into()),
            }
        }
        _ => String::from_utf8(raw).map_err(|_| DENIED)?,
    };
    if got == field(g, "header_value") {
        Ok(())
    } else {
        Err(DENIED.into())
    }
}

fn validate_header(_state: &HttpState, field: &str, v: &Value) -> Result<(), String> {
    match (field, v) {
        ("jq_filter", Value::String(p)) => crate::jq::JqPath::parse(p).map(|_| ()),
        ("header_name" | "header_value", Value::String(s)) if s.is_empty() => {
            Err("This field may not be blank.".into())
        }
        ("header_name" | "header_value", Value::Null) => Err("This field may not be null.".into()),
        _ => Ok(()),
    }
}

/// The environment variables an `envvar_header` guard may name
/// (`ENVVAR_HEADER_CONTENT_GUARD_ALLOWED_VARS`).
fn allowed_vars(state: &HttpState) -> &[String] {
    &state.config.envvar_header_allowed_vars
}

fn validate_envvar(state: &HttpState, field: &str, v: &Value) -> Result<(), String> {
    match (field, v) {
        ("env_var", Value::String(name)) if !allowed_vars(state).contains(name) => Err(format!(
            "Environment variable '{name}' is not in ENVVAR_HEADER_CONTENT_GUARD_ALLOWED_VARS."
        )),
        (_, Value::String(s)) if s.is_empty() => Err("This field may not be blank.".into()),
        (_, Value::Null) => Err("This field may not be null.".into()),
        _ => Ok(()),
    }
}

/// `core.envvar_header`: the header, base64-decoded, equals the named variable of this
/// process's environment (trailing newlines ignored), compared in constant time.
fn permit_envvar(state: &HttpState, req: &Req, g: &Guard) -> Result<(), String> {
    let var = field(g, "env_var");
    if !allowed_vars(state).iter().any(|a| a == var) {
        return Err(DENIED.into());
    }
    let expected = std::env::var(var).unwrap_or_default();
    let expected = expected.trim_end_matches(['\r', '\n']);
    if expected.is_empty() {
        return Err(DENIED.into());
    }
    let name = field(g, "header_name");
    let raw = header_bytes(req, name)
        .ok_or_else(|| format!("Access not allowed. Header {name} not found."))?;
    let got = String::from_utf8(raw)
        .map_err(|_| "Access not allowed - Header content is not valid UTF-8.".to_owned())?;
    let (a, b) = (got.as_bytes(), expected.as_bytes());
    let same = a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0;
    if same { Ok(()) } else { Err(DENIED.into()) }
}

/// `core.composite`: any member permits (none: everything passes, as in Pulp); refusals are
/// reported together.
async fn permit_composite(
    state: &HttpState,
    req: &Req,
    g: &Guard,
) -> Result<Result<(), String>, ApiError> {
    if g.members.is_empty() {
        return Ok(Ok(()));
    }
    let mut reasons: Vec<String> = Vec::new();
    for m in &g.members {
        let Some(member) = load(state, m).await? else {
            continue;
        };
        // Members are never composite themselves (refused at creation), so this cannot loop.
        let verdict = if state
            .platform
            .content_guard(&member.pulp_type)
            .is_some_and(|t| t.members)
        {
            Err("nested composite guard".to_owned())
        } else {
            permit(state, req, &member).await?
        };
        match verdict {
            Ok(()) => return Ok(Ok(())),
            Err(r) => {
                let collection = state
                    .platform
                    .content_guard(&member.pulp_type)
                    .map_or("contentguards", |t| t.viewset.detail.collection);
                let href = format!("{}{collection}/{}/", state.config.v3(), member.id);
                reasons.push(format!(
                    "\"Guard: '{}', HREF: '{href}', class: '{}', denial: [{r}].\"",
                    member.name, member.pulp_type
                ));
            }
        }
    }
    // Pulp's message, its list written as Python writes it.
    Ok(Err(format!(
        "Access forbidden. Refusals: [{}]",
        reasons.join(", ")
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signed_urls_round_trip_and_expire() {
        let secret = hex::encode([7u8; 32]);
        let url = preauthenticate_url(&secret, "/pulp/content/g/a.txt", &[1, 2, 3], 1_000);
        let (path, query) = url.split_once('?').unwrap();
        assert_eq!(check_signed(&secret, path, query, 1_000), Ok(()));
        assert_eq!(check_signed(&secret, path, query, 1_000 + 3_600), Ok(()));
        assert_eq!(
            check_signed(&secret, path, query, 1_000 + 3_601),
            Err("Authentication expired".into())
        );
        assert!(check_signed(&secret, "/pulp/content/g/b.txt", query, 1_000).is_err());
        assert!(check_signed(&hex::encode([8u8; 32]), path, query, 1_000).is_err());
        let forged = query.replace("expires=4600", "expires=9999");
        assert!(check_signed(&secret, path, &forged, 1_000).is_err());
        assert!(check_signed(&secret, path, "expires=9999", 1_000).is_err());
        // A URL with a query of its own keeps it signed.
        let url = preauthenticate_url(&secret, "/p/x?b=2&a=1", &[9], 0);
        let (path, query) = url.split_once('?').unwrap();
        assert_eq!(check_signed(&secret, path, query, 10), Ok(()));
    }
}
