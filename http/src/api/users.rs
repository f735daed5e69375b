//! `users/`, `groups/` and `groups/<id>/users/` (Pulp's `UserViewSet`, `GroupViewSet`,
//! `GroupUserViewSet`): synchronous create (201), read, update, delete (204). Passwords are
//! stored as argon2 hashes and never shown (`hidden_fields` says whether one is set); a `null`
//! password disables password login, as Django's unusable password does.

use pith_entities::entity::user;
use pith_entities::rbac;
use pith_entities::sea_orm::{ActiveModelTrait, EntityTrait, IntoActiveModel, Set};
use pith_entities::time::{now_micros, to_rfc3339};
use serde_json::{Map, Value, json};
use warp::http::StatusCode;

use super::{Ctx, ok};
use crate::error::FieldErrors;
use crate::listing;
use crate::request::{Response, empty, json as json_resp};
use crate::{ApiError, Req};

/// The stored password of a user who cannot log in with one (Django's unusable password).
const NO_PASSWORD: &str = "!";

/// Filters of `users/`.
pub const USER_FILTERS: [&str; 12] = [
    "username",
    "username__contains",
    "username__icontains",
    "username__in",
    "username__startswith",
    "email",
    "email__icontains",
    "first_name",
    "last_name",
    "is_active",
    "is_staff",
    "id__in",
];

/// The user called `username`.
pub async fn user_named(ctx: &Ctx, username: &str) -> Result<Option<user::Model>, ApiError> {
    use pith_entities::sea_orm::{ColumnTrait, QueryFilter};
    Ok(user::Entity::find()
        .filter(user::Column::Username.eq(username))
        .one(&ctx.state.db.read)
        .await?)
}

/// User `id`.
pub async fn user_row(ctx: &Ctx, id: i64) -> Result<Option<user::Model>, ApiError> {
    Ok(user::Entity::find_by_id(id).one(&ctx.state.db.read).await?)
}

async fn user_json(ctx: &Ctx, u: &user::Model) -> Result<Value, ApiError> {
    let v3 = ctx.v3();
    let groups: Vec<Value> = rbac::groups_of(&ctx.state.db, u.id)
        .await?
        .iter()
        .map(|g| json!({"name": g.name, "pulp_href": format!("{v3}groups/{}/", g.id), "prn": format!("prn:core.group:{}", g.id)}))
        .collect();
    Ok(json!({
        "pulp_href": format!("{v3}users/{}/", u.id),
        "prn": format!("prn:auth.user:{}", u.id),
        "id": u.id,
        "username": u.username,
        "first_name": u.first_name,
        "last_name": u.last_name,
        "email": u.email,
        "is_staff": u.is_staff,
        "is_active": u.is_active,
        "date_joined": to_rfc3339(u.pulp_created),
        "groups": groups,
        "hidden_fields": [{"name": "password", "is_set": u.password != NO_PASSWORD && !u.password.is_empty()}],
    }))
}

/// `GET users/`.
pub async fn list(ctx: &Ctx, req: &Req) -> Result<Response, ApiError> {
    let p = listing::parse(req, &USER_FILTERS, &["username", "id", "pk", "date_joined"])?;
    let mut all = user::Entity::find().all(&ctx.state.db.read).await?;
    for (k, v) in &p.filters {
        let b = |k: &str| listing::boolean(k, v);
        match k.as_str() {
            "username" => all.retain(|u| u.username == *v),
            "username__contains" => all.retain(|u| u.username.contains(v.as_str())),
            "username__icontains" => {
                all.retain(|u| u.username.to_lowercase().contains(&v.to_lowercase()))
            }
            "username__startswith" => all.retain(|u| u.username.starts_with(v.as_str())),
            "username__in" => all.retain(|u| v.split(',').any(|n| n.trim() == u.username)),
            "email" => all.retain(|u| u.email == *v),
            "email__icontains" => {
                all.retain(|u| u.email.to_lowercase().contains(&v.to_lowercase()))
            }
            "first_name" => all.retain(|u| u.first_name == *v),
            "last_name" => all.retain(|u| u.last_name == *v),
            "is_active" => {
                let want = b(k)?;
                all.retain(|u| u.is_active == want)
            }
            "is_staff" => {
                let want = b(k)?;
                all.retain(|u| u.is_staff == want)
            }
            _ => all.retain(|u| v.split(',').any(|i| i.trim() == u.id.to_string())),
        }
    }
    all.sort_by(|a, b| a.username.cmp(&b.username));
    if p.ordering.iter().any(|(_, d)| *d) {
        all.reverse();
    }
    let count = all.len() as u64;
    let mut page = Vec::new();
    for u in all.iter().skip(p.offset as usize).take(p.limit as usize) {
        page.push(user_json(ctx, u).await?);
    }
    Ok(ok(&listing::page(req, &p, count, page)))
}

