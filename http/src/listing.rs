//! List endpoints the way Pulp (DRF) does them: `limit`/`offset` pagination with absolute
//! `next`/`previous` links (query keys sorted), `fields`/`exclude_fields`, `ordering`,
//! filter lookups, and a 400 for any query parameter the endpoint does not know.

use pith_entities::sea_orm::sea_query::{Condition, Expr, ExprTrait, Func, SimpleExpr};
use serde_json::{Map, Value, json};

use crate::{ApiError, Req};

/// Pulp's `PAGE_SIZE`.
pub const PAGE_SIZE: u64 = 100;
const ALWAYS: [&str; 8] = [
    "exclude_fields",
    "fields",
    "limit",
    "minimal",
    "offset",
    "page_size",
    "ordering",
    "format",
];

/// Parsed list parameters.
#[derive(Clone, Debug, Default)]
pub struct ListParams {
    /// Page size.
    pub limit: u64,
    /// Page start.
    pub offset: u64,
    /// Keys to keep (empty: all).
    pub fields: Vec<String>,
    /// Keys to drop.
    pub exclude: Vec<String>,
    /// `(field, descending)`; empty means the endpoint's default.
    pub ordering: Vec<(String, bool)>,
    /// Filters in request order.
    pub filters: Vec<(String, String)>,
    /// `minimal=true`.
    pub minimal: bool,
}

fn split_list(v: &str) -> impl Iterator<Item = String> + '_ {
    v.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

/// Parses `req`'s query for an endpoint with the given filters and orderable fields.
pub fn parse(req: &Req, filters: &[&str], orderable: &[&str]) -> Result<ListParams, ApiError> {
    let mut p = ListParams {
        limit: PAGE_SIZE,
        ..ListParams::default()
    };
    for (k, v) in &req.query {
        match k.as_str() {
            "limit" | "page_size" => {
                // Databases take signed 64-bit limits; anything larger means "all" anyway.
                if let Ok(n @ 1..) = v.parse::<u64>() {
                    p.limit = Ord::min(n, i64::MAX as u64);
                }
            }
            "offset" => p.offset = Ord::min(v.parse::<u64>().unwrap_or(0), i64::MAX as u64),
            "fields" => p.fields.extend(split_list(v)),
            "exclude_fields" => p.exclude.extend(split_list(v)),
            "minimal" => p.minimal = matches!(v.as_str(), "true" | "True" | "1"),
            "ordering" => {
                for term in split_list(v) {
                    let (name, desc) = match term.strip_prefix('-') {
                        Some(n) => (n.to_owned(), true),
                        None => (term.clone(), false),
                    };
                    if !orderable.contains(&name.as_str()) {
                        return Err(ApiError::field(
                            "ordering",
                            format!(
                                "Select a valid choice. {term} is not one of the available choices."
                            ),
                        ));
                    }
                    p.ordering.push((name, desc));
                }
            }
            "format" => {}
            other if filters.contains(&other) => p.filters.push((k.clone(), v.clone())),
            other if ALWAYS.contains(&other) => {}
            other => {
                return Err(ApiError::BadRequest(
                    json!({ "errors": [format!("Invalid Filter: '{other}'")] }),
                ));
            }
        }
    }
    Ok(p)
}

/// Keeps only `fields` (when given) and drops `exclude` from one serialized object.
pub fn select_fields(v: Value, p: &ListParams) -> Value {
    select(v, &p.fields, &p.exclude)
}

/// Field selection for a detail view (`?fields=` / `?exclude_fields=`).
pub fn select_from_query(v: Value, req: &Req) -> Value {
    let mut fields = Vec::new();
    let mut exclude = Vec::new();
    for (k, val) in &req.query {
        match k.as_str() {
            "fields" => fields.extend(split_list(val)),
            "exclude_fields" => exclude.extend(split_list(val)),
            _ => {}
        }
    }
    select(v, &fields, &exclude)
}

fn select(v: Value, fields: &[String], exclude: &[String]) -> Value {
    match v {
        Value::Object(m) if !fields.is_empty() || !exclude.is_empty() => Value::Object(
            m.into_iter()
                .filter(|(k, _)| (fields.is_empty() || fields.contains(k)) && !exclude.contains(k))
                .collect::<Map<String, Value>>(),
        ),
        other => other,
    }
}

