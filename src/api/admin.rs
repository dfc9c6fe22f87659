//! Operations routes for HQ: backups of the running server.

use std::sync::Arc;

use warp::http::StatusCode;
use warp::reply::Response;

use super::auth::allow;
use super::error::ApiError;
use super::handlers::{json_status, respond};
use super::ApiState;
use crate::domain::access::{Capability, Principal};

/// `POST /v1/admin/backups`: a RocksDB checkpoint of everything durable so far, taken while
/// the server keeps serving. Restore with `chainstore restore --from DIR --data-dir NEW`.
pub async fn backup(state: Arc<ApiState>, p: Principal) -> Response {
    respond(
        async {
            allow(&p, Capability::ChainAdmin, None, String::new)?;
            let now = state.registry.clock.now();
            let mut salt = [0u8; 4];
            getrandom::getrandom(&mut salt).map_err(|_| ApiError::Unavailable)?;
            let name = format!(
                "chainstore-{}-{}",
                now.format("%Y%m%dT%H%M%SZ"),
                hex::encode(salt)
            );
            let dir = state.backup_root.join(&name);
            let storage = state.storage().clone();
            let root = state.backup_root.clone();
            let target = dir.clone();
            tokio::task::spawn_blocking(move || {
                std::fs::create_dir_all(&root).map_err(|e| ApiError::Backup(e.to_string()))?;
                storage
                    .checkpoint(&target)
                    .map_err(|e| ApiError::Backup(e.to_string()))
            })
            .await
            .map_err(|_| ApiError::Unavailable)??;
            tracing::info!(path = %dir.display(), "backup written");
            Ok(json_status(
                StatusCode::CREATED,
                &super::dto::BackupDto {
                    name,
                    path: dir.display().to_string(),
                    created_at: now,
                },
            ))
        }
        .await,
    )
}
