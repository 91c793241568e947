//! A local Jigi stack in one process: a nats-server and the services,
//! with their data in one folder.

use std::path::Path;

use jigi_common::Region;
use jigi_localnats::NatsProcess;
use tokio_util::sync::CancellationToken;

/// A running local stack.
pub struct LocalStack {
    pub nats: NatsProcess,
    pub registries: Vec<(Region, jigi_registry::Running)>,
    shutdown: CancellationToken,
}

impl LocalStack {
    /// Starts NATS and a registry for each region, storing everything under `data_dir`.
    pub async fn start(data_dir: &Path, regions: &[Region]) -> anyhow::Result<LocalStack> {
        std::fs::create_dir_all(data_dir)
            .map_err(|err| anyhow::anyhow!("cannot create the data folder {}: {err}", data_dir.display()))?;
        let nats = NatsProcess::standalone(&data_dir.join("nats")).await?;
        let shutdown = CancellationToken::new();
        let mut registries = Vec::new();
        for region in regions {
            let database = format!("sqlite://{}", data_dir.join(format!("registry-{region}.db")).display());
            let config = jigi_registry::Config::local(*region, &nats.url(), &database);
            let running = jigi_registry::start(config, shutdown.clone())
                .await
                .map_err(|err| anyhow::anyhow!("the registry of {region} did not start: {err}"))?;
            registries.push((*region, running));
        }
        Ok(LocalStack {
            nats,
            registries,
            shutdown,
        })
    }

    /// The registry of `region`.
    pub fn registry(&self, region: Region) -> &jigi_registry::Running {
        &self
            .registries
            .iter()
            .find(|(r, _)| *r == region)
            .expect("the stack runs this region")
            .1
    }

    /// Stops the services (letting them finish what they do), then NATS.
    pub async fn stop(mut self) {
        self.shutdown.cancel();
        for (_, running) in self.registries.drain(..) {
            running.stopped().await;
        }
        self.nats.stop().await;
    }
}