/// Builds the paginated body with absolute links.
pub fn page(req: &Req, p: &ListParams, count: u64, results: Vec<Value>) -> Value {
    let link = |offset: Option<u64>| -> String {
        let mut pairs: Vec<(String, String)> = req
            .query
            .iter()
            .filter(|(k, _)| k != "offset" && k != "limit")
            .cloned()
            .collect();
        pairs.push(("limit".into(), p.limit.to_string()));
        if let Some(o) = offset {
            pairs.push(("offset".into(), o.to_string()));
        }
        pairs.sort();
        let q = serde_urlencoded::to_string(&pairs).unwrap_or_default();
        format!("{}{}?{}", req.base_url(), req.path, q)
    };
    let next = (p.offset + p.limit < count).then(|| link(Some(p.offset + p.limit)));
    let previous = (p.offset > 0).then(|| {
        let o = p.offset.saturating_sub(p.limit);
        link(if o == 0 { None } else { Some(o) })
    });
    let results: Vec<Value> = results.into_iter().map(|r| select_fields(r, p)).collect();
    json!({ "count": count, "next": next, "previous": previous, "results": results })
}

/// Splits a filter name into field and lookup (`name__icontains` → `("name", "icontains")`).
pub fn lookup(name: &str) -> (&str, &str) {
    match name.rsplit_once("__") {
        Some((f, l)) => (f, l),
        None => (name, "exact"),
    }
}

/// One page of rows filtered in memory (small tables: users, groups, roles, policies),
/// each serialized by `json`: Pulp's paginated answer.
pub fn page_of<T>(req: &Req, p: &ListParams, all: &[T], json: impl Fn(&T) -> Value) -> Value {
    let results = all
        .iter()
        .skip(p.offset as usize)
        .take(p.limit as usize)
        .map(json)
        .collect();
    page(req, p, all.len() as u64, results)
}

/// `cond` narrowed to what the user may see (the viewset policy's queryset scoping).
pub fn scoped(cond: Condition, scope: &crate::api::Scope) -> Condition {
    match scope {
        crate::api::Scope::All => cond,
        crate::api::Scope::Only(ids) => cond.add(Expr::col("pulp_id").is_in(ids.clone())),
        // Content lists apply their scope in `ContentQuery::page`; nothing else is scoped by
        // repositories, so such a scope shows nothing here.
        crate::api::Scope::InRepositories(_) => cond.add(Expr::cust("1 = 0")),
        crate::api::Scope::Among(seen) => cond.add(
            Condition::any()
                .add(Expr::col("pulp_type").is_in(seen.types.clone()))
                .add(Expr::col("pulp_id").is_in(seen.ids.clone())),
        ),
    }
}

/// A boolean filter's value, as django-filter's `BooleanFilter` reads it.
pub fn boolean(name: &str, value: &str) -> Result<bool, ApiError> {
    match value {
        "true" | "True" | "1" => Ok(true),
        "false" | "False" | "0" => Ok(false),
        _ => Err(ApiError::field(name, "Must be a valid boolean.")),
    }
}

fn like_escape(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_")
}

/// [`text`] with the regular-expression lookups (`regex`, `iregex`), which each backend spells
/// its own way.
pub fn text_on(
    backend: pith_entities::Backend,
    column: &'static str,
    lk: &str,
    value: &str,
) -> Result<SimpleExpr, ApiError> {
    match (lk, backend) {
        ("regex" | "iregex", pith_entities::Backend::Postgres) => Ok(pith_entities::db::condition(
            backend,
            &format!("{column} {} ?", if lk == "iregex" { "~*" } else { "~" }),
            vec![value.into()],
        )),
        ("regex" | "iregex", pith_entities::Backend::Sqlite) => {
            let pattern = if lk == "iregex" {
                format!("(?i){value}")
            } else {
                value.to_owned()
            };
            Ok(pith_entities::db::condition(
                backend,
                &format!("{column} REGEXP ?"),
                vec![pattern.into()],
            ))
        }
        _ => text(column, lk, value),
    }
}

