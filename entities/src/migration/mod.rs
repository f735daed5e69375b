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

/// Applies every pending migration. Safe to run concurrently from several processes on
/// PostgreSQL only in the sense that the loser fails: run `pith migrate` once before scaling out.
pub async fn migrate(db: &crate::Db) -> Result<(), crate::DbError> {
    Migrator::up(&db.write, None).await?;
    Ok(())
}
