//! Who a request is: HTTP Basic against `auth_user` (passwords stored as salted argon2
//! hashes), Django's sessions, and, when configured, a trusted proxy's identity headers.
//!
//! Revocation is immediate on every node. On PostgreSQL (several processes) each request reads
//! its user's row (one indexed point read), so a password change, deactivation or deletion made
//! through any node or by `pith admin` applies to the very next request everywhere, with no
//! invalidation to miss. On SQLite one process owns the database (the data directory's lock;
//! `pith admin` takes it too), so every change passes through this process: user rows are
//! cached in memory and [`Auth::invalidate`], called by whatever changes a user, drops them
//! before the change is answered.
//!
//! The expensive part is cached everywhere: verifying argon2 costs tens of milliseconds by
//! design, so a successful check is remembered under SHA-256 over a per-process random secret,
//! the user name and the password (never the password itself; the keys are useless outside
//! this process), as the stored hash it was verified against. An entry counts only while the
//! user's current row still holds that hash.

use argon2::Argon2;
use argon2::password_hash::{
    PasswordHash, PasswordHasher, PasswordVerifier, SaltString, rand_core::OsRng,
};
use base64::Engine;
use dashmap::DashMap;
use sha2::{Digest, Sha256};

use pith_entities::sea_orm::EntityTrait;
use pith_entities::{Db, DbError, entity::user};

use crate::ApiError;

/// How many verified logins the cache keeps at most (a bound against memory growth).
const MAX_CACHED: usize = 10_000;

/// An authenticated user.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct User {
    /// Database id (hrefs use it: `/pulp/api/v3/users/<id>/`).
    pub id: i64,
    /// Login name.
    pub username: String,
    /// Superusers pass every permission check.
    pub is_superuser: bool,
    /// Staff (the `staff` principal of access policies).
    pub is_staff: bool,
}

#[derive(Clone, Debug)]
struct Stored {
    user: User,
    hash: String,
}

/// Identities a trusted proxy in front of Pith vouches for, off unless configured (Pulp's
/// `JSONHeaderRemoteAuthentication` and `RemoteUserAuthentication`): the proxy authenticated
/// the user and says who they are in a header; a name not known yet becomes a user without a
/// password or privileges, as Django's `RemoteUserBackend` creates it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TrustedProxy {
    /// `AUTHENTICATION_JSON_HEADER` (as a header name) and the path
    /// `AUTHENTICATION_JSON_HEADER_JQ_FILTER` names in its base64 JSON.
    pub json_header: Option<(String, crate::jq::JqPath)>,
    /// `REMOTE_USER_ENVIRON_NAME` as a header name: it carries the user name itself.
    pub remote_user_header: Option<String>,
    /// What the schema's `securitySchemes` say of each (Pulp's
    /// `AUTHENTICATION_JSON_HEADER_OPENAPI_SECURITY_SCHEME`, `REMOTE_USER_OPENAPI_SECURITY_SCHEME`).
    pub json_header_scheme: serde_json::Value,
    /// See `json_header_scheme`.
    pub remote_user_scheme: serde_json::Value,
}

/// The header a Django `META` name stands for (`HTTP_X_RH_IDENTITY` → `x-rh-identity`);
/// `None` for a name that is not a header's.
pub fn header_of_meta(name: &str) -> Option<String> {
    let rest = name.strip_prefix("HTTP_")?;
    (!rest.is_empty()).then(|| rest.to_ascii_lowercase().replace('_', "-"))
}

/// The authenticator.
#[derive(Debug)]
pub struct Auth {
    db: Db,
    trusted: TrustedProxy,
    secret: [u8; 32],
    cache: DashMap<[u8; 32], String>,
    /// User rows by name, each with the users generation it was read in, when this process
    /// owns the database (SQLite); empty otherwise.
    rows: DashMap<String, (Stored, u64)>,
    /// One verification per credentials at a time: concurrent first requests wait for it
    /// instead of each spending an argon2 run.
    inflight: DashMap<[u8; 32], std::sync::Arc<tokio::sync::Mutex<()>>>,
}

/// Hashes a password with argon2id and a random salt (PHC string format).
pub fn hash_password(password: &str) -> Result<String, String> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| e.to_string())
}

fn verify(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash).is_ok_and(|h| {
        Argon2::default()
            .verify_password(password.as_bytes(), &h)
            .is_ok()
    })
}

