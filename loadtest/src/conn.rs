//! One HTTP/1.1 keep-alive connection per load worker, on hyper directly: no pool, no
//! per-request allocation beyond the body, and the answer's body is parsed only when asked.
//! The worker's own task drives the connection while it waits for an answer, instead of a
//! task of its own per connection: one task wake-up per request, not two. The load
//! generator shares the machine with the server, so its own cost matters.

use std::future::Future;
use std::pin::{pin, Pin};
use std::task::Poll;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::{Connection, SendRequest};
use hyper::Request;
use hyper_util::rt::TokioIo;
use serde_json::Value;
use tokio::net::TcpStream;

type Io = TokioIo<TcpStream>;

struct Link {
    sender: SendRequest<Full<Bytes>>,
    conn: Connection<Io, Full<Bytes>>,
}

pub struct Conn {
    authority: String,
    authorization: Option<String>,
    link: Option<Link>,
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
            link: None,
        }
    }

    async fn link(&mut self) -> Result<&mut Link, TransportError> {
        let stale = match &self.link {
            Some(l) => l.sender.is_closed(),
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
            self.link = Some(Link { sender, conn });
        }
        self.link.as_mut().ok_or(TransportError)
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
        let req = req
            .body(Full::new(Bytes::from(body)))
            .map_err(|_| TransportError)?;
        self.send(req).await
    }

    /// GETs `path` and returns the status and the answer's bytes.
    pub async fn get_raw(&mut self, path: &str) -> Result<(u16, Bytes), TransportError> {
        let mut req = Request::get(path).header("host", self.authority.as_str());
        if let Some(a) = &self.authorization {
            req = req.header("authorization", a.as_str());
        }
        let req = req
            .body(Full::new(Bytes::new()))
            .map_err(|_| TransportError)?;
        self.send(req).await
    }

    async fn send(&mut self, req: Request<Full<Bytes>>) -> Result<(u16, Bytes), TransportError> {
        // A kept-alive connection the server closed shows only now (nothing polls it between
        // requests), and nothing has been sent on it yet: open a new one, once.
        if !ready(self.link().await?).await {
            self.link = None;
            if !ready(self.link().await?).await {
                self.link = None;
                return Err(TransportError);
            }
        }
        let answer = exchange(self.link().await?, req).await;
        if answer.is_err() {
            self.link = None;
        }
        answer
    }
}

/// Whether the connection can take a request.
async fn ready(link: &mut Link) -> bool {
    matches!(drive(&mut link.conn, link.sender.ready()).await, Ok(Ok(())))
}

/// Sends `req` on a ready connection and reads the whole answer, driving the connection
/// meanwhile.
async fn exchange(
    link: &mut Link,
    req: Request<Full<Bytes>>,
) -> Result<(u16, Bytes), TransportError> {
    let Link { sender, conn } = link;
    let res = drive(conn, sender.send_request(req))
        .await?
        .map_err(|_| TransportError)?;
    let status = res.status().as_u16();
    let body = drive(conn, res.into_body().collect())
        .await?
        .map_err(|_| TransportError)?;
    Ok((status, body.to_bytes()))
}

/// Polls `work` to completion while polling `conn`, which does the reading and writing for
/// it. A connection that ends first is an error unless `work` is done by then.
async fn drive<F: Future>(
    conn: &mut Connection<Io, Full<Bytes>>,
    work: F,
) -> Result<F::Output, TransportError> {
    let mut work = pin!(work);
    std::future::poll_fn(|cx| {
        if let Poll::Ready(out) = work.as_mut().poll(cx) {
            return Poll::Ready(Ok(out));
        }
        let ended = Pin::new(&mut *conn).poll(cx).is_ready();
        match work.as_mut().poll(cx) {
            Poll::Ready(out) => Poll::Ready(Ok(out)),
            Poll::Pending if ended => Poll::Ready(Err(TransportError)),
            Poll::Pending => Poll::Pending,
        }
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    /// A server that answers one request per connection and then closes it: every second
    /// request of the client finds its kept-alive connection closed before sending.
    #[tokio::test]
    async fn a_connection_the_server_closed_is_opened_again() {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("address");
        let server = tokio::spawn(async move {
            for _ in 0..3 {
                let (mut s, _) = listener.accept().await.expect("accept");
                let mut buf = vec![0u8; 4096];
                let mut seen = Vec::new();
                while !seen.windows(4).any(|w| w == b"\r\n\r\n") {
                    let n = s.read(&mut buf).await.expect("read");
                    seen.extend_from_slice(&buf[..n]);
                }
                let answer = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\n{}";
                s.write_all(answer).await.expect("write");
            }
        });
        let mut c = Conn::new(&format!("http://{addr}"), None);
        for _ in 0..3 {
            let (status, body) = c.post_raw("/x", Some("k"), Vec::new()).await.expect("post");
            assert_eq!((status, &body[..]), (200, &b"{}"[..]));
        }
        server.await.expect("server");
    }
}
