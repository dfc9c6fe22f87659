//! Configuration: `config/*.toml` as written, then validated into [`Config`].

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

pub const IDEMPOTENCY_RETENTION_HOURS_MIN: u64 = 24;
pub const BODY_BYTES_MAX_LIMIT: u64 = 16 * 1024 * 1024;
pub const PAGE_SIZE_MAX_LIMIT: usize = 10_000;
pub const THREADS_MAX: usize = 64;
pub const REMINDER_LEAD_MINUTES_MAX: u32 = 7 * 24 * 60;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("reading {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("parsing {path}: {source}")]
    Parse {
        path: PathBuf,
        source: toml::de::Error,
    },
    #[error("invalid configuration: {0}")]
    Invalid(String),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    server: RawServer,
    limits: RawLimits,
    ledger: RawLedger,
    scheduling: RawScheduling,
    auth: RawAuth,
    log: RawLog,
    recycle_bin: RawRecycleBin,
    #[serde(default)]
    notifications: RawNotifications,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawNotifications {
    #[serde(default)]
    webhook_private_targets: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRecycleBin {
    retention_days: u32,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLog {
    format: LogFormat,
}

/// How log lines are written to stderr: for people, or one JSON object per line for a log
/// shipper (every field of the event and its spans, the request id among them).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAuth {
    bootstrap_admin_key_file: PathBuf,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawScheduling {
    reminder_lead_minutes: u32,
    #[serde(default = "waitlist_offer_minutes_default")]
    waitlist_offer_minutes: u32,
}

fn waitlist_offer_minutes_default() -> u32 {
    30
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawServer {
    listen: String,
    data_dir: PathBuf,
    backup_dir: PathBuf,
    http_threads: usize,
    actor_threads: usize,
    #[serde(default = "serve_on_actor_threads")]
    http_on_actor_threads: bool,
}

fn serve_on_actor_threads() -> bool {
    true
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLimits {
    rate_per_credential_per_s: u32,
    rate_burst: u32,
    body_bytes_max: u64,
    batch_body_bytes_max: u64,
    page_size_max: usize,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLedger {
    idempotency_retention_hours: u64,
    default_time_zone: String,
    point_value_minor: i64,
    cross_store_use: bool,
}

#[derive(Debug, Clone)]
pub struct Config {
    pub listen: SocketAddr,
    pub data_dir: PathBuf,
    /// Where `POST /v1/admin/backups` puts checkpoints; a relative path is taken from the
    /// data directory's parent, so that it lands on the same file system (hard links).
    pub backup_dir: PathBuf,
    pub http_threads: usize,
    pub actor_threads: usize,
    /// Serve HTTP on the actor threads, one listener each (SO_REUSEPORT), so that a request
    /// to an actor on the same thread never wakes another; `http_threads` then only run
    /// start-up. Otherwise `http_threads` tokio workers serve HTTP.
    pub http_on_actor_threads: bool,
    pub body_bytes_max: u64,
    pub batch_body_bytes_max: u64,
    pub rate_per_credential_per_s: u32,
    pub rate_burst: u32,
    pub page_size_max: usize,
    pub idempotency_retention: Duration,
    pub default_time_zone: chrono_tz::Tz,
    /// What one point is worth, in minor units, when a member pays with points.
    pub point_value: crate::domain::money::Money,
    /// Members may spend stored value, sessions and coupons at any store of the chain.
    pub cross_store_use: bool,
    pub reminder_lead: chrono::Duration,
    /// How long a waitlist offer holds its slot for the member.
    pub waitlist_offer: chrono::Duration,
    /// Where the bootstrap HQ administrator key lives (relative paths are under data_dir).
    pub bootstrap_admin_key_file: PathBuf,
    /// A bootstrap administrator key given on the command line (tests); wins over the file.
    pub bootstrap_admin_key: Option<String>,
    pub log_format: LogFormat,
    /// Days a deleted object can be restored from the recycle bin.
    pub bin_retention_days: u32,
    /// Whether the webhook may target loopback, link-local and private addresses.
    pub webhook_private_targets: bool,
}

impl Config {
    pub fn backup_root(&self) -> PathBuf {
        if self.backup_dir.is_absolute() {
            return self.backup_dir.clone();
        }
        let parent = self
            .data_dir
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        parent.join(&self.backup_dir)
    }

    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        let raw: RawConfig = toml::from_str(&text).map_err(|source| ConfigError::Parse {
            path: path.to_owned(),
            source,
        })?;
        Config::validate(raw)
    }

    fn validate(raw: RawConfig) -> Result<Config, ConfigError> {
        let bad = |m: String| Err(ConfigError::Invalid(m));
        let listen = match raw.server.listen.parse() {
            Ok(a) => a,
            Err(_) => {
                return bad(format!(
                    "server.listen {:?} is not host:port",
                    raw.server.listen
                ))
            }
        };
        for (name, n) in [
            ("http_threads", raw.server.http_threads),
            ("actor_threads", raw.server.actor_threads),
        ] {
            if n == 0 || n > THREADS_MAX {
                return bad(format!("server.{name} must be 1..={THREADS_MAX}"));
            }
        }
        if raw.limits.body_bytes_max == 0 || raw.limits.body_bytes_max > BODY_BYTES_MAX_LIMIT {
            return bad(format!(
                "limits.body_bytes_max must be 1..={BODY_BYTES_MAX_LIMIT}"
            ));
        }
        if raw.limits.batch_body_bytes_max == 0
            || raw.limits.batch_body_bytes_max > BODY_BYTES_MAX_LIMIT
        {
            return bad(format!(
                "limits.batch_body_bytes_max must be 1..={BODY_BYTES_MAX_LIMIT}"
            ));
        }
        if raw.limits.page_size_max == 0 || raw.limits.page_size_max > PAGE_SIZE_MAX_LIMIT {
            return bad(format!(
                "limits.page_size_max must be 1..={PAGE_SIZE_MAX_LIMIT}"
            ));
        }
        let burst_max = crate::api::rate::RATE_BURST_MAX;
        if raw.limits.rate_burst > burst_max {
            return bad(format!("limits.rate_burst must be at most {burst_max}"));
        }
        if raw.ledger.idempotency_retention_hours < IDEMPOTENCY_RETENTION_HOURS_MIN {
            return bad(format!(
                "ledger.idempotency_retention_hours must be at least {IDEMPOTENCY_RETENTION_HOURS_MIN}"
            ));
        }
        let Ok(default_time_zone) = raw.ledger.default_time_zone.parse() else {
            return bad(format!(
                "ledger.default_time_zone {:?} is not an IANA zone",
                raw.ledger.default_time_zone
            ));
        };
        if !(1..=10_000).contains(&raw.ledger.point_value_minor) {
            return Err(ConfigError::Invalid(
                "ledger.point_value_minor must be between 1 and 10000".into(),
            ));
        }
        if raw.scheduling.reminder_lead_minutes > REMINDER_LEAD_MINUTES_MAX {
            return bad(format!(
                "scheduling.reminder_lead_minutes must be at most {REMINDER_LEAD_MINUTES_MAX}"
            ));
        }
        let hold = crate::domain::waitlist::OFFER_HOLD_MINUTES_MAX;
        if !(1..=hold).contains(&raw.scheduling.waitlist_offer_minutes) {
            return bad(format!(
                "scheduling.waitlist_offer_minutes must be 1..={hold}"
            ));
        }
        let max = crate::domain::recycle::RETENTION_DAYS_MAX;
        if !(1..=max).contains(&raw.recycle_bin.retention_days) {
            return bad(format!("recycle_bin.retention_days must be 1..={max}"));
        }
        Ok(Config {
            listen,
            data_dir: raw.server.data_dir,
            backup_dir: raw.server.backup_dir,
            http_threads: raw.server.http_threads,
            actor_threads: raw.server.actor_threads,
            http_on_actor_threads: raw.server.http_on_actor_threads,
            body_bytes_max: raw.limits.body_bytes_max,
            batch_body_bytes_max: raw.limits.batch_body_bytes_max,
            rate_per_credential_per_s: raw.limits.rate_per_credential_per_s,
            rate_burst: raw.limits.rate_burst,
            page_size_max: raw.limits.page_size_max,
            idempotency_retention: Duration::from_secs(
                raw.ledger.idempotency_retention_hours * 3600,
            ),
            default_time_zone,
            point_value: crate::domain::money::Money::from_minor(raw.ledger.point_value_minor),
            cross_store_use: raw.ledger.cross_store_use,
            reminder_lead: chrono::Duration::minutes(i64::from(
                raw.scheduling.reminder_lead_minutes,
            )),
            waitlist_offer: chrono::Duration::minutes(i64::from(
                raw.scheduling.waitlist_offer_minutes,
            )),
            bootstrap_admin_key_file: raw.auth.bootstrap_admin_key_file,
            bootstrap_admin_key: None,
            log_format: raw.log.format,
            bin_retention_days: raw.recycle_bin.retention_days,
            webhook_private_targets: raw.notifications.webhook_private_targets,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_config_is_valid() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/default.toml");
        let c = Config::load(&path).unwrap();
        assert_eq!(c.idempotency_retention, Duration::from_secs(24 * 3600));
    }
}
