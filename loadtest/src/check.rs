//! The post-run audit: what the server holds must agree with what it acknowledged.

use std::collections::HashMap;

use anyhow::{bail, Context, Result};
use serde_json::Value;

use crate::scenario::Acks;
use crate::seed::Chain;

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
    for (resource, ids) in &acks.bookings {
        let url = format!("{server}/v1/resources/{resource}/bookings?from=2026-01-01T00:00:00Z&to=2031-01-01T00:00:00Z");
        let (status, cal) = crate::get(client, &url).await?;
        if status != 200 {
            bail!("calendar of resource {resource}: {status} {cal}");
        }
        let bookings: Vec<&Value> = cal["bookings"]
            .as_array()
            .context("bookings")?
            .iter()
            .collect();
        let mut spans: Vec<(&str, &str)> = bookings
            .iter()
            .map(|b| {
                (
                    b["start"].as_str().unwrap_or(""),
                    b["end"].as_str().unwrap_or(""),
                )
            })
            .collect();
        spans.sort();
        if let Some(w) = spans.windows(2).find(|w| w[0].1 > w[1].0) {
            bail!(
                "resource {resource} is over capacity: {:?} overlaps {:?}",
                w[0],
                w[1]
            );
        }
        let present: std::collections::HashSet<u64> =
            bookings.iter().filter_map(|b| b["id"].as_u64()).collect();
        if let Some(lost) = ids.iter().find(|id| !present.contains(id)) {
            bail!("acknowledged booking {lost} is missing from resource {resource}");
        }
    }
    Ok(())
}