async fn load_user(ctx: &Ctx, id: &str) -> Result<user::Model, ApiError> {
    let id: i64 = id.parse().map_err(|_| ApiError::not_found("User"))?;
    user_row(ctx, id)
        .await?
        .ok_or_else(|| ApiError::not_found("User"))
}

/// `GET users/<id>/`.
pub async fn read(ctx: &Ctx, req: &Req, id: &str) -> Result<Response, ApiError> {
    let u = load_user(ctx, id).await?;
    Ok(ok(&listing::select_from_query(
        user_json(ctx, &u).await?,
        req,
    )))
}

/// Django's `validate_password` with Pulp's validators: long enough, not all digits, not the
/// username.
fn password_problems(password: &str, username: &str) -> Vec<&'static str> {
    let mut out = Vec::new();
    if password.chars().count() < 8 {
        out.push("This password is too short. It must contain at least 8 characters.");
    }
    if !password.is_empty() && password.chars().all(|c| c.is_ascii_digit()) {
        out.push("This password is entirely numeric.");
    }
    if !username.is_empty() && password.eq_ignore_ascii_case(username) {
        out.push("The password is too similar to the username.");
    }
    out
}

/// Applies a validated body to `am` (passwords hashed).
async fn apply(
    ctx: &Ctx,
    body: &Map<String, Value>,
    existing: Option<&user::Model>,
    partial: bool,
    am: &mut user::ActiveModel,
) -> Result<(), ApiError> {
    let mut errs = FieldErrors::default();
    let username = match body.get("username") {
        Some(Value::String(s)) => s.clone(),
        _ => existing.map(|u| u.username.clone()).unwrap_or_default(),
    };
    for (k, v) in body {
        match (k.as_str(), v) {
            ("username", Value::String(s)) => {
                let ok_chars = s
                    .chars()
                    .all(|c| c.is_alphanumeric() || "@.+-_".contains(c));
                if s.is_empty() {
                    errs.add(k, "This field may not be blank.");
                } else if s.chars().count() > 150 {
                    errs.add(k, "Ensure this field has no more than 150 characters.");
                } else if !ok_chars {
                    errs.add(k, "Enter a valid username. This value may contain only letters, numbers, and @/./+/-/_ characters.");
                } else {
                    let taken = user_named(ctx, s)
                        .await?
                        .is_some_and(|u| Some(u.id) != existing.map(|e| e.id));
                    if taken {
                        errs.add(k, "This field must be unique.");
                    }
                    am.username = Set(s.clone());
                }
            }
            ("password", Value::Null) => am.password = Set(NO_PASSWORD.into()),
            ("password", Value::String(p)) => {
                let problems = password_problems(p, &username);
                if problems.is_empty() {
                    let hash = crate::hash_password(p).map_err(ApiError::Internal)?;
                    am.password = Set(hash);
                } else {
                    for m in problems {
                        errs.add(k, m);
                    }
                }
            }
            ("first_name" | "last_name" | "email", Value::String(s)) if s.chars().count() > 150 => {
                errs.add(k, "Ensure this field has no more than 150 characters.")
            }
            ("email", Value::String(s))
                if !s.is_empty()
                    && !s.split_once('@').is_some_and(|(a, d)| {
                        !a.is_empty() && d.contains('.') && !d.starts_with('.')
                    }) =>
            {
                errs.add(k, "Enter a valid email address.")
            }
            ("first_name", Value::String(s)) => am.first_name = Set(s.clone()),
            ("last_name", Value::String(s)) => am.last_name = Set(s.clone()),
            ("email", Value::String(s)) => am.email = Set(s.clone()),
            ("is_staff", Value::Bool(b)) => am.is_staff = Set(*b),
            ("is_active", Value::Bool(b)) => am.is_active = Set(*b),
            ("is_staff" | "is_active", _) => errs.add(k, "Must be a valid boolean."),
            ("username" | "password" | "first_name" | "last_name" | "email", _) => {
                errs.add(k, "Not a valid string.")
            }
            _ => errs.add(k, "Unexpected field"),
        }
    }
    if !partial && !body.contains_key("username") {
        errs.add("username", "This field is required.");
    }
    errs.into_result()
}

