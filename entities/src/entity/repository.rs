//! The `core_repository` table.
use sea_orm::entity::prelude::*;

/// One repository.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "core_repository")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub pulp_id: String,
    pub pulp_type: String,
    pub name: String,
    pub description: Option<String>,
    pub pulp_labels: String,
    pub retain_repo_versions: Option<i64>,
    pub retain_checkpoints: Option<i64>,
    pub remote_id: Option<String>,
    pub next_version: i64,
    pub pulp_created: i64,
    pub pulp_last_updated: i64,
}

/// No relations are navigated through the ORM.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
