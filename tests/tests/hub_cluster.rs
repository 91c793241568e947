//! `deploy/nats/hub.conf` itself, as three nodes on loopback: they form one
//! JetStream cluster in domain `national` through their authenticated
//! routes, a region's leaf node (`deploy/nats/leaf.conf`) joins it with
//! its credentials, and the national stream, replicated on all three
//! nodes, sources the region's stream.
//!
//! The only changes made to hub.conf are the ones that let three nodes share
//! one machine: their ports and store folders.

use std::time::Duration;

use jigi_bus::{streams, subject};
use jigi_common::Region;
use jigi_e2e::{Leaf, deploy_dir, domain_sources, random_passwords};
use jigi_localnats::{Launch, NatsProcess, free_port};
use jigi_testkit::{eventually, stream_len};

const WAIT: Duration = Duration::from_secs(60);

/// hub.conf with the ports and store folder of one loopback node.
fn node_config(hub_conf: &str, port: u16, cluster_port: u16, leaf_port: u16, http_port: u16, store: &str) -> String {
    let replaced = [
        ("listen: 0.0.0.0:4222", format!("listen: 127.0.0.1:{port}")),
        ("http: 0.0.0.0:8222", format!("http: 127.0.0.1:{http_port}")),
        ("store_dir: /data/jetstream", format!("store_dir: {store:?}")),
        ("listen: 0.0.0.0:6222", format!("listen: 127.0.0.1:{cluster_port}")),
        ("listen: 0.0.0.0:7422", format!("listen: 127.0.0.1:{leaf_port}")),
    ];
    let mut config = hub_conf.to_owned();
    for (from, to) in replaced {
        assert!(config.contains(from), "hub.conf has `{from}`");
        config = config.replace(from, &to);
    }
    config
}

#[tokio::test]
async fn three_hub_nodes_form_the_national_cluster_and_source_a_region() {
    jigi_testkit::init_tracing();
    let dir = tempfile::tempdir().unwrap();
    let passwords = random_passwords();
    let hub_conf = std::fs::read_to_string(deploy_dir().join("nats/hub.conf")).unwrap();
    let route_password = format!("jroute{}", uuid::Uuid::new_v4().simple());
    let ports: Vec<(u16, u16, u16, u16)> = (0..3)
        .map(|_| (free_port(), free_port(), free_port(), free_port()))
        .collect();
    let routes = format!(
        "[{}]",
        ports
            .iter()
            .map(|(_, cluster, _, _)| format!("nats-route://route:{route_password}@127.0.0.1:{cluster}"))
            .collect::<Vec<_>>()
            .join(", ")
    );

    // The three nodes start together: JetStream needs a quorum of two.
    let nodes = ports.iter().enumerate().map(|(i, &(port, cluster, leaf, http))| {
        let node_dir = dir.path().join(format!("hub-{i}"));
        std::fs::create_dir_all(&node_dir).unwrap();
        std::fs::copy(deploy_dir().join("nats/accounts.conf"), node_dir.join("accounts.conf")).unwrap();
        let mut env = passwords.hub_env();
        env.push(("JIGI_NATS_SERVER_NAME".into(), format!("nats-hub-{i}")));
        env.push(("JIGI_NATS_ROUTE_PASSWORD".into(), route_password.clone()));
        env.push(("JIGI_NATS_ROUTES".into(), routes.clone()));
        let launch = Launch {
            port,
            env,
            probe_user: Some(("national".into(), passwords.of("national").into())),
        };
        let config = node_config(
            &hub_conf,
            port,
            cluster,
            leaf,
            http,
            &node_dir.join("jetstream").display().to_string(),
        );
        async move {
            NatsProcess::start_with(&node_dir, launch, |_, _| config)
                .await
                .unwrap_or_else(|err| panic!("{err}"))
        }
    });
    let hub = futures::future::join_all(nodes).await;

    // A region joins through the second node's leaf-node listener.
    let sikasso = Leaf::start(&dir.path().join("sikasso"), Region::Sikasso, ports[1].2, &passwords).await;
    let region = sikasso.connect().await;
    streams::ensure_region_stream(&region.jetstream, Region::Sikasso)
        .await
        .unwrap();

    // The national stream, on all three nodes.
    let monitoring_url = format!(
        "nats://monitoring:{}@127.0.0.1:{}",
        passwords.of("monitoring"),
        hub[0].port()
    );
    // As the monitoring connects: replies on its own inbox prefix.
    let mut monitoring_config = jigi_bus::BusConfig::new(monitoring_url, "test-monitoring");
    monitoring_config.inbox_prefix = Some("_INBOX_monitoring".into());
    let monitoring = jigi_bus::Bus::connect(&monitoring_config).await.unwrap();
    let mut config = streams::national_stream_config(&domain_sources(&[Region::Sikasso]));
    config.num_replicas = 3;
    eventually(WAIT, "the national stream is created on the cluster", || {
        let (js, config) = (monitoring.jetstream.clone(), config.clone());
        async move { streams::ensure(&js, config).await.ok() }
    })
    .await;

    for i in 0..25 {
        region
            .jetstream
            .publish(format!("jigi.sikasso.test.event.e{i}"), "event".into())
            .await
            .unwrap()
            .await
            .unwrap();
    }
    eventually(WAIT, "25 events in the replicated national stream", || {
        let js = monitoring.jetstream.clone();
        async move { (stream_len(&js, subject::NATIONAL_STREAM).await == 25).then_some(()) }
    })
    .await;
    let mut national = monitoring.jetstream.get_stream(subject::NATIONAL_STREAM).await.unwrap();
    let info = national.info().await.unwrap();
    let cluster = info.cluster.as_ref().expect("a clustered stream");
    assert_eq!(cluster.name.as_deref(), Some("jigi-national"));
    assert_eq!(cluster.replicas.len() + 1, 3, "three replicas: {cluster:?}");
    drop(hub);
}