/// `POST users/` (201).
pub async fn create(ctx: &Ctx, req: &mut Req) -> Result<Response, ApiError> {
    let body = req.object(ctx.state.config.max_json_body).await?;
    let now = now_micros();
    let mut am = user::ActiveModel {
        password: Set(NO_PASSWORD.into()),
        is_superuser: Set(false),
        first_name: Set(String::new()),
        last_name: Set(String::new()),
        email: Set(String::new()),
        is_staff: Set(false),
        is_active: Set(true),
        pulp_created: Set(now),
        pulp_last_updated: Set(now),
        ..Default::default()
    };
    apply(ctx, &body, None, false, &mut am).await?;
    let u = am
        .insert(&ctx.state.db.write)
        .await
        .map_err(|_| ApiError::field("username", "This field must be unique."))?;
    ctx.state.auth.invalidate();
    Ok(json_resp(StatusCode::CREATED, &user_json(ctx, &u).await?))
}

/// `PUT`/`PATCH users/<id>/`.
pub async fn update(
    ctx: &Ctx,
    req: &mut Req,
    id: &str,
    partial: bool,
) -> Result<Response, ApiError> {
    let body = req.object(ctx.state.config.max_json_body).await?;
    let u = load_user(ctx, id).await?;
    let mut am = u.clone().into_active_model();
    apply(ctx, &body, Some(&u), partial, &mut am).await?;
    am.pulp_last_updated = Set(now_micros());
    let u = am.update(&ctx.state.db.write).await?;
    ctx.state.auth.invalidate();
    if body.contains_key("password") || !u.is_active {
        pith_entities::sessions::close_all(&ctx.state.db, u.id).await?;
    }
    Ok(ok(&user_json(ctx, &u).await?))
}

/// `PATCH login/` (Pulp's `LoginUpdateSerializer`): the user's own `username`, `first_name`,
/// `last_name`, `email`, and a new password given with the old one; other fields are
/// ignored. A new password ends the user's sessions, as Django's session hash does.
pub async fn update_self(ctx: &Ctx, req: &mut Req) -> Result<Response, ApiError> {
    let mut body = req.object(ctx.state.config.max_json_body).await?;
    let me = ctx.user.clone().ok_or(ApiError::Unauthenticated(
        "Authentication credentials were not provided.",
    ))?;
    let u = user_row(ctx, me.id)
        .await?
        .ok_or_else(|| ApiError::not_found("User"))?;
    let text = |v: Option<Value>, name: &str| match v {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(ApiError::field(name, "Not a valid string.")),
    };
    let old = text(body.remove("old_password"), "old_password")?;
    let new = text(body.remove("new_password"), "new_password")?;
    body.retain(|k, _| {
        matches!(
            k.as_str(),
            "username" | "first_name" | "last_name" | "email"
        )
    });
    let refuse = |m: &str| ApiError::field("non_field_errors", m);
    let new_password = match (old, new) {
        (None, Some(_)) => return Err(refuse("Old password is required to update the password.")),
        (Some(old), Some(new)) => {
            if !ctx.state.auth.password_matches(&u.username, &old).await {
                return Err(refuse("Old password is incorrect."));
            }
            if new == old {
                return Err(refuse(
                    "New password cannot be the same as the old password.",
                ));
            }
            body.insert("password".into(), Value::String(new));
            true
        }
        _ => false,
    };
    let mut am = u.clone().into_active_model();
    apply(ctx, &body, Some(&u), true, &mut am).await?;
    am.pulp_last_updated = Set(now_micros());
    let u = am.update(&ctx.state.db.write).await?;
    ctx.state.auth.invalidate();
    if new_password {
        pith_entities::sessions::close_all(&ctx.state.db, u.id).await?;
    }
    Ok(ok(&json!({
        "username": u.username,
        "first_name": u.first_name,
        "last_name": u.last_name,
        "email": u.email,
    })))
}

