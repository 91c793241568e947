//! A real `nats-server` process for a test, in a temporary folder.

use std::ops::{Deref, DerefMut};
use std::path::Path;

use jigi_localnats::NatsProcess;

/// A `nats-server` with JetStream for one test; its folder is deleted and
/// the process killed when the test ends.
pub struct NatsServer {
    process: NatsProcess,
    _dir: tempfile::TempDir,
}

impl NatsServer {
    /// A standalone server with JetStream on a free port.
    pub async fn start() -> NatsServer {
        NatsServer::start_with(|port, store| {
            format!("listen: 127.0.0.1:{port}\nserver_name: test_{port}\njetstream {{ store_dir: {store:?} }}\n")
        })
        .await
    }

    /// A server from a configuration made by `config(port, store_dir)`, for
    /// leaf nodes, domains and accounts.
    pub async fn start_with(config: impl FnOnce(u16, &Path) -> String) -> NatsServer {
        crate::init_tracing();
        let dir = tempfile::tempdir().expect("temp dir for nats-server");
        let process = NatsProcess::start(dir.path(), config)
            .await
            .unwrap_or_else(|err| panic!("{err}"));
        NatsServer { process, _dir: dir }
    }

    /// Starts the server again on the same port with the same store.
    pub async fn restart(&mut self) {
        self.process.restart().await.unwrap_or_else(|err| panic!("{err}"));
    }
}

impl Deref for NatsServer {
    type Target = NatsProcess;

    fn deref(&self) -> &NatsProcess {
        &self.process
    }
}

impl DerefMut for NatsServer {
    fn deref_mut(&mut self) -> &mut NatsProcess {
        &mut self.process
    }
}