/// A text lookup on `column`: exact, iexact, contains, icontains, startswith, istartswith,
/// in (comma list), ne.
pub fn text(column: &'static str, lk: &str, value: &str) -> Result<SimpleExpr, ApiError> {
    let col = || Expr::col(column);
    let lower = || SimpleExpr::from(Func::lower(Expr::col(column)));
    Ok(match lk {
        "exact" => col().eq(value),
        "iexact" => lower().eq(value.to_lowercase()),
        "ne" => col().ne(value),
        // Case-sensitive on both backends (SQLite's LIKE ignores ASCII case): `REPLACE` and
        // `SUBSTR` compare exactly everywhere.
        "contains" if value.is_empty() => Expr::value(true).eq(true),
        "contains" => SimpleExpr::from(Func::cust("REPLACE").args([
            col(),
            Expr::value(value),
            Expr::value(""),
        ]))
        .ne(col()),
        "icontains" => lower().like(format!("%{}%", like_escape(&value.to_lowercase()))),
        "startswith" => SimpleExpr::from(Func::cust("SUBSTR").args([
            col(),
            // `integer`, not `bigint`: PostgreSQL has no `substr(text, bigint, bigint)`.
            Expr::value(1i32),
            Expr::value(i32::try_from(value.chars().count()).unwrap_or(i32::MAX)),
        ]))
        .eq(value),
        "istartswith" => lower().like(format!("{}%", like_escape(&value.to_lowercase()))),
        "in" => col().is_in(split_list(value).collect::<Vec<_>>()),
        other => {
            return Err(ApiError::BadRequest(
                json!({ "errors": [format!("Invalid Filter: lookup '{other}'")] }),
            ));
        }
    })
}

/// A timestamp lookup on a microseconds column: exact, lt, lte, gt, gte, range, isnull (the
/// conditions of [`time_bounds`], as a sea-query expression).
pub fn time(
    field: &str,
    column: &'static str,
    lk: &str,
    value: &str,
) -> Result<SimpleExpr, ApiError> {
    let col = || Expr::col(column);
    let mut all = Condition::all();
    for (op, t) in time_bounds(field, lk, value)? {
        all = all.add(match op {
            "=" => col().eq(t),
            "<" => col().lt(t),
            "<=" => col().lte(t),
            ">" => col().gt(t),
            ">=" => col().gte(t),
            "IS NULL" => col().is_null(),
            _ => col().is_not_null(),
        });
    }
    Ok(all.into())
}

/// A timestamp lookup as operator and time (µs) pairs, for queries written in SQL: exact, lt,
/// lte, gt, gte, range (two pairs), isnull (`IS NULL` / `IS NOT NULL`).
pub fn time_bounds(
    field: &str,
    lk: &str,
    value: &str,
) -> Result<Vec<(&'static str, i64)>, ApiError> {
    let parse = |s: &str| {
        pith_entities::time::parse_rfc3339(s.trim())
            .ok_or_else(|| ApiError::field(field, "Enter a valid date/time."))
    };
    Ok(match lk {
        "exact" => vec![("=", parse(value)?)],
        "lt" => vec![("<", parse(value)?)],
        "lte" => vec![("<=", parse(value)?)],
        "gt" => vec![(">", parse(value)?)],
        "gte" => vec![(">=", parse(value)?)],
        "range" => {
            let (a, b) = value
                .split_once(',')
                .ok_or_else(|| ApiError::field(field, "Enter a valid date/time range."))?;
            vec![(">=", parse(a)?), ("<=", parse(b)?)]
        }
        "isnull" => match value {
            "true" | "True" | "1" => vec![("IS NULL", 0)],
            _ => vec![("IS NOT NULL", 0)],
        },
        other => {
            return Err(ApiError::BadRequest(
                json!({ "errors": [format!("Invalid Filter: lookup '{other}'")] }),
            ));
        }
    })
}

/// Pulp's `HyperlinkRelatedFilter` on the foreign key `column` to a master model (`table`) of
/// which `types` are the detail types: an object's href or PRN, a type's list href (any object
/// of that type), or, with `allow_null`, `null` or nothing (no object).
#[allow(clippy::too_many_arguments)]
pub fn related(
    backend: pith_entities::Backend,
    field: &str,
    column: &'static str,
    table: &str,
    types: &[pith_actors::plugin::Detail],
    v3: &str,
    value: &str,
    allow_null: bool,
) -> Result<SimpleExpr, ApiError> {
    let v = value.trim();
    if allow_null && (v.is_empty() || v == "null") {
        return Ok(Expr::col(column).is_null());
    }
    if v.is_empty() {
        return Err(ApiError::BadRequest(
            json!({ "detail": format!("No value supplied for {field} filter.") }),
        ));
    }
    if let Some(t) = types.iter().find(|t| v == t.list_href(v3)) {
        return Ok(pith_entities::db::refers_to_type(
            backend,
            column,
            table,
            t.pulp_type,
        ));
    }
    for t in types {
        let rest = v
            .strip_prefix(&format!("{v3}{}/", t.collection))
            .map(|r| r.trim_end_matches('/'))
            .or_else(|| v.strip_prefix(&format!("prn:{}:", t.prn_type)));
        if let Some(id) = rest {
            return match uuid::Uuid::parse_str(id) {
                Ok(u) => Ok(Expr::col(column).eq(u.to_string())),
                Err(_) => Err(ApiError::BadRequest(
                    json!({ "detail": format!("UUID invalid: {id}") }),
                )),
            };
        }
    }
    Err(ApiError::BadRequest(
        json!({ "detail": format!("URI couldn't be resolved: {v}") }),
    ))
}

