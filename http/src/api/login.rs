//! `login/` (Pulp's `LoginViewSet`): `POST` opens a session for the user the request
//! authenticates (Basic) and sets Django's `sessionid` and `csrftoken` cookies, `GET` shows who
//! is logged in, `PATCH` changes one's own details and password, `DELETE` logs out. Sessions
//! live in the database, so a cookie works on every API node; requests they authenticate must
//! pass Django's CSRF check for unsafe methods (the router applies it).

use serde_json::json;
use warp::http::{HeaderValue, StatusCode};

use super::Ctx;
use crate::auth::{CSRF_COOKIE, SESSION_COOKIE, cookie, random_token};
use crate::request::{Response, empty, json as json_resp};
use crate::{ApiError, Req};

/// How long a session lasts (Django's `SESSION_COOKIE_AGE`: two weeks), in seconds.
const SESSION_AGE: i64 = 1_209_600;
/// How long the CSRF cookie lasts (Django's `CSRF_COOKIE_AGE`: a year), in seconds.
const CSRF_AGE: i64 = 31_449_600;

fn user_of(ctx: &Ctx) -> Result<&crate::auth::User, ApiError> {
    ctx.user.as_ref().ok_or(ApiError::Unauthenticated(
        "Authentication credentials were not provided.",
    ))
}

/// Pulp's `LoginSerializer`.
fn login_json(ctx: &Ctx, user: &crate::auth::User) -> serde_json::Value {
    json!({
        "pulp_href": format!("{}users/{}/", ctx.v3(), user.id),
        "prn": format!("prn:auth.user:{}", user.id),
        "username": user.username,
    })
}

/// A `Set-Cookie` value as Django writes it (`name=value; expires=…; Max-Age=…; Path=/;
/// SameSite=Lax`, `HttpOnly` for the session).
fn set_cookie(name: &str, value: &str, max_age: i64, http_only: bool) -> Option<HeaderValue> {
    let now = pith_entities::time::now_micros() / 1_000_000;
    let expires = chrono::DateTime::from_timestamp(now + max_age, 0)?
        .format("%a, %d %b %Y %H:%M:%S GMT")
        .to_string();
    let value = if value.is_empty() { "\"\"" } else { value };
    let http_only = if http_only { " HttpOnly;" } else { "" };
    HeaderValue::from_str(&format!(
        "{name}={value}; expires={expires};{http_only} Max-Age={max_age}; Path=/; SameSite=Lax"
    ))
    .ok()
}

/// `GET login/`.
pub async fn read(ctx: &Ctx) -> Result<Response, ApiError> {
    Ok(super::ok(&login_json(ctx, user_of(ctx)?)))
}

/// `POST login/` (201): a new session for the authenticated user, and a new CSRF secret.
pub async fn login(ctx: &Ctx, req: &Req) -> Result<Response, ApiError> {
    let user = user_of(ctx)?;
    let now = pith_entities::time::now_micros();
    if let Some(old) = cookie(&req.headers, SESSION_COOKIE) {
        pith_entities::sessions::close(&ctx.state.db, old, now).await?;
    }
    let key = random_token(32, 36);
    pith_entities::sessions::open(&ctx.state.db, &key, user.id, now + SESSION_AGE * 1_000_000)
        .await?;
    let mut r = json_resp(StatusCode::CREATED, &login_json(ctx, user));
    let h = r.headers_mut();
    let csrf = random_token(32, 62);
    for c in [
        set_cookie(CSRF_COOKIE, &csrf, CSRF_AGE, false),
        set_cookie(SESSION_COOKIE, &key, SESSION_AGE, true),
    ]
    .into_iter()
    .flatten()
    {
        h.append("set-cookie", c);
    }
    Ok(r)
}

/// `DELETE login/` (204): ends the request's session and clears its cookie.
pub async fn logout(ctx: &Ctx, req: &Req) -> Result<Response, ApiError> {
    user_of(ctx)?;
    let now = pith_entities::time::now_micros();
    if let Some(key) = cookie(&req.headers, SESSION_COOKIE) {
        pith_entities::sessions::close(&ctx.state.db, key, now).await?;
    }
    let mut r = empty(StatusCode::NO_CONTENT);
    if let Some(c) = set_cookie(SESSION_COOKIE, "", 0, false) {
        r.headers_mut().append("set-cookie", c);
    }
    Ok(r)
}