/// `DELETE users/<id>/` (204).
pub async fn delete(ctx: &Ctx, id: &str) -> Result<Response, ApiError> {
    let u = load_user(ctx, id).await?;
    rbac::delete_user(&ctx.state.db, u.id).await?;
    ctx.state.auth.invalidate();
    pith_entities::sessions::close_all(&ctx.state.db, u.id).await?;
    Ok(empty(StatusCode::NO_CONTENT))
}

fn group_json(ctx: &Ctx, g: &rbac::Group) -> Value {
    json!({
        "pulp_href": format!("{}groups/{}/", ctx.v3(), g.id),
        "prn": format!("prn:core.group:{}", g.id),
        "id": g.id,
        "name": g.name,
    })
}

/// Filters of `groups/`.
pub const GROUP_FILTERS: [&str; 6] = [
    "name",
    "name__contains",
    "name__icontains",
    "name__in",
    "name__startswith",
    "id__in",
];

/// `GET groups/`.
pub async fn list_groups(ctx: &Ctx, req: &Req) -> Result<Response, ApiError> {
    let p = listing::parse(req, &GROUP_FILTERS, &["name", "id", "pk"])?;
    let mut all = rbac::groups(&ctx.state.db).await?;
    all.retain(|g| ctx.scope.sees(&g.id.to_string()));
    for (k, v) in &p.filters {
        match k.as_str() {
            "name" => all.retain(|g| g.name == *v),
            "name__contains" => all.retain(|g| g.name.contains(v.as_str())),
            "name__icontains" => all.retain(|g| g.name.to_lowercase().contains(&v.to_lowercase())),
            "name__startswith" => all.retain(|g| g.name.starts_with(v.as_str())),
            "name__in" => all.retain(|g| v.split(',').any(|n| n.trim() == g.name)),
            _ => all.retain(|g| v.split(',').any(|i| i.trim() == g.id.to_string())),
        }
    }
    if p.ordering.iter().any(|(_, d)| *d) {
        all.reverse();
    }
    Ok(ok(&listing::page_of(req, &p, &all, |g| group_json(ctx, g))))
}

async fn load_group(ctx: &Ctx, id: &str) -> Result<rbac::Group, ApiError> {
    let id: i64 = id.parse().map_err(|_| ApiError::not_found("Group"))?;
    rbac::group(&ctx.state.db, id)
        .await?
        .ok_or_else(|| ApiError::not_found("Group"))
}

fn group_name(body: &Map<String, Value>) -> Result<String, ApiError> {
    match body.get("name") {
        Some(Value::String(s)) if !s.trim().is_empty() && s.chars().count() <= 150 => {
            Ok(s.trim().to_owned())
        }
        Some(Value::String(s)) if !s.trim().is_empty() => Err(ApiError::field(
            "name",
            "Ensure this field has no more than 150 characters.",
        )),
        Some(Value::String(_)) => Err(ApiError::field("name", "This field may not be blank.")),
        Some(_) => Err(ApiError::field("name", "Not a valid string.")),
        None => Err(ApiError::field("name", "This field is required.")),
    }
}