/// Extracts the UUID from an href of the given collection (`/pulp/api/v3/tasks/<uuid>/`) or a
/// PRN (`prn:core.task:<uuid>`).
pub fn id_from_ref(v3: &str, collection: &str, prn_type: &str, value: &str) -> Option<String> {
    let v = value.trim();
    let id = if let Some(rest) = v.strip_prefix(&format!("{v3}{collection}/")) {
        rest.trim_end_matches('/').to_owned()
    } else if let Some(rest) = v.strip_prefix(&format!("prn:{prn_type}:")) {
        rest.to_owned()
    } else {
        return None;
    };
    uuid::Uuid::parse_str(&id).ok().map(|u| u.to_string())
}

/// The id an href or PRN names, as an object of any of `types`.
pub fn id_from_any(v3: &str, types: &[pith_actors::plugin::Detail], value: &str) -> Option<String> {
    types
        .iter()
        .find_map(|t| id_from_ref(v3, t.collection, t.prn_type, value))
}

/// `pulp_href__in`, `prn__in`, `pulp_id__in` over objects of any of `types`.
pub fn identity_filter_any(
    field: &str,
    value: &str,
    v3: &str,
    types: &[pith_actors::plugin::Detail],
) -> Result<SimpleExpr, ApiError> {
    ids_filter(field, value, |h| id_from_any(v3, types, h))
}

/// Runs a filtered list query: the total count and one page, ordered by the request's
/// `ordering` (default newest first, `-pulp_created`) with `pulp_id` as the final tiebreaker
/// so pages never overlap.
pub async fn fetch_page<E>(
    db: &pith_entities::sea_orm::DatabaseConnection,
    cond: Condition,
    p: &ListParams,
) -> Result<(u64, Vec<E::Model>), ApiError>
where
    E: pith_entities::sea_orm::EntityTrait,
    E::Model: Sync,
{
    use pith_entities::sea_orm::{Order, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect};
    let q = E::find().filter(cond);
    let count = q.clone().count(db).await?;
    let mut q = q;
    if p.ordering.is_empty() {
        q = q.order_by(Expr::col("pulp_created"), Order::Desc);
    }
    for (f, desc) in &p.ordering {
        let col = if f == "pk" {
            "pulp_id".to_owned()
        } else {
            f.clone()
        };
        q = q.order_by(Expr::col(col), if *desc { Order::Desc } else { Order::Asc });
    }
    let rows = q
        .order_by(Expr::col("pulp_id"), Order::Desc)
        .limit(p.limit)
        .offset(p.offset)
        .all(db)
        .await?;
    Ok((count, rows))
}

/// The `pulp_id__in` / `pulp_href__in` / `prn__in` filters every endpoint has.
pub fn identity_filter(
    field: &str,
    value: &str,
    v3: &str,
    collection: &str,
    prn_type: &str,
) -> Result<SimpleExpr, ApiError> {
    ids_filter(field, value, |h| id_from_ref(v3, collection, prn_type, h))
}

/// `pulp_id__in` takes ids; the others hrefs or PRNs, which `resolve` turns into ids (those of
/// another type match nothing). A malformed one is refused as Pulp refuses it: every value of
/// `pulp_id__in` must be a UUID, every href must end in one, every PRN have three parts.
fn ids_filter(
    field: &str,
    value: &str,
    resolve: impl Fn(&str) -> Option<String>,
) -> Result<SimpleExpr, ApiError> {
    let ids: Vec<String> = if field == "pulp_id" {
        let mut ids = Vec::new();
        for v in split_list(value) {
            match uuid::Uuid::parse_str(&v) {
                Ok(u) => ids.push(u.to_string()),
                Err(_) => return Err(ApiError::field("pulp_id__in", "Enter a valid UUID.")),
            }
        }
        ids
    } else {
        let only_prn = field == "prn";
        let mut ids = Vec::new();
        for v in split_list(value) {
            check_pk_ref(&v, only_prn).map_err(|m| ApiError::BadRequest(json!([m])))?;
            ids.extend(resolve(&v));
        }
        ids
    };
    Ok(Expr::col("pulp_id").is_in(ids))
}

