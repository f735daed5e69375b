//! The `core_repositoryversion` table.
use sea_orm::entity::prelude::*;

/// One immutable repository version.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "core_repositoryversion")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub pulp_id: String,
    pub repository_id: String,
    pub number: i64,
    pub complete: bool,
    pub base_version_id: Option<String>,
    pub pulp_created: i64,
    pub pulp_last_updated: i64,
}

/// No relations are navigated through the ORM.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
