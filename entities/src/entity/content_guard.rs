//! The `core_contentguard` table.
use sea_orm::entity::prelude::*;

/// One content guard (any type; a type's own fields are in its detail table).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "core_contentguard")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub pulp_id: String,
    pub pulp_type: String,
    pub name: String,
    pub description: Option<String>,
    pub pulp_created: i64,
    pub pulp_last_updated: i64,
}

/// No relations are navigated through the ORM.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
