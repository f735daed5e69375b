//! The `core_progressreport` table.
use sea_orm::entity::prelude::*;

/// One row of `core_progressreport`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "core_progressreport")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub pulp_id: String,
    pub task_id: String,
    pub position: i32,
    pub message: String,
    pub code: String,
    pub state: String,
    pub total: Option<i64>,
    pub done: i64,
    pub suffix: Option<String>,
}

/// No relations are navigated through the ORM; joins are explicit queries.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
