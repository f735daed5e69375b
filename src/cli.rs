//! The command line.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// Pith: a Pulp 3 compatible content repository server.
///
/// Settings use Pulp's names as `PULP_`-prefixed environment variables (e.g.
/// `PULP_DATABASE_URL`, `PULP_CONTENT_ORIGIN`), optionally from a TOML file given with
/// `--config` (keys without the prefix, any case). Environment variables win over the file.
#[derive(Debug, Parser)]
#[command(name = "pith", version, about, long_about)]
pub struct Cli {
    /// A TOML settings file (e.g. `content_origin = "https://pulp.example.com"`).
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// What to run.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run everything in one process: REST API and content app on one listener, plus worker
    /// actors. SQLite under the data directory by default; no other set-up needed.
    Serve(ServeArgs),
    /// Run only the REST API (PostgreSQL). Tasks it dispatches are run by a `pith worker`
    /// (or `pith serve`) on the same database.
    Api(ListenArgs),
    /// Run only the content app (PostgreSQL).
    Content(ContentArgs),
    /// Run only the tasking runtime: lock service and workers (PostgreSQL).
    Worker(WorkerArgs),
    /// Apply database migrations and exit (`serve` also migrates on start).
    Migrate(DataArgs),
    /// Administrative commands.
    #[command(subcommand)]
    Admin(AdminCommand),
}

/// Where data lives when no `PULP_DATABASE_URL`/`PULP_MEDIA_ROOT` is set.
#[derive(Debug, Args, Clone)]
pub struct DataArgs {
    /// Data directory: `pith.db` (SQLite) and the artifact store live inside it.
    #[arg(long, default_value = "./pith-data", value_name = "DIR")]
    pub data_dir: PathBuf,
}

/// `pith serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on (API and content app).
    #[arg(long, default_value = "127.0.0.1:24817")]
    pub bind: SocketAddr,
    /// Number of worker actors (tasks run in parallel, one per worker).
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u32).range(1..=256))]
    pub workers: u32,
    #[command(flatten)]
    pub data: DataArgs,
}

/// `pith api`.
#[derive(Debug, Args)]
pub struct ListenArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:24817")]
    pub bind: SocketAddr,
    #[command(flatten)]
    pub data: DataArgs,
}

/// `pith content`.
#[derive(Debug, Args)]
pub struct ContentArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:24816")]
    pub bind: SocketAddr,
    #[command(flatten)]
    pub data: DataArgs,
}

/// `pith worker`.
#[derive(Debug, Args)]
pub struct WorkerArgs {
    /// Number of worker actors.
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u32).range(1..=256))]
    pub workers: u32,
    #[command(flatten)]
    pub data: DataArgs,
}

/// `pith admin …`.
#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Set the password of the `admin` user (creating the user if needed).
    ResetPassword {
        /// The new password.
        #[arg(long, conflicts_with = "random")]
        password: Option<String>,
        /// Generate a random password and print it.
        #[arg(long)]
        random: bool,
        #[command(flatten)]
        data: DataArgs,
    },
}
