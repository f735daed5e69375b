//! End-to-end tests: the real `pith` binary on loopback, on SQLite and PostgreSQL.

mod api;
mod cli;
mod clients;
mod cluster;
mod content;
mod content_guards;
mod distribution;
mod faults;
mod fixture;
mod on_demand;
mod pg;
mod rbac;
mod remotes;
mod repositories;
mod support;
mod sync;
mod tasking;
mod telemetry;
mod tls;
mod upgrade;
mod uploads;
