//! The `core_remote` table.
use sea_orm::entity::prelude::*;

/// One remote. JSON fields (`pulp_labels`, `headers`) are stored as text.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "core_remote")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub pulp_id: String,
    pub pulp_type: String,
    pub name: String,
    pub url: String,
    pub pulp_created: i64,
    pub pulp_last_updated: i64,
    pub pulp_labels: String,
    pub policy: String,
    pub ca_cert: Option<String>,
    pub client_cert: Option<String>,
    pub client_key: Option<String>,
    pub tls_validation: bool,
    pub proxy_url: Option<String>,
    pub proxy_username: Option<String>,
    pub proxy_password: Option<String>,
    pub username: Option<String>,
    pub password: Option<String>,
    pub max_retries: Option<i64>,
    pub total_timeout: Option<f64>,
    pub connect_timeout: Option<f64>,
    pub sock_connect_timeout: Option<f64>,
    pub sock_read_timeout: Option<f64>,
    pub headers: String,
    pub download_concurrency: Option<i64>,
    pub rate_limit: Option<i64>,
}

/// No relations are navigated through the ORM.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
