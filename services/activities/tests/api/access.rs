//! With tokens on, as deployed: field agents record what happens in the
//! field, the region decides what commits money or sets a site up, and
//! nobody acts in another region.

use jigi_auth::Role;
use jigi_common::Region;
use jigi_proto::activities::*;
use tonic::Code;

use crate::helpers::*;

#[tokio::test]
async fn each_role_does_its_own_part_only_and_only_in_its_region() {
    let app = spawn_app().await;
    let agent = app.access.token("f.dembele", &[Role::FieldAgent], Region::Segou);
    let supervisor = app.access.token("m.sidibe", &[Role::RegionalSupervisor], Region::Segou);
    let elsewhere = app.access.token("o.kone", OFFICER_ROLES, Region::Kayes);
    let preparer = app.access.token("p.coulibaly", &[Role::PaymentPreparer], Region::Segou);
    let mut agent = client_as(&app.running, &agent).await;
    let mut supervisor = client_as(&app.running, &supervisor).await;
    let mut elsewhere = client_as(&app.running, &elsewhere).await;
    let mut preparer = client_as(&app.running, &preparer).await;
    let site = PlanWorkSiteRequest {
        site_id: "sanando-digue".into(),
        site_type: SiteType::WaterWorks as i32,
        commune: SANANDO.into(),
        planned_start: days_ago(30),
        planned_person_days: 1_000,
        daily_wage: money(1_500),
    };
    for (who, status) in [
        ("a field agent", agent.plan_work_site(site.clone()).await.unwrap_err()),
        (
            "another region's officer",
            elsewhere.plan_work_site(site.clone()).await.unwrap_err(),
        ),
        (
            "a payment preparer",
            preparer.plan_work_site(site.clone()).await.unwrap_err(),
        ),
    ] {
        assert_eq!(status.code(), Code::PermissionDenied, "{who}: {status:?}");
    }
    supervisor.plan_work_site(site).await.unwrap();
    let validate = ValidateWorkSiteRequest {
        site_id: "sanando-digue".into(),
        validated_on: days_ago(20),
    };
    assert_eq!(
        agent.validate_work_site(validate.clone()).await.unwrap_err().code(),
        Code::PermissionDenied
    );
    supervisor.validate_work_site(validate).await.unwrap();
    // Both read the site; a release of money is the region's, not the agent's.
    agent
        .get_work_site(GetWorkSiteRequest {
            site_id: "sanando-digue".into(),
        })
        .await
        .unwrap();
    let tranche = ReleaseGrantTrancheRequest {
        request_id: "t-1".into(),
        household_id: "hh".into(),
        amount: money(1_000),
        released_on: days_ago(1),
    };
    assert_eq!(
        agent.release_grant_tranche(tranche).await.unwrap_err().code(),
        Code::PermissionDenied
    );
    // Sessions are recorded by field agents, not by supervisors.
    let session = RecordSessionRequest {
        request_id: "s-1".into(),
        commune: SANANDO.into(),
        village: SANANDO_VILLAGE.into(),
        theme: SessionTheme::Hygiene as i32,
        held_on: days_ago(1),
        facilitator: "ong-gaas-mali".into(),
        member_ids: vec!["m".into()],
    };
    assert_eq!(
        supervisor.record_session(session).await.unwrap_err().code(),
        Code::PermissionDenied
    );
}
