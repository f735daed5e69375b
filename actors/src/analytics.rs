//! The analytics reporter: an anonymous summary of the installation, posted once a day as
//! Pulp posts it (a binary protobuf `Analytics` message), unless `ANALYTICS` is off.
//!
//! Every node may run a reporter, but only one posts per period: posting starts with a
//! conditional update of the shared "next post at" time (`pith_analytics`), which exactly one
//! node wins. The time lives in the database, so restarts and nodes coming and going never post
//! early; on a fresh installation it starts at 0, so the first post goes out at start-up, as
//! Pulp's does. A failed post is logged and retried at the next period, and never affects
//! anything else. The data names Pith and its own version, never a Pulp version, so it cannot
//! pass for a Pulp installation.

use std::time::Duration;

use pith_entities::Db;
use ractor::{Actor, ActorProcessingErr, ActorRef, SupervisionEvent};
use ractor_cluster_derive::RactorMessage;

/// How often a report goes out.
pub const PERIOD: Duration = Duration::from_secs(24 * 60 * 60);

/// Process and host counts of one kind of app.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Apps {
    /// Processes.
    pub processes: u32,
    /// Distinct hosts.
    pub hosts: u32,
}

/// Pulp's `Analytics` message.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Payload {
    /// The installation's id (`core_systemid`).
    pub system_id: String,
    /// Content apps online.
    pub online_content_apps: Apps,
    /// Workers online.
    pub online_workers: Apps,
    /// `(name, version)` of each component.
    pub components: Vec<(String, String)>,
    /// PostgreSQL's `server_version_num` (absent on SQLite).
    pub postgresql_version: Option<u32>,
    /// Users, groups, domains, custom access policies, custom roles.
    pub rbac_stats: [u32; 5],
}

fn varint(mut n: u64, out: &mut Vec<u8>) {
    while n >= 0x80 {
        out.push((n as u8) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
}

fn key(field: u32, wire: u8, out: &mut Vec<u8>) {
    varint((u64::from(field) << 3) | u64::from(wire), out);
}

fn bytes_field(field: u32, b: &[u8], out: &mut Vec<u8>) {
    key(field, 2, out);
    varint(b.len() as u64, out);
    out.extend_from_slice(b);
}

fn uint_field(field: u32, n: u32, out: &mut Vec<u8>) {
    key(field, 0, out);
    varint(u64::from(n), out);
}

fn apps(a: &Apps) -> Vec<u8> {
    let mut m = Vec::new();
    uint_field(1, a.processes, &mut m);
    uint_field(2, a.hosts, &mut m);
    m
}

impl Payload {
    /// The protobuf (proto2) encoding of Pulp's `Analytics` message.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        bytes_field(1, self.system_id.as_bytes(), &mut out);
        bytes_field(2, &apps(&self.online_content_apps), &mut out);
        bytes_field(3, &apps(&self.online_workers), &mut out);
        for (name, version) in &self.components {
            let mut c = Vec::new();
            bytes_field(1, name.as_bytes(), &mut c);
            bytes_field(2, version.as_bytes(), &mut c);
            bytes_field(4, &c, &mut out);
        }
        if let Some(v) = self.postgresql_version {
            uint_field(5, v, &mut out);
        }
        let mut r = Vec::new();
        for (i, n) in self.rbac_stats.iter().enumerate() {
            uint_field(i as u32 + 1, *n, &mut r);
        }
        bytes_field(6, &r, &mut out);
        out
    }
}

/// Gathers the payload from the database.
pub async fn payload(db: &Db, version: &str) -> Result<Payload, pith_entities::DbError> {
    let now = pith_entities::time::now_micros();
    let system_id = pith_entities::analytics::system_id(db).await?;
    let rows = pith_entities::analytics::online_apps(db, now).await?;
    let mut content = (0u32, std::collections::BTreeSet::new());
    let mut workers = (0u32, std::collections::BTreeSet::new());
    for (name, kind) in rows {
        // Hosts are what follows `@` in app names, as Pulp counts them.
        let host = name
            .rsplit_once('@')
            .map(|(_, h)| h.to_owned())
            .unwrap_or_default();
        let slot = match kind.as_str() {
            "content" => &mut content,
            "worker" => &mut workers,
            _ => continue,
        };
        slot.0 += 1;
        slot.1.insert(host);
    }
    let postgresql_version = pith_entities::analytics::postgresql_version(db).await?;
    let users = pith_entities::analytics::users(db).await?;
    Ok(Payload {
        system_id,
        online_content_apps: Apps {
            processes: content.0,
            hosts: content.1.len() as u32,
        },
        online_workers: Apps {
            processes: workers.0,
            hosts: workers.1.len() as u32,
        },
        components: vec![("pith".into(), version.to_owned())],
        postgresql_version,
        rbac_stats: [users as u32, 0, 0, 0, 0],
    })
}

/// Where and how often to report.
#[derive(Clone, Debug)]
pub struct Config {
    /// The database.
    pub db: Db,
    /// Where to post.
    pub url: String,
    /// Pith's version.
    pub version: String,
    /// The period.
    pub period: Duration,
}

/// Claims this period's post: true for exactly one node.
async fn claim(db: &Db, period: Duration) -> Result<bool, pith_entities::DbError> {
    let now = pith_entities::time::now_micros();
    pith_entities::analytics::claim(db, now, now + period.as_micros() as i64).await
}

/// How long until the next post is due.
async fn until_due(db: &Db) -> Duration {
    let now = pith_entities::time::now_micros();
    let next = pith_entities::analytics::next_post_at(db)
        .await
        .ok()
        .flatten()
        .unwrap_or(now);
    Duration::from_micros(next.saturating_sub(now).max(0) as u64)
}

async fn post(cfg: &Config) -> Result<(), String> {
    let body = payload(&cfg.db, &cfg.version)
        .await
        .map_err(|e| e.to_string())?
        .encode();
    crate::tls::install_provider();
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(300))
        .build()
        .map_err(|e| e.to_string())?;
    let r = client
        .post(&cfg.url)
        .body(body)
        .send()
        .await
        .map_err(|e| e.to_string())?;
    if !r.status().is_success() {
        return Err(format!("{} answered {}", cfg.url, r.status()));
    }
    Ok(())
}

