//! HTTP/1.1 on the simulated network, with hyper as in turmoil's own examples: each node
//! serves `GET /health` (its instance id and whether it leads), and a client host sends
//! requests round robin as a load balancer does, passing a request on to the next instance
//! when one does not answer.

use std::convert::Infallible;
use std::time::Duration;

use bytes::Bytes;
use election::{Clock, ElectorHandle};
use http_body_util::{BodyExt, Full};
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;

use crate::program::{program, NodeContext, NodeProgram};
use check::EventKind;

/// The port every node serves `/health` on.
pub const HEALTH_PORT: u16 = 8000;

/// Serves `/health` on [`HEALTH_PORT`] until the node stops: `{"instance_id": "<name>",
/// "is_leader": <bool>}`, the leader status as the elector's handle reports it now.
pub(crate) async fn serve_health(ctx: NodeContext, handle: ElectorHandle) {
    let listener = match turmoil::net::TcpListener::bind(("0.0.0.0", HEALTH_PORT)).await {
        Ok(listener) => listener,
        Err(e) => panic!("{} cannot listen on port {HEALTH_PORT}: {e}", ctx.name),
    };
    while let Ok((stream, _)) = listener.accept().await {
        let (name, handle) = (ctx.name.clone(), handle.clone());
        let service = service_fn(move |_: Request<hyper::body::Incoming>| {
            let body = format!(r#"{{"instance_id":"{name}","is_leader":{}}}"#, handle.is_leader());
            async move { Ok::<_, Infallible>(Response::new(Full::new(Bytes::from(body)))) }
        });
        // No Date header: hyper would read the real clock for it.
        let connection = hyper::server::conn::http1::Builder::new()
            .auto_date_header(false)
            .serve_connection(TokioIo::new(stream), service);
        ctx.spawner.spawn_local(async move {
            let _ = connection.await;
        });
    }
}

/// What an instance answered to `GET /health`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Health {
    instance: String,
    is_leader: bool,
}

async fn get_health(ctx: &NodeContext, target: &str) -> Option<Health> {
    let stream = turmoil::net::TcpStream::connect((target, HEALTH_PORT)).await.ok()?;
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await.ok()?;
    ctx.spawner.spawn_local(async move {
        let _ = connection.await;
    });
    let request = Request::get("/health").header("host", target).body(Full::new(Bytes::new())).ok()?;
    let response = sender.send_request(request).await.ok()?;
    if !response.status().is_success() {
        return None;
    }
    let body = response.into_body().collect().await.ok()?.to_bytes();
    let body = String::from_utf8_lossy(&body);
    let instance = body.split(r#""instance_id":""#).nth(1)?.split('"').next()?.to_owned();
    Some(Health { instance, is_leader: body.contains(r#""is_leader":true"#) })
}

/// A client host: every `every`, one request to `targets` in round robin; an instance that
/// does not answer within `limit` passes the request on to the next, as a load balancer's
/// upstream failover does. Each request is recorded as [`EventKind::HttpRequest`].
pub fn http_client(targets: Vec<String>, every: Duration, limit: Duration) -> NodeProgram {
    program(move |ctx| {
        let targets = targets.clone();
        async move {
            for request in 0u64.. {
                ctx.clock.sleep(every).await;
                let first = (request % targets.len() as u64) as usize;
                let sent_us = ctx.recorder.now_us();
                let mut answer = None;
                let mut attempts = 0;
                for k in 0..targets.len() {
                    attempts += 1;
                    let target = &targets[(first + k) % targets.len()];
                    if let Some(Some(health)) = election::timeout(&ctx.clock, limit, get_health(&ctx, target)).await {
                        answer = Some(health);
                        break;
                    }
                }
                ctx.recorder.record(EventKind::HttpRequest {
                    request,
                    first: targets[first].clone(),
                    is_leader: answer.as_ref().is_some_and(|h| h.is_leader),
                    served_by: answer.map(|h| h.instance),
                    attempts,
                    sent_us,
                });
            }
        }
    })
}
