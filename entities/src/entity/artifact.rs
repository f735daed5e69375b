//! The `core_artifact` table.
use sea_orm::entity::prelude::*;

/// One row of `core_artifact`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "core_artifact")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub pulp_id: String,
    pub pulp_created: i64,
    pub pulp_last_updated: i64,
    pub file: String,
    pub size: i64,
    pub md5: Option<String>,
    pub sha1: Option<String>,
    pub sha224: Option<String>,
    pub sha256: String,
    pub sha384: Option<String>,
    pub sha512: Option<String>,
    pub timestamp_of_interest: i64,
}

/// No relations are navigated through the ORM; joins are explicit queries.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
