//! The load tool itself is tested: a short run of every scenario against a real server, with
//! its post-run audit passing, so the tool can't rot.

use std::time::Duration;

use loadtest::{check, LoadModel, RunSpec, Scenario, SeedSpec};

use crate::harness::Server;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_scenario_runs_and_its_audit_passes() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let client = loadtest::client(Some(crate::harness::ADMIN_KEY));
    let spec = SeedSpec {
        stores: 2,
        resources: 6,
        members: 40,
        balance: 1_000_000,
        concurrency: 8,
    };
    let chain = loadtest::seed(&client, &server.base, &spec).await.unwrap();
    assert_eq!(chain.members.len(), 40);
    for (scenario, model) in [
        (Scenario::Pos, LoadModel::Closed { connections: 8 }),
        (
            Scenario::Hot,
            LoadModel::Open {
                rate: 400,
                connections: 8,
            },
        ),
        (Scenario::Batch, LoadModel::Closed { connections: 2 }),
        (Scenario::Plans, LoadModel::Closed { connections: 4 }),
        (Scenario::Booking, LoadModel::Closed { connections: 4 }),
        (
            Scenario::Mixed,
            LoadModel::Open {
                rate: 300,
                connections: 8,
            },
        ),
    ] {
        let spec = RunSpec {
            scenario,
            model,
            duration: Duration::from_millis(700),
            batch_size: 50,
            plan_conflict_percent: 10,
            token: Some(crate::harness::ADMIN_KEY.to_owned()),
        };
        let before = check::balances(&client, &server.base, &chain.members)
            .await
            .unwrap();
        let (report, acks) = loadtest::run(&server.base, &chain, &spec, false)
            .await
            .unwrap();
        assert!(report.acknowledged > 0, "{scenario:?}: {report:?}");
        assert!(
            !report.errors.contains_key("transport"),
            "{scenario:?}: {report:?}"
        );
        loadtest::check(&client, &server.base, &chain, &before, &acks)
            .await
            .unwrap_or_else(|e| panic!("{scenario:?}: {e}"));
        let svg = dir.path().join(format!("{scenario:?}.svg"));
        report.write_svg(&svg).unwrap();
        assert!(std::fs::metadata(&svg).unwrap().len() > 0);
    }
}
