//! A client generated from the document, exercised: openapi-python-client (a well-kept
//! generator that reads OpenAPI 3.1) makes a typed Python client from the running server's
//! document, and `tests/client/counter_day.py` walks a counter's day with it (register,
//! recharge, deduct, refund, check out, return, book, plan). A change to the document that
//! breaks the client breaks this test. `make test` installs the generator.

use std::path::Path;
use std::process::Command;

use crate::harness::{Server, ADMIN_KEY};

/// The version `make test` installs.
const GENERATOR: &str = "0.29.1";

fn python(args: &[&str], cwd: &Path, pythonpath: Option<&Path>) -> std::process::Output {
    let mut cmd = Command::new("python3");
    cmd.args(args).current_dir(cwd).env("NO_COLOR", "1");
    if let Some(p) = pythonpath {
        cmd.env("PYTHONPATH", p);
    }
    cmd.output()
        .unwrap_or_else(|e| panic!("python3 not found ({e}); `make test` sets it up"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_generated_client_walks_a_counters_day() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start_with_clock(dir.path(), Some("2026-03-02T00:00:00Z"));
    let doc = reqwest::get(server.url("/v1/openapi.json"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let work = tempfile::tempdir().unwrap();
    std::fs::write(work.path().join("openapi.json"), doc).unwrap();

    let generate = python(
        &[
            "-c",
            "import sys; from openapi_python_client.cli import app; sys.argv[0] = 'openapi-python-client'; app()",
            "generate",
            "--path",
            "openapi.json",
            "--meta",
            "none",
            "--output-path",
            "chainstore_client",
        ],
        work.path(),
        None,
    );
    let stderr = String::from_utf8_lossy(&generate.stderr);
    assert!(
        !stderr.contains("No module named 'openapi_python_client'"),
        "openapi-python-client {GENERATOR} is not installed; `make test` installs it"
    );
    let stdout = String::from_utf8_lossy(&generate.stdout);
    assert!(
        work.path().join("chainstore_client/client.py").exists(),
        "no client generated:\n{stdout}\n{stderr}"
    );
    // A warning means a model left out of the client: the document must not cause one.
    assert!(
        !stdout.contains("Warning") && !stderr.contains("Warning"),
        "the generator left parts out:\n{stdout}\n{stderr}"
    );

    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/client/counter_day.py");
    let walk = python(
        &[script, &server.base, ADMIN_KEY],
        work.path(),
        Some(work.path()),
    );
    assert!(
        walk.status.success(),
        "the generated client's walk failed:\n{}\n{}",
        String::from_utf8_lossy(&walk.stdout),
        String::from_utf8_lossy(&walk.stderr)
    );
}
