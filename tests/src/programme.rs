//! A region of the programme as tests run it: `jigi_stack::RegionNode` (its
//! leaf node and its registry, payments and nutrition services, with access
//! control on), driven by the quarter driver and checked against the
//! region's own reports.

use jigi_auth::Role;
use jigi_proto::nutrition::GetRoundReportRequest;
use jigi_proto::payments::GetReconciliationRequest;
use jigi_proto::registry::ListHouseholdsRequest;
use jigi_stack::RegionNode;
use jigi_stack::clients;
use jigi_stack::quarter::QuarterSummary;
use jigi_stack::staff::Staff;

/// What the region's own services say they hold, as a summary's figures:
/// households registered; paid (count, amount), failed, not collected;
/// children, pregnant and lactating women reached, grams distributed.
pub async fn own_reports(
    node: &RegionNode,
    staff: &Staff,
    summary: &QuarterSummary,
) -> (i64, (i64, i64, i64, i64), (i64, i64, i64, i64)) {
    let supervisor = staff.in_region("s.dembele", &[Role::RegionalSupervisor], node.region, None);
    let channel = |addr| async move {
        clients::connect(&format!("http://{addr}"), "service", "", "")
            .await
            .unwrap()
    };
    let mut registry = clients::registry_client_as(channel(node.registry.grpc_addr).await, supervisor.clone());
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
    let mut payments = clients::payments_client_as(channel(node.payments.grpc_addr).await, supervisor.clone());
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
    let mut nutrition = clients::nutrition_client_as(channel(node.nutrition.grpc_addr).await, supervisor);
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
