//! Schemathesis, the standard OpenAPI fuzzer, against the real server with all its checks:
//! every example and coverage case of the document, fuzzed bodies and queries, and the
//! stateful phase that follows the document's links (a created member into its recharges).
//! `make test` installs it; the seed is fixed, so a failure reproduces.

use std::process::Command;

use crate::harness::{Server, ADMIN_KEY};

/// The version `make test` installs.
const SCHEMATHESIS: &str = "4.32.5";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schemathesis_finds_no_failure() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let scratch = tempfile::tempdir().unwrap();
    let config = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/schemathesis.toml");
    let out = Command::new("python3")
        .arg("-c")
        .arg("import sys; from schemathesis.cli import schemathesis; sys.argv[0] = 'st'; schemathesis()")
        .arg("--config-file")
        .arg(config)
        .arg("run")
        .arg(server.url("/v1/openapi.json"))
        .args(["--checks", "all"])
        .args(["--phases", "examples,coverage,fuzzing,stateful"])
        .args(["--seed", "20261130"])
        .args(["--workers", "2"])
        .args(["--max-failures", "20"])
        .args(["--header", &format!("Authorization: Bearer {ADMIN_KEY}")])
        .env("NO_COLOR", "1")
        // Its cache of crashes goes to a temporary directory, not into the clone.
        .current_dir(scratch.path())
        .output()
        .unwrap_or_else(|e| panic!("python3 not found ({e}); `make test` sets it up"));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !stderr.contains("No module named 'schemathesis'"),
        "schemathesis {SCHEMATHESIS} is not installed; `make test` installs it"
    );
    assert!(
        out.status.success(),
        "schemathesis found failures:\n{stdout}\n{stderr}"
    );
}
