//! `django_session`: the sessions `login/` opens, shared by every node through the database.

use sea_orm::ConnectionTrait;

use crate::{Db, DbError};

/// Opens a session for `user`, valid until `expires` (µs); its key is the caller's (random,
/// unguessable: it is the credential).
pub async fn open(db: &Db, key: &str, user: i64, expires: i64) -> Result<(), DbError> {
    db.write
        .execute_raw(db.stmt(
            "INSERT INTO django_session (session_key, user_id, expire_date) VALUES ($1, $2, $3)",
            vec![key.to_owned().into(), user.into(), expires.into()],
        ))
        .await?;
    Ok(())
}

/// The user of session `key` if it has not expired by `now` (µs).
pub async fn user_of(db: &Db, key: &str, now: i64) -> Result<Option<i64>, DbError> {
    let row = db
        .read
        .query_one_raw(db.stmt(
            "SELECT user_id FROM django_session WHERE session_key = $1 AND expire_date > $2",
            vec![key.to_owned().into(), now.into()],
        ))
        .await?;
    Ok(match row {
        Some(r) => Some(r.try_get("", "user_id")?),
        None => None,
    })
}

/// Ends session `key`, and drops every session expired by `now` on the way.
pub async fn close(db: &Db, key: &str, now: i64) -> Result<(), DbError> {
    db.write
        .execute_raw(db.stmt(
            "DELETE FROM django_session WHERE session_key = $1 OR expire_date <= $2",
            vec![key.to_owned().into(), now.into()],
        ))
        .await?;
    Ok(())
}

/// Ends every session of `user` (deleted, deactivated, or a new password).
pub async fn close_all(db: &Db, user: i64) -> Result<(), DbError> {
    db.write
        .execute_raw(db.stmt(
            "DELETE FROM django_session WHERE user_id = $1",
            vec![user.into()],
        ))
        .await?;
    Ok(())
}