impl Auth {
    /// An authenticator over `db`'s users.
    pub fn new(db: Db) -> Auth {
        let mut secret = [0u8; 32];
        secret[..16].copy_from_slice(uuid::Uuid::new_v4().as_bytes());
        secret[16..].copy_from_slice(uuid::Uuid::new_v4().as_bytes());
        Auth {
            db,
            trusted: TrustedProxy::default(),
            secret,
            cache: DashMap::new(),
            rows: DashMap::new(),
            inflight: DashMap::new(),
        }
    }

    /// The trusted-proxy settings.
    pub fn trusted(&self) -> &TrustedProxy {
        &self.trusted
    }

    /// Trusts a proxy's identity headers.
    pub fn with_trusted(mut self, trusted: TrustedProxy) -> Auth {
        self.trusted = trusted;
        self
    }

    /// The active user called `username`, read now (inactive users cannot log in, as with
    /// Django's `ModelBackend`).
    async fn stored(&self, username: &str) -> Result<Option<Stored>, DbError> {
        use pith_entities::rbac::users_generation;
        use pith_entities::sea_orm::{ColumnTrait, QueryFilter};
        let owned = self.db.backend == pith_entities::Backend::Sqlite;
        // Read before the row: a change committed while it is read bumps it past this value,
        // so the row read then is never taken for current.
        let generation = users_generation();
        if owned
            && let Some(e) = self.rows.get(username)
            && e.1 == generation
        {
            return Ok(Some(e.0.clone()));
        }
        let row = user::Entity::find()
            .filter(user::Column::Username.eq(username))
            .one(&self.db.read)
            .await?;
        let s = row.filter(|u| u.is_active).map(stored_of);
        if owned && let Some(s) = &s {
            if self.rows.len() >= MAX_CACHED {
                self.rows.clear();
            }
            self.rows
                .insert(username.to_owned(), (s.clone(), generation));
        }
        Ok(s)
    }

    /// Drops the cached user rows: call after any change to a user (password, activity,
    /// privileges, name, deletion), before answering it.
    pub fn invalidate(&self) {
        pith_entities::rbac::users_changed();
        self.rows.clear();
    }

    /// The active user `id`, read now.
    async fn user_by_id(&self, id: i64) -> Result<Option<User>, DbError> {
        let row = user::Entity::find_by_id(id).one(&self.db.read).await?;
        Ok(row.filter(|u| u.is_active).map(|u| stored_of(u).user))
    }

    /// Checks an `Authorization` header value.
    pub async fn authenticate(&self, header: Option<&str>) -> Result<User, ApiError> {
        const MISSING: &str = "Authentication credentials were not provided.";
        const INVALID: &str = "Invalid username/password.";
        let Some(h) = header else {
            return Err(ApiError::Unauthenticated(MISSING));
        };
        let Some(b64) = h
            .strip_prefix("Basic ")
            .or_else(|| h.strip_prefix("basic "))
        else {
            return Err(ApiError::Unauthenticated(MISSING));
        };
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(b64.trim())
            .map_err(|_| {
                ApiError::Unauthenticated(
                    "Invalid basic header. Credentials not correctly base64 encoded.",
                )
            })?;
        let text = String::from_utf8(decoded).map_err(|_| ApiError::Unauthenticated(INVALID))?;
        let Some((username, password)) = text.split_once(':') else {
            return Err(ApiError::Unauthenticated(
                "Invalid basic header. Credentials string should not include spaces.",
            ));
        };

        let mut hasher = Sha256::new();
        hasher.update(self.secret);
        hasher.update((username.len() as u64).to_le_bytes());
        hasher.update(username.as_bytes());
        hasher.update(password.as_bytes());
        let key: [u8; 32] = hasher.finalize().into();

        let Some(s) = self.stored(username).await? else {
            return Err(ApiError::Unauthenticated(INVALID));
        };
        if self.cache.get(&key).is_some_and(|h| *h == s.hash) {
            return Ok(s.user);
        }
        let gate = self.inflight.entry(key).or_default().clone();
        let _turn = gate.lock().await;
        if self.cache.get(&key).is_some_and(|h| *h == s.hash) {
            return Ok(s.user);
        }
        let (pw, hash) = (password.to_owned(), s.hash.clone());
        let ok = tokio::task::spawn_blocking(move || verify(&pw, &hash))
            .await
            .unwrap_or(false);
        if !ok {
            self.inflight.remove(&key);
            return Err(ApiError::Unauthenticated(INVALID));
        }
        if self.cache.len() >= MAX_CACHED {
            self.cache.clear();
        }
        self.cache.insert(key, s.hash.clone());
        self.inflight.remove(&key);
        Ok(s.user)
    }