/// Pulp's `extract_pk` checks: a PRN has three `:`-separated parts, an href's last path
/// segment is a UUID; `only_prn` refuses hrefs.
fn check_pk_ref(v: &str, only_prn: bool) -> Result<(), String> {
    if v.starts_with("prn:") {
        let parts: Vec<&str> = v.split(':').collect();
        if parts.len() != 3 {
            let repr: Vec<String> = parts.iter().map(|p| format!("'{p}'")).collect();
            return Err(format!("PRN not valid: [{}]", repr.join(", ")));
        }
        return Ok(());
    }
    if only_prn {
        return Err(format!("Not a valid PRN: {v}, must start with 'prn:'"));
    }
    let path = v.split(['?', '#']).next().unwrap_or("");
    let path = match path.split_once("://") {
        Some((_, rest)) => rest.find('/').map_or("", |i| &rest[i..]),
        None => path,
    };
    let last = path.trim_end_matches('/').rsplit('/').next().unwrap_or("");
    match uuid::Uuid::parse_str(last) {
        Ok(_) => Ok(()),
        Err(_) => Err(format!("URI not valid: {v}")),
    }
}

/// Pulp's `pulp_label_select`: comma-separated terms (`\,` escapes a comma), all of which must
/// hold: `key` (has it), `!key` (lacks it), `key=value`, `key!=value` (has it with another
/// value), `key~text` (value contains text, case-insensitively).
pub fn labels_match(labels: &Map<String, Value>, select: &str) -> Result<bool, ApiError> {
    let value_of = |k: &str| labels.get(k).map(|v| v.as_str().unwrap_or("").to_owned());
    for (key, op, value) in label_terms(select)? {
        let ok = match op {
            "=" => value_of(key).is_some_and(|x| x == value),
            "!=" => value_of(key).is_some_and(|x| x != value),
            "~" => value_of(key).is_some_and(|x| x.to_lowercase().contains(&value.to_lowercase())),
            _ => match key.strip_prefix('!') {
                Some(k) => value_of(k).is_none(),
                None => value_of(key).is_some(),
            },
        };
        if !ok {
            return Ok(false);
        }
    }
    Ok(true)
}

/// The terms of a `pulp_label_select` as Pulp parses them: split at unescaped commas, each a
/// key of `[\w .-]` characters (`!` first negates it) and optionally an operator (`=`, `!=`,
/// `~`) with a value (`\,` is a comma). A term that is not one, or a negated key with an
/// operator, is a 400 with Pulp's message.
pub fn label_terms(select: &str) -> Result<Vec<(&str, &'static str, String)>, ApiError> {
    let invalid = |m: String| ApiError::BadRequest(json!([m]));
    let mut terms = Vec::new();
    let mut start = 0;
    let bytes = select.as_bytes();
    for (i, b) in bytes.iter().enumerate() {
        if *b == b',' && (i == 0 || bytes[i - 1] != b'\\') {
            terms.push(&select[start..i]);
            start = i + 1;
        }
    }
    terms.push(&select[start..]);
    let mut out = Vec::new();
    for term in terms {
        let body = term.strip_prefix('!').unwrap_or(term);
        let key_len = body
            .char_indices()
            .find(|(_, c)| !(c.is_alphanumeric() || matches!(c, '_' | ' ' | '.' | '-')))
            .map_or(body.len(), |(i, _)| i);
        if key_len == 0 {
            return Err(invalid(format!("Invalid search term: '{term}'.")));
        }
        let key = &term[..term.len() - body.len() + key_len];
        let rest = &body[key_len..];
        let (op, value) = if let Some(v) = rest.strip_prefix("!=") {
            ("!=", v)
        } else if let Some(v) = rest.strip_prefix('=') {
            ("=", v)
        } else if let Some(v) = rest.strip_prefix('~') {
            ("~", v)
        } else {
            ("", "")
        };
        if key.starts_with('!') && !op.is_empty() {
            return Err(invalid(format!("Cannot use an operator with '{key}'.")));
        }
        out.push((key, op, value.replace("\\,", ",")));
    }
    Ok(out)
}

