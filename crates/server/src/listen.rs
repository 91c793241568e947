//! The two ports every service listens on, bound before anything runs, so
//! a port in use fails the start and port 0 tells the caller what it got.

use std::net::SocketAddr;

use tokio::net::TcpListener;

/// Why a port could not be had.
#[derive(Debug, thiserror::Error)]
#[error("cannot listen on {addr}: {source}")]
pub struct ListenError {
    pub addr: SocketAddr,
    pub source: std::io::Error,
}

/// The gRPC and metrics ports, bound.
pub struct Listeners {
    pub grpc: TcpListener,
    /// Where the gRPC API listens (the port the OS chose for port 0).
    pub grpc_addr: SocketAddr,
    pub metrics: TcpListener,
    /// Where `/metrics` is served.
    pub metrics_addr: SocketAddr,
}

impl Listeners {
    pub async fn bind(grpc: SocketAddr, metrics: SocketAddr) -> Result<Listeners, ListenError> {
        let (grpc_listener, grpc_addr) = bind(grpc).await?;
        let (metrics_listener, metrics_addr) = bind(metrics).await?;
        Ok(Listeners {
            grpc: grpc_listener,
            grpc_addr,
            metrics: metrics_listener,
            metrics_addr,
        })
    }
}

async fn bind(addr: SocketAddr) -> Result<(TcpListener, SocketAddr), ListenError> {
    let fail = |source| ListenError { addr, source };
    let listener = TcpListener::bind(addr).await.map_err(fail)?;
    let bound = listener.local_addr().map_err(fail)?;
    Ok((listener, bound))
}