    /// Who sent a request, in Pulp's order: Basic credentials when the request carries an
    /// `Authorization` header (wrong ones are a 401), else the user of a valid `sessionid`
    /// cookie, else a trusted proxy's identity header. `true` with a session user: unsafe
    /// methods must then pass the CSRF check ([`check_csrf`]).
    pub async fn identify(
        &self,
        headers: &warp::http::HeaderMap,
    ) -> Result<(User, bool), ApiError> {
        let header = headers.get("authorization").and_then(|v| v.to_str().ok());
        if header.is_some() {
            return Ok((self.authenticate(header).await?, false));
        }
        if let Some(key) = cookie(headers, SESSION_COOKIE) {
            let now = pith_entities::time::now_micros();
            if let Some(id) = pith_entities::sessions::user_of(&self.db, key, now).await?
                && let Some(u) = self.user_by_id(id).await?
            {
                return Ok((u, true));
            }
        }
        if let Some(user) = self.vouched(headers).await? {
            return Ok((user, false));
        }
        Ok((self.authenticate(None).await?, false))
    }

    /// Whether `password` is `username`'s current one (an argon2 check: tens of milliseconds).
    pub async fn password_matches(&self, username: &str, password: &str) -> bool {
        let Ok(Some(s)) = self.stored(username).await else {
            return false;
        };
        let (pw, hash) = (password.to_owned(), s.hash);
        tokio::task::spawn_blocking(move || verify(&pw, &hash))
            .await
            .unwrap_or(false)
    }

    /// The user a trusted proxy's header names (after Basic, as Pulp lists them): `None`
    /// without such a header; a header that names nobody is a 401.
    async fn vouched(&self, headers: &warp::http::HeaderMap) -> Result<Option<User>, ApiError> {
        const DENIED: &str = "Access denied.";
        let text = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
        let username = if let Some((name, path)) = &self.trusted.json_header
            && let Some(value) = text(name)
        {
            let decoded = base64::engine::general_purpose::STANDARD
                .decode(value.trim())
                .map_err(|_| ApiError::Unauthenticated(DENIED))?;
            let json: serde_json::Value =
                serde_json::from_slice(&decoded).map_err(|_| ApiError::Unauthenticated(DENIED))?;
            path.select(&json)
                .and_then(serde_json::Value::as_str)
                .filter(|u| !u.is_empty())
                .ok_or(ApiError::Unauthenticated(DENIED))?
                .to_owned()
        } else if let Some(name) = &self.trusted.remote_user_header
            && let Some(value) = text(name).map(str::trim).filter(|v| !v.is_empty())
        {
            value.to_owned()
        } else {
            return Ok(None);
        };
        if let Some(s) = self.stored(&username).await? {
            return Ok(Some(s.user));
        }
        pith_entities::rbac::provision_user(&self.db, &username).await?;
        // An inactive user is refused like a wrong password.
        Ok(Some(
            self.stored(&username)
                .await?
                .ok_or(ApiError::Unauthenticated(DENIED))?
                .user,
        ))
    }
}

fn stored_of(u: user::Model) -> Stored {
    Stored {
        user: User {
            id: u.id,
            username: u.username,
            is_superuser: u.is_superuser,
            is_staff: u.is_staff,
        },
        hash: u.password,
    }
}

/// The session cookie's name (Django's `SESSION_COOKIE_NAME`).
pub const SESSION_COOKIE: &str = "sessionid";
/// The CSRF cookie's name (Django's `CSRF_COOKIE_NAME`).
pub const CSRF_COOKIE: &str = "csrftoken";
/// The characters of session keys and CSRF secrets and masks (Django's).
const TOKEN_CHARS: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";

/// A cookie's value from the `Cookie` headers.
pub fn cookie<'a>(headers: &'a warp::http::HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all("cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim_matches('"'))
        .filter(|v| !v.is_empty())
}

/// `n` random characters of [`TOKEN_CHARS`] (`alphabet` chars of it: 36 for session keys,
/// lower case and digits as Django's, 62 for CSRF secrets).
pub fn random_token(n: usize, alphabet: usize) -> String {
    let chars: Vec<u8> = TOKEN_CHARS
        .iter()
        .copied()
        .filter(|c| alphabet == 62 || !c.is_ascii_uppercase())
        .collect();
    let mut out = String::with_capacity(n);
    while out.len() < n {
        for b in uuid::Uuid::new_v4().as_bytes() {
            // Rejection sampling keeps the choice uniform.
            let limit = 256 - 256 % chars.len();
            if (*b as usize) < limit && out.len() < n {
                out.push(chars[*b as usize % chars.len()] as char);
            }
        }
    }
    out
}

