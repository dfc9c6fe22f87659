use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use reqwest::StatusCode;
use serde_json::json;
use tokio::sync::Notify;

use crate::harness::Server;

const WORKERS: usize = 16;
const KILL_AFTER_ACKS: usize = 400;

/// SIGKILL mid-load: every acknowledged deduction survives exactly once, retries of every
/// key (acknowledged or not) never apply twice, and the books still balance.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigkill_mid_load_loses_no_acknowledged_deduction() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = Server::start(dir.path());
    let store = server.create_store("S").await;
    let members = [
        server.register("13600000001", store).await,
        server.register("13600000002", store).await,
    ];
    for m in members {
        server
            .recharge(m, store, 1_000_000, &format!("seed-{m}"))
            .await;
    }

    let acks = Arc::new(AtomicUsize::new(0));
    let enough = Arc::new(Notify::new());
    let mut tasks = Vec::new();
    for w in 0..WORKERS {
        let client = server.client.clone();
        let base = server.base.clone();
        let (acks, enough) = (acks.clone(), enough.clone());
        let member = members[w % 2];
        tasks.push(tokio::spawn(async move {
            // (key, member, amount) -> acknowledged entry seq
            let mut sent: Vec<(String, u64, i64, Option<u64>)> = Vec::new();
            for i in 0.. {
                let key = format!("w{w}-{i}");
                let amount = 1 + (i % 7) as i64;
                let res = client
                    .post(format!("{base}/v1/members/{member}/deductions"))
                    .header("Idempotency-Key", &key)
                    .json(&json!({"amount": amount, "store_id": store}))
                    .send()
                    .await;
                let acked = match res {
                    Ok(r) if r.status() == StatusCode::CREATED => {
                        let body: serde_json::Value = r.json().await.unwrap_or_default();
                        body["entry_seq"].as_u64()
                    }
                    _ => None,
                };
                let stop = acked.is_none();
                sent.push((key, member, amount, acked));
                if acked.is_some() && acks.fetch_add(1, Ordering::SeqCst) + 1 == KILL_AFTER_ACKS {
                    enough.notify_one();
                }
                if stop {
                    break;
                }
            }
            sent
        }));
    }
    enough.notified().await;
    server.kill();
    let mut sent = Vec::new();
    for t in tasks {
        sent.extend(t.await.unwrap());
    }
    assert!(sent.iter().filter(|s| s.3.is_some()).count() >= KILL_AFTER_ACKS);

    let server = Server::start(dir.path());
    // Every acknowledged deduction is there, once, with the amount that was acknowledged.
    let mut by_member: HashMap<u64, HashMap<u64, i64>> = HashMap::new();
    for m in members {
        let entries = server.all_entries(m).await;
        let map = by_member.entry(m).or_default();
        for e in entries.iter().filter(|e| e["kind"] == "deduction") {
            map.insert(
                e["entry_seq"].as_u64().unwrap(),
                e["amount"].as_i64().unwrap(),
            );
        }
        server.assert_balance_matches_entries(m).await;
    }
    for (_, member, amount, acked) in &sent {
        if let Some(seq) = acked {
            assert_eq!(
                by_member[member].get(seq),
                Some(amount),
                "acknowledged entry {seq} lost"
            );
        }
    }
    // Retrying every key after the restart: acknowledged ones replay their entry, the
    // in-flight ones apply at most once; either way one entry per key.
    for (key, member, amount, acked) in &sent {
        let (status, body) = server.deduct(*member, store, *amount, key).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        if let Some(seq) = acked {
            assert_eq!(body["entry_seq"].as_u64(), Some(*seq));
        }
    }
    let deductions: usize = {
        let mut n = 0;
        for m in members {
            n += server
                .all_entries(m)
                .await
                .iter()
                .filter(|e| e["kind"] == "deduction")
                .count();
        }
        n
    };
    assert_eq!(deductions, sent.len());
    for m in members {
        server.assert_balance_matches_entries(m).await;
    }
    server.assert_ledger_sums_to_zero().await;
}
