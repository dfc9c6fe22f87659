//! The courier: delivers the outbox's due notifications to the chain's webhook, at least
//! once, each with its id (`X-Notification-Id`) so the receiver can drop repeats. A failed
//! attempt is retried with exponential backoff (`notify::backoff`) until
//! `DELIVERY_ATTEMPTS_MAX`, then the notification is marked failed. It reads only what is
//! on disk, so nothing is announced before the change it reports is durable.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;

use super::registry::Registry;
use crate::domain::notify::{Notification, NotificationId};
use crate::storage::notify::notification_writes;
use crate::storage::JournalLog;

/// How often the courier looks for due notifications.
pub const COURIER_INTERVAL: Duration = Duration::from_millis(250);
/// Deliveries under way at once.
pub const DELIVERIES_IN_FLIGHT_MAX: usize = 32;
/// A webhook call that takes longer counts as failed.
pub const WEBHOOK_TIMEOUT: Duration = Duration::from_secs(5);
/// Longest error text kept with a notification.
pub const ERROR_TEXT_MAX: usize = 200;

pub struct Courier {
    registry: Arc<Registry>,
    log: JournalLog,
    client: reqwest::Client,
    /// Sent and not yet recorded as attempted (durably): never sent twice at once.
    in_flight: HashSet<NotificationId>,
    private_targets: bool,
}

impl Actor for Courier {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        ctx.run_interval(COURIER_INTERVAL, |act, ctx| act.round(ctx));
    }
}

/// Resolves a webhook's host name to its public addresses only (see
/// `notify::is_private_target`), so that a name can't lead the courier to this machine or
/// the network behind it.
struct PublicOnly;

impl reqwest::dns::Resolve for PublicOnly {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let addrs: Vec<std::net::SocketAddr> = tokio::net::lookup_host((host.as_str(), 0))
                .await?
                .filter(|a| !crate::domain::notify::is_private_target(a.ip()))
                .collect();
            if addrs.is_empty() {
                return Err("the host has no public address".into());
            }
            Ok(Box::new(addrs.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

/// What is kept of a failed delivery: a fixed text, never the URL (it may hold a token)
/// nor the transport's own message.
fn failure_text(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        "timed out".into()
    } else if e.is_connect() {
        "could not connect".into()
    } else if e.is_redirect() {
        "redirected (not followed)".into()
    } else {
        "request failed".into()
    }
}

impl Courier {
    /// `private_targets`: whether the webhook may reach loopback and private addresses.
    pub fn new(registry: Arc<Registry>, private_targets: bool) -> Result<Courier, reqwest::Error> {
        let log = registry.journal.log();
        let mut client = reqwest::Client::builder()
            .timeout(WEBHOOK_TIMEOUT)
            .redirect(reqwest::redirect::Policy::none());
        if !private_targets {
            client = client.dns_resolver(Arc::new(PublicOnly));
        }
        Ok(Courier {
            registry,
            log,
            client: client.build()?,
            in_flight: HashSet::new(),
            private_targets,
        })
    }

    /// An address literal in the URL is not resolved, so it is checked here.
    fn refused(&self, url: &str) -> bool {
        if self.private_targets {
            return false;
        }
        crate::domain::notify::names_private_target(url).unwrap_or(true)
    }

    fn round(&mut self, ctx: &mut Context<Self>) {
        let Some(url) = self.registry.catalog().webhook.clone() else {
            return;
        };
        let room = DELIVERIES_IN_FLIGHT_MAX.saturating_sub(self.in_flight.len());
        if room == 0 {
            return;
        }
        let now = self.registry.clock.now();
        let storage = &self.registry.storage;
        let due = match storage.due_notifications(now, room + self.in_flight.len()) {
            Ok(d) => d,
            Err(e) => {
                tracing::error!(error = %e, "reading the outbox");
                return;
            }
        };
        let fresh: Vec<NotificationId> = due
            .into_iter()
            .filter(|id| !self.in_flight.contains(id))
            .take(room)
            .collect();
        for id in fresh {
            let note = match storage.notification(id) {
                Ok(Some(n)) => n,
                Ok(None) => continue,
                Err(e) => {
                    tracing::error!(error = %e, "reading a notification");
                    continue;
                }
            };
            self.in_flight.insert(id);
            if self.refused(&url) {
                let refused = Err("private target refused".to_owned());
                ctx.spawn(
                    async move { refused }
                        .into_actor(self)
                        .map(move |result, act, ctx| act.attempted(note, result, ctx)),
                );
                continue;
            }
            // The phone as it is now: where a gateway sends the text.
            let phone = storage
                .member(note.member)
                .ok()
                .flatten()
                .map(|m| m.phone.as_str().to_owned());
            let body = serde_json::json!({
                "id": id.text(),
                "member_id": note.member.get(),
                "phone": phone,
                "store_id": note.store.get(),
                "event": note.event.name(),
                "text": note.text,
                "created_at": note.created_at,
                "attempt": note.attempts + 1,
            });
            let send = self
                .client
                .post(&url)
                .header("X-Notification-Id", id.text())
                .json(&body)
                .send();
            ctx.spawn(
                async move {
                    match send.await {
                        Ok(res) if res.status().is_success() => Ok(()),
                        Ok(res) => Err(format!("status {}", res.status().as_u16())),
                        Err(e) => Err(failure_text(&e)),
                    }
                }
                .into_actor(self)
                .map(move |result, act, ctx| act.attempted(note, result, ctx)),
            );
        }
    }

    fn attempted(
        &mut self,
        note: Notification,
        result: Result<(), String>,
        ctx: &mut Context<Self>,
    ) {
        let now = self.registry.clock.now();
        let error = result
            .as_ref()
            .err()
            .map(|e| e.chars().take(ERROR_TEXT_MAX).collect::<String>());
        if let Some(e) = &error {
            tracing::warn!(id = %note.id.text(), attempt = note.attempts + 1, error = %e, "webhook delivery failed");
        }
        let after = note.attempted(result.is_ok(), error, now);
        let ticket = self.log.submit(notification_writes(&after, Some(&note)));
        let id = note.id;
        ctx.spawn(
            async move { ticket.durable().await.is_ok() }
                .into_actor(self)
                .map(move |_, act, _| {
                    act.in_flight.remove(&id);
                }),
        );
    }
}
