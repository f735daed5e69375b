//! Schema migrations. The same code runs on SQLite and PostgreSQL: tables are built with
//! sea-query so each backend gets its own DDL, and only types both share are used.

use sea_orm_migration::MigratorTraitSelf;
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
mod m20261202_000001_detail_columns;
mod m20261202_000002_published_artifacts;
mod m20261202_000003_distribution_remote;
mod m20261202_000004_distributed_publications;
mod m20261203_000001_checkpoints;
mod m20261203_000002_content_guards;
mod m20261203_000003_users_roles;
mod m20261203_000004_access_policies;
mod m20261204_000001_sessions;

/// Core's migrations and those of the running plugins, in one timeline: sorted by name, which
/// starts with the date (`m20261126_000003_…`), so a plugin's migration runs after every core
/// migration older than it and before every newer one (as Django orders them by their
/// dependencies), and a later core migration may touch every plugin's tables.
pub struct Migrator {
    plugins: Vec<PluginMigrations>,
}

impl std::fmt::Debug for Migrator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Migrator")
            .field("plugins", &self.plugins.len())
            .finish()
    }
}

/// Core's own migrations, oldest first.
fn core_migrations() -> Vec<Box<dyn MigrationTrait>> {
    vec![
        Box::new(m20261126_000001_core::Migration),
        Box::new(m20261126_000002_remotes::Migration),
        Box::new(m20261126_000003_repositories::Migration),
        Box::new(m20261126_000004_publications::Migration),
        Box::new(m20261126_000005_uploads::Migration),
        Box::new(m20261126_000006_remote_artifacts::Migration),
        Box::new(m20261126_000007_analytics::Migration),
        Box::new(m20261126_000008_cluster::Migration),
        Box::new(m20261202_000001_detail_columns::Migration),
        Box::new(m20261202_000002_published_artifacts::Migration),
        Box::new(m20261202_000003_distribution_remote::Migration),
        Box::new(m20261202_000004_distributed_publications::Migration),
        Box::new(m20261203_000001_checkpoints::Migration),
        Box::new(m20261203_000002_content_guards::Migration),
        Box::new(m20261203_000003_users_roles::Migration),
        Box::new(m20261203_000004_access_policies::Migration),
        Box::new(m20261204_000001_sessions::Migration),
    ]
}

/// A plugin's migrations (a constructor, so that the list can be built for each database).
pub type PluginMigrations = fn() -> Vec<Box<dyn MigrationTrait>>;

impl Migrator {
    /// Core's migrations with the plugins'.
    pub fn new(plugins: &[PluginMigrations]) -> Migrator {
        Migrator {
            plugins: plugins.to_vec(),
        }
    }
}

#[async_trait::async_trait]
impl MigratorTraitSelf for Migrator {
    fn migrations(&self) -> Vec<Box<dyn MigrationTrait>> {
        let mut all = core_migrations();
        all.extend(self.plugins.iter().flat_map(|m| m()));
        all.sort_by(|a, b| a.name().cmp(b.name()));
        all
    }
}
/// Applies every pending migration. On PostgreSQL the nodes of a cluster often start together:
/// they take turns through a transaction-scoped advisory lock (held by one pooled connection
/// while the migrations run on others), so the later ones find the schema up to date instead
/// of failing on half-created tables.
pub async fn migrate(db: &crate::Db, plugins: Vec<PluginMigrations>) -> Result<(), crate::DbError> {
    use sea_orm::{ConnectionTrait, TransactionTrait};
    let migrator = Migrator::new(&plugins);
    if db.backend != crate::Backend::Postgres {
        migrator.up(&db.write, None).await?;
        return Ok(());
    }
    let turn = db.write.begin().await?;
    // "pith" in ASCII: one lock id for every Pith process.
    turn.execute_raw(db.stmt("SELECT pg_advisory_xact_lock(1885959272)", vec![]))
        .await?;
    let result = migrator.up(&db.write, None).await;
    turn.commit().await?;
    result?;
    Ok(())
}