/// Validates `pulp_labels`: keys match `^[\w .-]+$`, values are strings without `(` or `)`.
pub fn validate_labels(v: &Value) -> Result<(), String> {
    let Some(m) = v.as_object() else {
        return Err(format!(
            "Expected a dictionary of items but got type \"{}\".",
            json_type(v)
        ));
    };
    for (k, val) in m {
        if k.is_empty()
            || !k
                .chars()
                .all(|c| c.is_alphanumeric() || matches!(c, '_' | ' ' | '.' | '-'))
        {
            return Err(format!("Key '{k}' contains non-alphanumerics."));
        }
        match val {
            Value::String(s) if s.contains('(') || s.contains(')') => {
                return Err(format!("Key '{k}' contains value with parentheses."));
            }
            Value::String(_) | Value::Null => {}
            _ => return Err("Not a valid string.".into()),
        }
    }
    Ok(())
}

/// DRF's name for a JSON value's type in error messages.
pub fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "NoneType",
        Value::Bool(_) => "bool",
        Value::Number(n) if n.is_f64() => "float",
        Value::Number(_) => "int",
        Value::String(_) => "str",
        Value::Array(_) => "list",
        Value::Object(_) => "dict",
    }
}

/// [`fetch_page`] plus Pulp's `pulp_label_select`, evaluated on each row's labels (JSON text;
/// labels are not queryable the same way on SQLite and PostgreSQL, and labelled resources are
/// few, so the label filter runs here before paging).
pub async fn fetch_page_labelled<E>(
    db: &pith_entities::sea_orm::DatabaseConnection,
    cond: Condition,
    p: &ListParams,
    labels: impl Fn(&E::Model) -> &str,
) -> Result<(u64, Vec<E::Model>), ApiError>
where
    E: pith_entities::sea_orm::EntityTrait,
    E::Model: Sync,
{
    let Some(select) = p
        .filters
        .iter()
        .find(|(k, _)| k == "pulp_label_select")
        .map(|(_, v)| v.clone())
    else {
        return fetch_page::<E>(db, cond, p).await;
    };
    // A bad expression is a 400 even when no row would be tested against it.
    label_terms(&select)?;
    let all = ListParams {
        limit: i64::MAX as u64,
        offset: 0,
        ..p.clone()
    };
    let (_, rows) = fetch_page::<E>(db, cond, &all).await?;
    let mut keep = Vec::new();
    for r in rows {
        let l: Map<String, Value> = serde_json::from_str(labels(&r)).unwrap_or_default();
        if labels_match(&l, &select)? {
            keep.push(r);
        }
    }
    let count = keep.len() as u64;
    Ok((
        count,
        keep.into_iter()
            .skip(p.offset as usize)
            .take(p.limit as usize)
            .collect(),
    ))
}

/// True when another row of `E` (not `except`, the row being updated) already has `name`.
pub async fn name_taken<E>(
    db: &pith_entities::sea_orm::DatabaseConnection,
    name: &str,
    except: Option<&str>,
) -> Result<bool, ApiError>
where
    E: pith_entities::sea_orm::EntityTrait,
    E::Model: Sync,
{
    use pith_entities::sea_orm::{PaginatorTrait, QueryFilter};
    let mut cond = Condition::all().add(Expr::col("name").eq(name));
    if let Some(id) = except {
        cond = cond.add(Expr::col("pulp_id").ne(id));
    }
    Ok(E::find().filter(cond).count(db).await? > 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_select_terms() {
        let l: Map<String, Value> =
            serde_json::from_str(r#"{"env": "prod", "team": "Core Infra", "list": "x,y"}"#)
                .unwrap();
        assert!(labels_match(&l, "env").unwrap());
        assert!(labels_match(&l, "env=prod,team~infra").unwrap());
        assert!(!labels_match(&l, "env=dev").unwrap());
        assert!(labels_match(&l, "env!=dev,!missing").unwrap());
        assert!(!labels_match(&l, "!env").unwrap());
        // `\,` is a comma inside a value.
        assert!(labels_match(&l, r"list=x\,y").unwrap());
        // Pulp's 400s: an empty term, a negated key with an operator, no key.
        for bad in ["", "!env=prod", "=bad filter", "env,,team"] {
            assert!(labels_match(&l, bad).is_err(), "{bad}");
        }
        assert!(validate_labels(&serde_json::json!({"ok key.1": "v"})).is_ok());
        assert!(validate_labels(&serde_json::json!({"bad/key": "v"})).is_err());
        assert!(validate_labels(&serde_json::json!({"k": "v(1)"})).is_err());
    }
}