/// The secret behind a CSRF token: a 64-character token is Django's mask followed by the
/// masked secret, a 32-character one is the secret itself.
fn csrf_secret(token: &str) -> Option<String> {
    let index = |c: u8| TOKEN_CHARS.iter().position(|&t| t == c);
    let b = token.as_bytes();
    match b.len() {
        32 => b
            .iter()
            .all(|c| index(*c).is_some())
            .then(|| token.to_owned()),
        64 => {
            let (mask, cipher) = b.split_at(32);
            let n = TOKEN_CHARS.len();
            mask.iter()
                .zip(cipher)
                .map(|(m, c)| Some(TOKEN_CHARS[(index(*c)? + n - index(*m)?) % n] as char))
                .collect()
        }
        _ => None,
    }
}

/// Django's CSRF check, which session-authenticated requests with an unsafe method must pass
/// (DRF's `SessionAuthentication.enforce_csrf`): a browser's `Origin`, when sent, must be this
/// server; the `X-CSRFToken` header must carry the secret of the `csrftoken` cookie. A failure
/// is the 403 `CSRF Failed: <reason>`.
pub fn check_csrf(headers: &warp::http::HeaderMap, base_url: &str) -> Result<(), ApiError> {
    let fail = |reason: String| ApiError::Csrf(format!("CSRF Failed: {reason}"));
    if let Some(origin) = headers.get("origin").and_then(|v| v.to_str().ok())
        && origin.trim_end_matches('/') != base_url
    {
        return Err(fail(format!(
            "Origin checking failed - {origin} does not match any trusted origins."
        )));
    }
    let Some(secret) = cookie(headers, CSRF_COOKIE).and_then(csrf_secret) else {
        return Err(fail("CSRF cookie not set.".into()));
    };
    let Some(sent) = headers.get("x-csrftoken").and_then(|v| v.to_str().ok()) else {
        return Err(fail("CSRF token missing.".into()));
    };
    if csrf_secret(sent).as_deref() != Some(secret.as_str()) {
        return Err(fail(
            "CSRF token from the 'X-Csrftoken' HTTP header incorrect.".into(),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identity_header_paths() {
        assert_eq!(
            header_of_meta("HTTP_X_RH_IDENTITY").as_deref(),
            Some("x-rh-identity")
        );
        assert_eq!(header_of_meta("REMOTE_USER"), None);
    }

    #[test]
    fn csrf_tokens_masked_or_not_and_origins() {
        use warp::http::{HeaderMap, HeaderValue};
        let secret = random_token(32, 62);
        assert_eq!(secret.len(), 32);
        // Masking as Django does: cipher = (secret + mask) mod 62, per character.
        let mask = random_token(32, 62);
        let idx = |c: char| TOKEN_CHARS.iter().position(|&t| t as char == c).unwrap();
        let cipher: String = secret
            .chars()
            .zip(mask.chars())
            .map(|(s, m)| TOKEN_CHARS[(idx(s) + idx(m)) % 62] as char)
            .collect();
        let masked = format!("{mask}{cipher}");
        let headers = |token: &str, origin: Option<&str>| {
            let mut h = HeaderMap::new();
            h.insert(
                "cookie",
                HeaderValue::from_str(&format!("sessionid=x; csrftoken={secret}")).unwrap(),
            );
            h.insert("x-csrftoken", HeaderValue::from_str(token).unwrap());
            if let Some(o) = origin {
                h.insert("origin", HeaderValue::from_str(o).unwrap());
            }
            h
        };
        let base = "http://127.0.0.1:24817";
        assert!(check_csrf(&headers(&secret, None), base).is_ok());
        assert!(check_csrf(&headers(&masked, Some(base)), base).is_ok());
        assert!(check_csrf(&headers(&mask, None), base).is_err());
        assert!(check_csrf(&headers(&secret, Some("http://evil.example")), base).is_err());
        let mut none = HeaderMap::new();
        none.insert("cookie", HeaderValue::from_static("csrftoken=abc"));
        assert!(check_csrf(&none, base).is_err());
        let key = random_token(32, 36);
        assert!(
            key.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        );
    }

    #[test]
    fn hashes_verify_and_differ_by_salt() {
        let a = hash_password("s3cret").unwrap();
        let b = hash_password("s3cret").unwrap();
        assert_ne!(a, b);
        assert!(verify("s3cret", &a));
        assert!(!verify("wrong", &a));
        assert!(!verify("s3cret", "not a hash"));
    }
}
