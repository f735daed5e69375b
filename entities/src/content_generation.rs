//! A process-wide counter of changes to what the content app serves.
//!
//! The content app keeps an in-memory index of distributions and publications so that serving
//! a file costs no database round trip. Whatever changes that mapping in this process
//! (distributions created, updated or deleted; publications created or deleted; repositories
//! or versions deleted) calls [`changed`] (or [`bump`]), and the index rebuilds before its next
//! answer. On PostgreSQL [`changed`] also announces the change to the other processes of the
//! cluster (`NOTIFY`), whose [`listen`] bumps their counter; the index's periodic fingerprint
//! check catches anything an announcement missed.

use std::sync::atomic::{AtomicU64, Ordering};

static GENERATION: AtomicU64 = AtomicU64::new(0);

/// Records that distributions or publications changed (call after the commit).
pub fn bump() {
    GENERATION.fetch_add(1, Ordering::Release);
}

/// The current generation.
pub fn current() -> u64 {
    GENERATION.load(Ordering::Acquire)
}

/// The PostgreSQL channel on which processes announce such changes to each other.
const CHANNEL: &str = "pith_content_changed";

/// Records a change to what the content app serves, here and (on PostgreSQL) in every other
/// process of the cluster: their content apps rebuild their index before their next answer,
/// as Pulp's content app, which reads the database per request, would see the change at once.
/// Call after the commit; a failed announcement is logged (the others' periodic check still
/// catches the change).
pub async fn changed(db: &crate::Db) {
    bump();
    if db.backend == crate::Backend::Postgres {
        use sea_orm::ConnectionTrait;
        let notify = db.stmt(&format!("NOTIFY {CHANNEL}"), vec![]);
        if let Err(e) = db.write.execute_raw(notify).await {
            tracing::warn!(error = %e, "could not announce a content change to the other nodes");
        }
    }
}

/// Listens (on PostgreSQL) for the changes other processes announce and bumps this process's
/// generation for each; runs until the process ends, reconnecting after a lost connection
/// (and bumping then, since announcements may have been missed meanwhile).
pub async fn listen(db: crate::Db) {
    if db.backend != crate::Backend::Postgres {
        return;
    }
    let pool = db.read.get_postgres_connection_pool().clone();
    loop {
        match sqlx::postgres::PgListener::connect_with(&pool).await {
            Ok(mut l) => match l.listen(CHANNEL).await {
                Ok(()) => {
                    bump();
                    while l.recv().await.is_ok() {
                        bump();
                    }
                    tracing::warn!("lost the content-change listener; reconnecting");
                }
                Err(e) => tracing::warn!(error = %e, "could not listen for content changes"),
            },
            Err(e) => tracing::warn!(error = %e, "could not connect the content-change listener"),
        }
        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    }
}
