//! HTTP Basic authentication against `auth_user`, with passwords stored as salted argon2
//! hashes.
//!
//! Verifying argon2 costs tens of milliseconds by design, so a successful check is cached: the
//! key is SHA-256 over a per-process random secret, the user name and the password (the cache
//! never holds the password, and its keys are useless outside this process), the value is the
//! stored hash it was verified against. An entry counts only while that user's current stored
//! hash is the same, so a password change invalidates it. Users are re-read from the database
//! every couple of seconds (`pith admin reset-password` runs in another process) and on every
//! cache miss.

use std::collections::HashMap;
use std::sync::RwLock;

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

/// The authenticator.
#[derive(Debug)]
pub struct Auth {
    db: Db,
    secret: [u8; 32],
    users: RwLock<HashMap<String, Stored>>,
    cache: DashMap<[u8; 32], String>,
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
    /// An authenticator over `db`'s users (call [`Auth::refresh`] before serving).
    pub fn new(db: Db) -> Auth {
        let mut secret = [0u8; 32];
        secret[..16].copy_from_slice(uuid::Uuid::new_v4().as_bytes());
        secret[16..].copy_from_slice(uuid::Uuid::new_v4().as_bytes());
        Auth {
            db,
            secret,
            users: RwLock::new(HashMap::new()),
            cache: DashMap::new(),
            inflight: DashMap::new(),
        }
    }

    /// Re-reads users and their hashes.
    pub async fn refresh(&self) -> Result<(), DbError> {
        let rows = user::Entity::find().all(&self.db.read).await?;
        // Inactive users cannot log in (Django's `ModelBackend`): they are simply not here.
        let map = rows
            .into_iter()
            .filter(|u| u.is_active)
            .map(|u| {
                let user = User {
                    id: u.id,
                    username: u.username.clone(),
                    is_superuser: u.is_superuser,
                    is_staff: u.is_staff,
                };
                (
                    u.username,
                    Stored {
                        user,
                        hash: u.password,
                    },
                )
            })
            .collect();
        if let Ok(mut w) = self.users.write() {
            *w = map;
        }
        Ok(())
    }

    fn stored(&self, username: &str) -> Option<Stored> {
        self.users
            .read()
            .ok()
            .and_then(|m| m.get(username).cloned())
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

        if let Some(user) = self.cached(&key, username) {
            return Ok(user);
        }
        let gate = self.inflight.entry(key).or_default().clone();
        let _turn = gate.lock().await;
        if let Some(user) = self.cached(&key, username) {
            return Ok(user);
        }
        let mut stored = self.stored(username);
        if stored.is_none() {
            self.refresh().await.map_err(ApiError::from)?;
            stored = self.stored(username);
        }
        let Some(s) = stored else {
            self.inflight.remove(&key);
            return Err(ApiError::Unauthenticated(INVALID));
        };
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

    /// A cached login, valid only while the user's stored hash is the one it was checked against.
    fn cached(&self, key: &[u8; 32], username: &str) -> Option<User> {
        let s = self.stored(username)?;
        let h = self.cache.get(key)?;
        (*h == s.hash).then_some(s.user)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
