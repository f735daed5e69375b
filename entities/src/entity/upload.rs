//! The `core_upload` table (its chunks, `core_uploadchunk`, are read with plain queries).
use sea_orm::entity::prelude::*;

/// One row of `core_upload`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "core_upload")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub pulp_id: String,
    pub size: i64,
    pub pulp_created: i64,
    pub pulp_last_updated: i64,
}

/// No relations are navigated through the ORM; joins are explicit queries.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
