//! A backup taken while deductions stream in restores to a consistent ledger.

use std::process::Command;

use reqwest::StatusCode;

use crate::harness::Server;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backup_under_load_restores_to_a_ledger_that_sums_to_zero() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let server = Server::start(&data);
    let store = server.create_store("Home").await;
    let mut members = Vec::new();
    for i in 0..8 {
        let m = server.register(&format!("1370000{i:04}"), store).await;
        server.recharge(m, store, 100_000, &format!("r-{i}")).await;
        members.push(m);
    }
    // Deductions stream in from 8 clients while the backup is taken.
    let mut load = Vec::new();
    for (i, m) in members.iter().copied().enumerate() {
        let client = server.client.clone();
        let url = server.url(&format!("/v1/members/{m}/deductions"));
        load.push(tokio::spawn(async move {
            for n in 0..40 {
                let res = client
                    .post(&url)
                    .header("Idempotency-Key", format!("d-{i}-{n}"))
                    .json(&serde_json::json!({"amount": 7, "store_id": store}))
                    .send()
                    .await
                    .unwrap();
                assert_eq!(res.status(), StatusCode::CREATED);
            }
        }));
    }
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    let res = server
        .client
        .post(server.url("/v1/admin/backups"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
    let body: serde_json::Value = res.json().await.unwrap();
    let backup = body["path"].as_str().unwrap().to_owned();
    for t in load {
        t.await.unwrap();
    }
    drop(server);

    let restored = dir.path().join("restored");
    let out = Command::new(env!("CARGO_BIN_EXE_chainstore"))
        .args(["restore", "--from", &backup, "--to"])
        .arg(&restored)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Restoring over a directory in use is refused.
    let again = Command::new(env!("CARGO_BIN_EXE_chainstore"))
        .args(["restore", "--from", &backup, "--to"])
        .arg(&restored)
        .output()
        .unwrap();
    assert!(!again.status.success());

    let server = Server::start(&restored);
    server.assert_ledger_sums_to_zero().await;
    for m in members {
        server.assert_balance_matches_entries(m).await;
        let balance = server.balance(m).await;
        assert!(
            balance <= 100_000 && (100_000 - balance) % 7 == 0,
            "{balance}"
        );
    }
}
