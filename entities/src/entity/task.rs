//! The `core_task` table.
use sea_orm::entity::prelude::*;

/// One row of `core_task`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "core_task")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub pulp_id: String,
    pub pulp_created: i64,
    pub pulp_last_updated: i64,
    pub state: String,
    pub name: String,
    pub logging_cid: String,
    pub created_by: Option<String>,
    pub unblocked_at: Option<i64>,
    pub started_at: Option<i64>,
    pub finished_at: Option<i64>,
    pub error: Option<String>,
    pub result: Option<String>,
    pub args: String,
    pub queue_seq: Option<i64>,
    pub owner: Option<String>,
    pub owner_incarnation: Option<String>,
    pub immediate: bool,
    pub deferred: bool,
    pub parent_task: Option<String>,
    pub task_group: Option<String>,
}

/// No relations are navigated through the ORM; joins are explicit queries.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