/// `POST groups/` (201).
pub async fn create_group(ctx: &Ctx, req: &mut Req) -> Result<Response, ApiError> {
    let body = req.object(ctx.state.config.max_json_body).await?;
    if let Some(k) = body.keys().find(|k| *k != "name") {
        return Err(ApiError::field(k, "Unexpected field"));
    }
    let name = group_name(&body)?;
    let g = rbac::create_group(&ctx.state.db, &name)
        .await?
        .ok_or_else(|| ApiError::field("name", "group with this name already exists."))?;
    super::access_policies::created(ctx, "groups", &g.id.to_string()).await?;
    Ok(json_resp(StatusCode::CREATED, &group_json(ctx, &g)))
}

/// `GET groups/<id>/`.
pub async fn read_group(ctx: &Ctx, req: &Req, id: &str) -> Result<Response, ApiError> {
    let g = load_group(ctx, id).await?;
    Ok(ok(&listing::select_from_query(group_json(ctx, &g), req)))
}

/// `PUT`/`PATCH groups/<id>/`.
pub async fn update_group(
    ctx: &Ctx,
    req: &mut Req,
    id: &str,
    partial: bool,
) -> Result<Response, ApiError> {
    let body = req.object(ctx.state.config.max_json_body).await?;
    let g = load_group(ctx, id).await?;
    if let Some(k) = body.keys().find(|k| *k != "name") {
        return Err(ApiError::field(k, "Unexpected field"));
    }
    if partial && !body.contains_key("name") {
        return Ok(ok(&group_json(ctx, &g)));
    }
    let name = group_name(&body)?;
    if !rbac::rename_group(&ctx.state.db, g.id, &name).await? {
        return Err(ApiError::field(
            "name",
            "group with this name already exists.",
        ));
    }
    Ok(ok(&group_json(ctx, &load_group(ctx, id).await?)))
}

/// `DELETE groups/<id>/` (204).
pub async fn delete_group(ctx: &Ctx, id: &str) -> Result<Response, ApiError> {
    let g = load_group(ctx, id).await?;
    rbac::delete_group(&ctx.state.db, g.id).await?;
    Ok(empty(StatusCode::NO_CONTENT))
}

/// `GET groups/<id>/users/`.
pub async fn list_members(ctx: &Ctx, req: &Req, id: &str) -> Result<Response, ApiError> {
    let p = listing::parse(req, &[], &[])?;
    let g = load_group(ctx, id).await?;
    let v3 = ctx.v3();
    let ids = rbac::members(&ctx.state.db, g.id).await?;
    let mut page = Vec::new();
    for uid in ids.iter().skip(p.offset as usize).take(p.limit as usize) {
        if let Some(u) = user_row(ctx, *uid).await? {
            page.push(json!({"username": u.username, "pulp_href": format!("{v3}users/{}/", u.id), "prn": format!("prn:auth.user:{}", u.id)}));
        }
    }
    Ok(ok(&listing::page(req, &p, ids.len() as u64, page)))
}

/// `POST groups/<id>/users/ {"username"}` (201).
pub async fn add_member(ctx: &Ctx, req: &mut Req, id: &str) -> Result<Response, ApiError> {
    let body = req.object(ctx.state.config.max_json_body).await?;
    let g = load_group(ctx, id).await?;
    let Some(Value::String(name)) = body.get("username") else {
        return Err(ApiError::field("username", "This field is required."));
    };
    let u = user_named(ctx, name)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("User matching query does not exist: {name}")))?;
    rbac::set_member(&ctx.state.db, g.id, u.id, true).await?;
    let v3 = ctx.v3();
    Ok(json_resp(
        StatusCode::CREATED,
        &json!({"username": u.username, "pulp_href": format!("{v3}users/{}/", u.id), "prn": format!("prn:auth.user:{}", u.id)}),
    ))
}

/// `DELETE groups/<id>/users/<user_id>/` (204).
pub async fn remove_member(ctx: &Ctx, id: &str, user_id: &str) -> Result<Response, ApiError> {
    let g = load_group(ctx, id).await?;
    let u = load_user(ctx, user_id).await?;
    rbac::set_member(&ctx.state.db, g.id, u.id, false).await?;
    Ok(empty(StatusCode::NO_CONTENT))
}
