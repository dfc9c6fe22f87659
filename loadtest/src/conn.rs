//! One HTTP/1.1 keep-alive connection per load worker, on hyper directly: no pool, no
//! per-request allocation beyond the body, and the answer's body is parsed only when asked.
//! The load generator shares the machine with the server, so its own cost matters.

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper::Request;
use hyper_util::rt::TokioIo;
use serde_json::Value;
use tokio::net::TcpStream;

pub struct Conn {
    authority: String,
    authorization: Option<String>,
    sender: Option<SendRequest<Full<Bytes>>>,
}

#[derive(Debug)]
pub struct TransportError;

impl Conn {
    /// `server` is a base URL such as `http://127.0.0.1:8080`.
    pub fn new(server: &str, token: Option<&str>) -> Conn {
        let authority = server
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .to_owned();
        Conn {
            authority,
            authorization: token.map(|t| format!("Bearer {t}")),
            sender: None,
        }
    }

    async fn sender(&mut self) -> Result<&mut SendRequest<Full<Bytes>>, TransportError> {
        let stale = match &self.sender {
            Some(s) => s.is_closed(),
            None => true,
        };
        if stale {
            let stream = TcpStream::connect(&self.authority)
                .await
                .map_err(|_| TransportError)?;
            let _ = stream.set_nodelay(true);
            let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
                .await
                .map_err(|_| TransportError)?;
            tokio::spawn(async move {
                let _ = conn.await;
            });
            self.sender = Some(sender);
        }
        self.sender.as_mut().ok_or(TransportError)
    }

    /// POSTs `body` (JSON) and returns the status and, if `parse` or the status is not 2xx,
    /// the parsed answer.
    pub async fn post(
        &mut self,
        path: &str,
        key: Option<&str>,
        body: Vec<u8>,
        parse: bool,
    ) -> Result<(u16, Value), TransportError> {
        let (status, bytes) = self.post_raw(path, key, body).await?;
        let value = if parse || !(200..300).contains(&status) {
            serde_json::from_slice(&bytes).unwrap_or(Value::Null)
        } else {
            Value::Null
        };
        Ok((status, value))
    }

    /// POSTs `body` (JSON) and returns the status and the answer's bytes.
    pub async fn post_raw(
        &mut self,
        path: &str,
        key: Option<&str>,
        body: Vec<u8>,
    ) -> Result<(u16, Bytes), TransportError> {
        let mut req = Request::post(path)
            .header("host", self.authority.as_str())
            .header("content-type", "application/json");
        if let Some(k) = key {
            req = req.header("idempotency-key", k);
        }
        if let Some(a) = &self.authorization {
            req = req.header("authorization", a.as_str());
        }
        let sender = self.sender().await?;
        sender.ready().await.map_err(|_| TransportError)?;
        let req = req
            .body(Full::new(Bytes::from(body)))
            .map_err(|_| TransportError)?;
        let res = match sender.send_request(req).await {
            Ok(r) => r,
            Err(_) => {
                self.sender = None;
                return Err(TransportError);
            }
        };
        let status = res.status().as_u16();
        let bytes = res
            .into_body()
            .collect()
            .await
            .map_err(|_| TransportError)?
            .to_bytes();
        Ok((status, bytes))
    }
}
