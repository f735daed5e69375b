//! The `core_appstatus` table.
use sea_orm::entity::prelude::*;

/// One row of `core_appstatus`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "core_appstatus")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub pulp_id: String,
    pub name: String,
    pub app_type: String,
    pub node: String,
    pub incarnation: String,
    pub pulp_created: i64,
    pub pulp_last_updated: i64,
    pub last_heartbeat: i64,
    pub ttl: i64,
    pub current_task: Option<String>,
    pub versions: String,
    pub cluster_addr: Option<String>,
}

/// No relations are navigated through the ORM; joins are explicit queries.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
