//! The post-run audit: what the server holds must agree with what it acknowledged.

use std::collections::HashMap;

use anyhow::{bail, Context, Result};

use futures::StreamExt;

use crate::scenario::Acks;
use crate::seed::Chain;

/// Calendars read at once by the audit.
const AUDIT_READS_IN_FLIGHT: usize = 8;

/// The span of time the audit reads calendars over: every scenario books inside it.
const AUDIT_FROM: &str = "2026-01-01T00:00:00Z";
const AUDIT_TO: &str = "2200-01-01T00:00:00Z";

/// The part of a page of a resource's bookings the audit reads.
#[derive(serde::Deserialize)]
struct Calendar {
    bookings: Vec<CalendarBooking>,
    next_from: Option<String>,
}

#[derive(serde::Deserialize)]
struct CalendarBooking {
    id: u64,
    start: String,
    end: String,
}

/// Balances of `members` before a run, for [`check`].
pub async fn balances(
    client: &reqwest::Client,
    server: &str,
    members: &[u64],
) -> Result<HashMap<u64, i64>> {
    let mut out = HashMap::new();
    for chunk in members.chunks(256) {
        let reads = chunk.iter().map(|m| {
            let url = format!("{server}/v1/members/{m}/balance");
            async move { (*m, crate::get(client, &url).await) }
        });
        for (m, r) in futures::future::join_all(reads).await {
            let (status, body) = r?;
            if status != 200 {
                bail!("balance of member {m}: {status} {body}");
            }
            out.insert(m, body["balance"].as_i64().context("balance")?);
        }
    }
    Ok(out)
}

/// Checks the ledger sums to zero, no balance went negative, every acknowledged deduction is
/// there exactly once (deductions are of 1, so `before - after` counts them), and no resource
/// holds overlapping bookings (capacity 1) or lost an acknowledged one.
pub async fn check(
    client: &reqwest::Client,
    server: &str,
    _chain: &Chain,
    before: &HashMap<u64, i64>,
    acks: &Acks,
) -> Result<()> {
    let (status, tb) = crate::get(client, &format!("{server}/v1/ledger/trial-balance")).await?;
    if status != 200 || tb["sum"].as_i64() != Some(0) {
        bail!("LEDGER DOES NOT SUM TO ZERO: {tb}");
    }
    // Without a snapshot of the balances before (very large chains), only the ledger-wide
    // checks run.
    let touched: Vec<u64> = if before.is_empty() {
        Vec::new()
    } else {
        acks.deducted
            .keys()
            .chain(acks.unknown.keys())
            .copied()
            .collect()
    };
    let after = balances(client, server, &touched).await?;
    for m in &touched {
        let (Some(b), Some(a)) = (before.get(m), after.get(m)) else {
            bail!("member {m} has no balance before or after the run");
        };
        if *a < 0 {
            bail!("member {m} is overdrawn: {a}");
        }
        let deducted = (b - a) as u64;
        let acked = acks.deducted.get(m).copied().unwrap_or(0);
        let unknown = acks.unknown.get(m).copied().unwrap_or(0);
        if deducted < acked || deducted > acked + unknown {
            bail!("member {m}: {acked} deductions acknowledged ({unknown} unanswered) but {deducted} applied");
        }
    }
    // A few resources at a time; each answer read into typed rows (as `Value`s, the audit
    // of a plans run took the tool longer than the run).
    let reads = acks.bookings.iter().map(|(resource, ids)| async move {
        Ok::<_, anyhow::Error>((*resource, ids, calendar(client, server, *resource).await?))
    });
    let mut answers = futures::stream::iter(reads).buffer_unordered(AUDIT_READS_IN_FLIGHT);
    while let Some(answer) = answers.next().await {
        let (resource, ids, cal) = answer?;
        let mut spans: Vec<(&str, &str)> = cal
            .iter()
            .map(|b| (b.start.as_str(), b.end.as_str()))
            .collect();
        spans.sort();
        if let Some(w) = spans.windows(2).find(|w| w[0].1 > w[1].0) {
            bail!(
                "resource {resource} is over capacity: {:?} overlaps {:?}",
                w[0],
                w[1]
            );
        }
        let present: std::collections::HashSet<u64> = cal.iter().map(|b| b.id).collect();
        if let Some(lost) = ids.iter().find(|id| !present.contains(id)) {
            bail!("acknowledged booking {lost} is missing from resource {resource}");
        }
    }
    Ok(())
}

/// Every booking of `resource` over the audit's span, each once, page after page.
async fn calendar(
    client: &reqwest::Client,
    server: &str,
    resource: u64,
) -> Result<Vec<CalendarBooking>> {
    let mut seen = std::collections::HashSet::new();
    let mut out = Vec::new();
    let mut from = AUDIT_FROM.to_owned();
    loop {
        let url = format!("{server}/v1/resources/{resource}/bookings?from={from}&to={AUDIT_TO}");
        let res = client.get(&url).send().await?;
        let status = res.status().as_u16();
        let bytes = res.bytes().await?;
        if status != 200 {
            bail!(
                "calendar of resource {resource}: {status} {}",
                String::from_utf8_lossy(&bytes)
            );
        }
        let page: Calendar = serde_json::from_slice(&bytes).context("bookings")?;
        let before = out.len();
        out.extend(page.bookings.into_iter().filter(|b| seen.insert(b.id)));
        match page.next_from {
            // A page that brought nothing new would come again forever.
            Some(next) if out.len() > before => from = next,
            Some(next) => bail!("calendar of resource {resource}: no progress at {next}"),
            None => return Ok(out),
        }
    }
}