/// The reporter's message: check whether a post is due.
#[derive(Debug, RactorMessage)]
pub struct Tick;

/// The reporter actor.
pub struct Reporter;

impl Actor for Reporter {
    type Msg = Tick;
    type State = Config;
    type Arguments = Config;

    async fn pre_start(
        &self,
        me: ActorRef<Tick>,
        cfg: Config,
    ) -> Result<Config, ActorProcessingErr> {
        me.cast(Tick)?;
        Ok(cfg)
    }

    async fn handle(
        &self,
        me: ActorRef<Tick>,
        _msg: Tick,
        cfg: &mut Config,
    ) -> Result<(), ActorProcessingErr> {
        match claim(&cfg.db, cfg.period).await {
            Ok(true) => match post(cfg).await {
                Ok(()) => tracing::info!(url = %cfg.url, "posted anonymous analytics"),
                Err(e) => {
                    tracing::warn!(error = %e, "could not post analytics; trying again next period")
                }
            },
            Ok(false) => {}
            Err(e) => tracing::warn!(error = %e, "could not schedule analytics"),
        }
        // Wake when the next post is due (another node may post it; then this one sleeps on).
        let wait = until_due(&cfg.db)
            .await
            .clamp(Duration::from_secs(1), cfg.period);
        me.send_after(wait, || Tick);
        Ok(())
    }
}

/// Starts the supervised reporter.
pub async fn start(cfg: Config) -> Result<(), String> {
    Actor::spawn(None, ReporterSupervisor, cfg)
        .await
        .map(|_| ())
        .map_err(|e| format!("could not start the analytics reporter: {e}"))
}

/// Supervises the reporter: one that fails is replaced.
pub struct ReporterSupervisor;

impl Actor for ReporterSupervisor {
    type Msg = ();
    type State = Config;
    type Arguments = Config;

    async fn pre_start(&self, me: ActorRef<()>, cfg: Config) -> Result<Config, ActorProcessingErr> {
        Actor::spawn_linked(None, Reporter, cfg.clone(), me.get_cell()).await?;
        Ok(cfg)
    }

    async fn handle_supervisor_evt(
        &self,
        me: ActorRef<()>,
        evt: SupervisionEvent,
        cfg: &mut Config,
    ) -> Result<(), ActorProcessingErr> {
        if let SupervisionEvent::ActorFailed(_, err) = evt {
            tracing::error!(error = %err, "the analytics reporter failed; restarting it");
            Actor::spawn_linked(None, Reporter, cfg.clone(), me.get_cell()).await?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_pulps_message() {
        let p = Payload {
            system_id: "ab".into(),
            online_content_apps: Apps {
                processes: 2,
                hosts: 1,
            },
            online_workers: Apps {
                processes: 300,
                hosts: 2,
            },
            components: vec![("pith".into(), "0.1.0".into())],
            postgresql_version: Some(150010),
            rbac_stats: [1, 0, 0, 0, 0],
        };
        let b = p.encode();
        let mut want = vec![0x0a, 2, b'a', b'b'];
        want.extend([0x12, 4, 0x08, 2, 0x10, 1]);
        want.extend([0x1a, 5, 0x08, 0xac, 0x02, 0x10, 2]);
        want.extend([0x22, 13, 0x0a, 4]);
        want.extend(b"pith");
        want.extend([0x12, 5]);
        want.extend(b"0.1.0");
        want.extend([0x28, 0xfa, 0x93, 0x09]);
        want.extend([0x32, 10, 0x08, 1, 0x10, 0, 0x18, 0, 0x20, 0, 0x28, 0]);
        assert_eq!(b, want);
    }
}
