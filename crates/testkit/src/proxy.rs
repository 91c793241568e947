//! A TCP proxy a test can cut and restore, standing for a regional office's
//! link to the capital: the servers on both sides keep running, only the
//! link between them fails.

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Mutex;
use tokio::task::JoinSet;

use crate::free_port;

/// Forwards `127.0.0.1:<port>` to a target until cut.
pub struct TcpProxy {
    port: u16,
    target: SocketAddr,
    running: Arc<Mutex<Option<JoinSet<()>>>>,
}

impl TcpProxy {
    /// A proxy to `target` on a free port, forwarding at once.
    pub async fn start(target: SocketAddr) -> TcpProxy {
        let proxy = TcpProxy {
            port: free_port(),
            target,
            running: Arc::default(),
        };
        proxy.restore().await;
        proxy
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Cuts the link: stops accepting and drops every open connection.
    pub async fn cut(&self) {
        if let Some(mut tasks) = self.running.lock().await.take() {
            tasks.abort_all();
            while tasks.join_next().await.is_some() {}
        }
    }

    /// Restores the link on the same port.
    pub async fn restore(&self) {
        let mut running = self.running.lock().await;
        if running.is_some() {
            return;
        }
        let listener = TcpListener::bind(("127.0.0.1", self.port))
            .await
            .unwrap_or_else(|err| panic!("cannot listen on 127.0.0.1:{}: {err}", self.port));
        let target = self.target;
        let mut tasks = JoinSet::new();
        let connections = Arc::new(Mutex::new(JoinSet::new()));
        let held = connections.clone();
        tasks.spawn(async move {
            // The connection tasks live in this task's set, so aborting
            // this task drops them (and their sockets) too.
            let _held = held;
            loop {
                let Ok((inbound, _)) = listener.accept().await else {
                    continue;
                };
                connections.lock().await.spawn(forward(inbound, target));
            }
        });
        *running = Some(tasks);
    }
}

async fn forward(mut inbound: TcpStream, target: SocketAddr) {
    if let Ok(mut outbound) = TcpStream::connect(target).await {
        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
    }
}
