//! A region of the programme as tests run it: its leaf node and its
//! registry, payments and nutrition services, driven by the `jigi` quarter
//! driver and checked against their own reports.

use jigi::quarter::{Endpoints, QuarterSummary};
use jigi_common::Region;
use jigi_proto::nutrition::GetRoundReportRequest;
use jigi_proto::nutrition::nutrition_service_client::NutritionServiceClient;
use jigi_proto::payments::GetReconciliationRequest;
use jigi_proto::payments::payments_service_client::PaymentsServiceClient;
use jigi_proto::registry::ListHouseholdsRequest;
use jigi_proto::registry::registry_service_client::RegistryServiceClient;
use jigi_testkit::TempDir;
use tokio_util::sync::CancellationToken;

use crate::{Leaf, Passwords};

/// A region's leaf node and services.
pub struct RegionNode {
    pub region: Region,
    pub leaf: Leaf,
    pub registry: jigi_registry::Running,
    pub payments: jigi_payments::Running,
    pub nutrition: jigi_nutrition::Running,
}

impl RegionNode {
    /// Starts the region's leaf node, linked to the hub's leaf-node port
    /// `hub_leaf_port` (the hub's own, or a proxy's), and its services.
    pub async fn start(
        dir: &TempDir,
        region: Region,
        hub_leaf_port: u16,
        passwords: &Passwords,
        shutdown: &CancellationToken,
    ) -> Self {
        let leaf = Leaf::start(&dir.path().join(region.slug()), region, hub_leaf_port, passwords).await;
        let url = leaf.services_url();
        let domain = Some(region.slug().to_owned());
        let db = |service: &str| jigi_testkit::sqlite_url(dir.path(), &format!("{service}-{region}"));
        let mut config = jigi_registry::Config::local(region, &url, &db("registry"));
        config.nats.jetstream_domain = domain.clone();
        let registry = jigi_registry::start(config, shutdown.clone())
            .await
            .expect("registry starts");
        let mut config = jigi_payments::Config::local(region, &url, &db("payments"));
        config.nats.jetstream_domain = domain.clone();
        let payments = jigi_payments::start(config, shutdown.clone())
            .await
            .expect("payments starts");
        let mut config = jigi_nutrition::Config::local(region, &url, &db("nutrition"));
        config.nats.jetstream_domain = domain;
        let nutrition = jigi_nutrition::start(config, shutdown.clone())
            .await
            .expect("nutrition starts");
        RegionNode {
            region,
            leaf,
            registry,
            payments,
            nutrition,
        }
    }

    pub fn endpoints(&self) -> Endpoints {
        Endpoints {
            registry: format!("http://{}", self.registry.grpc_addr),
            payments: format!("http://{}", self.payments.grpc_addr),
            nutrition: format!("http://{}", self.nutrition.grpc_addr),
            staff: jigi::staff::Staff::without_tokens(),
        }
    }

    /// What the region's own services say they hold, as a summary's figures.
    pub async fn own_reports(&self, summary: &QuarterSummary) -> (i64, (i64, i64, i64, i64), (i64, i64, i64, i64)) {
        let mut registry = RegistryServiceClient::new(jigi_testkit::connect_channel(self.registry.grpc_addr).await);
        let mut households = 0;
        let mut page_token = String::new();
        loop {
            let page = registry
                .list_households(ListHouseholdsRequest {
                    page_size: 1_000,
                    page_token,
                    ..Default::default()
                })
                .await
                .unwrap()
                .into_inner();
            households += page.households.len() as i64;
            if page.next_page_token.is_empty() {
                break;
            }
            page_token = page.next_page_token;
        }
        let mut payments = PaymentsServiceClient::new(jigi_testkit::connect_channel(self.payments.grpc_addr).await);
        let total = payments
            .get_reconciliation(GetReconciliationRequest {
                cycle_id: summary.cycle_id.clone(),
            })
            .await
            .unwrap()
            .into_inner()
            .reconciliation
            .unwrap()
            .total
            .unwrap();
        let paid = total.paid.unwrap();
        let mut nutrition = NutritionServiceClient::new(jigi_testkit::connect_channel(self.nutrition.grpc_addr).await);
        let report = nutrition
            .get_round_report(GetRoundReportRequest {
                round_id: summary.round_id.clone(),
            })
            .await
            .unwrap()
            .into_inner()
            .report
            .unwrap()
            .total
            .unwrap();
        let reached = report.reached.unwrap();
        (
            households,
            (
                paid.count,
                paid.amount.unwrap().fcfa,
                total.failed.unwrap().count,
                total.not_collected.unwrap().count,
            ),
            (
                reached.children,
                reached.pregnant_women,
                reached.lactating_women,
                report.distributed.unwrap().grams,
            ),
        )
    }
}

impl RegionNode {
    /// Waits until the region's services have stopped (cancel their token first).
    pub async fn stopped(self) {
        self.registry.stopped().await;
        self.payments.stopped().await;
        self.nutrition.stopped().await;
    }
}
