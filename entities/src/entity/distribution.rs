//! The `core_distribution` table.
use sea_orm::entity::prelude::*;

/// One distribution: a base path served by the content app.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "core_distribution")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub pulp_id: String,
    pub pulp_type: String,
    pub name: String,
    pub base_path: String,
    pub pulp_labels: String,
    pub hidden: bool,
    pub repository_id: Option<String>,
    pub repository_version_id: Option<String>,
    pub publication_id: Option<String>,
    /// The remote of pull-through caching (Pulp's `Distribution.remote`).
    pub remote_id: Option<String>,
    /// Serves the repository's checkpoint publications, each under its timestamp.
    pub checkpoint: bool,
    /// The content guard the content app asks before serving (Pulp's `content_guard`).
    pub content_guard_id: Option<String>,
    pub pulp_created: i64,
    pub pulp_last_updated: i64,
}

/// No relations are navigated through the ORM.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
