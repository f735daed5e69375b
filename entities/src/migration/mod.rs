//! Schema migrations. The same code runs on SQLite and PostgreSQL: tables are built with
//! sea-query so each backend gets its own DDL, and only types both share are used.

use sea_orm_migration::prelude::*;

mod columns;
mod m20261126_000001_core;
mod m20261126_000002_remotes;
mod m20261126_000003_repositories;
mod m20261126_000004_publications;
mod m20261126_000005_uploads;
mod m20261126_000006_remote_artifacts;
mod m20261126_000007_analytics;
mod m20261126_000008_cluster;

/// Every migration Pith knows, in order.
#[derive(Debug)]
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261126_000001_core::Migration),
            Box::new(m20261126_000002_remotes::Migration),
            Box::new(m20261126_000003_repositories::Migration),
            Box::new(m20261126_000004_publications::Migration),
            Box::new(m20261126_000005_uploads::Migration),
            Box::new(m20261126_000006_remote_artifacts::Migration),
            Box::new(m20261126_000007_analytics::Migration),
            Box::new(m20261126_000008_cluster::Migration),
        ]
    }
}

/// Applies every pending migration. On PostgreSQL the nodes of a cluster often start together:
/// they take turns through a transaction-scoped advisory lock (held by one pooled connection
/// while the migrations run on others), so the later ones find the schema up to date instead
/// of failing on half-created tables.
pub async fn migrate(db: &crate::Db) -> Result<(), crate::DbError> {
    use sea_orm::{ConnectionTrait, TransactionTrait};
    if db.backend != crate::Backend::Postgres {
        Migrator::up(&db.write, None).await?;
        return Ok(());
    }
    let turn = db.write.begin().await?;
    // "pith" in ASCII: one lock id for every Pith process.
    turn.execute_raw(db.stmt("SELECT pg_advisory_xact_lock(1885959272)", vec![]))
        .await?;
    let result = Migrator::up(&db.write, None).await;
    turn.commit().await?;
    result?;
    Ok(())
}
