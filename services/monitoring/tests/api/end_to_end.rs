//! Registries of two regions and the monitoring on one NATS: the national
//! indicators equal what was done, per region and in total.

use jigi_auth::Role;
use jigi_common::{Geography, Period, Region};
use jigi_proto::common::Component;
use jigi_proto::monitoring::Breakdown;
use jigi_proto::registry::registry_service_client::RegistryServiceClient;
use jigi_proto::registry::{EnrolHouseholdRequest, ImportHouseholdsRequest};
use jigi_registry::sample::HouseholdGenerator;
use jigi_testkit::connect_as;

use crate::helpers::*;

#[tokio::test]
async fn indicators_equal_what_the_regions_did() {
    let mut app = spawn_app().await;
    let today = chrono::Utc::now().date_naive();
    let geography = Geography::built_in();
    let mut expected = Vec::new();
    let mut registries = Vec::new();
    for (region, households, enrol_every) in [(Region::Sikasso, 30, 2), (Region::Mopti, 20, 4)] {
        let mut config = jigi_registry::Config::local(
            region,
            &app.nats.url(),
            &jigi_testkit::database_url(app.dir.path(), region.slug()).await,
        );
        config.service.serve = app.access.serve_config();
        let running = jigi_registry::start(config, app.shutdown.clone()).await.unwrap();
        // The region's supervisor imports and enrols.
        let token = app
            .access
            .token("s.dembele", &[Role::FieldAgent, Role::RegionalSupervisor], region);
        let mut client = RegistryServiceClient::new(connect_as(running.grpc_addr, &token).await);
        let generator = HouseholdGenerator::new(&geography, region, &[], today, 11);
        let rows: Vec<ImportHouseholdsRequest> = (0..households)
            .map(|i| ImportHouseholdsRequest {
                row: i + 1,
                household: Some(generator.household(i as u64)),
            })
            .collect();
        let imported = client
            .import_households(tokio_stream::iter(rows))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(imported.registered, households);
        let mut enrolled = 0;
        for (i, result) in imported.results.iter().enumerate() {
            if i % enrol_every == 0 {
                // Committee decision, so every chosen household enrols whatever its score.
                client
                    .enrol_household(EnrolHouseholdRequest {
                        household_id: result.household_id.clone(),
                        component: Component::Tm as i32,
                        enrolled_on: today.format("%Y-%m-%d").to_string(),
                        committee_override: "CCL decision".into(),
                    })
                    .await
                    .unwrap();
                enrolled += 1;
            }
        }
        expected.push((region, households, enrolled));
        registries.push(running);
    }

    let period = Period::quarter_of(today).to_string();
    let total: i64 = expected.iter().map(|(_, h, _)| h).sum();
    let total_enrolled: i64 = expected.iter().map(|(_, _, e)| e).sum();
    eventually(WAIT, "the national view to count every household and enrolment", || {
        let mut client = app.client.clone();
        let period = period.clone();
        async move {
            let rows = client
                .get_indicators(jigi_proto::monitoring::GetIndicatorsRequest {
                    area: String::new(),
                    period: Some(jigi_proto::common::Period { code: period }),
                    breakdown: 0,
                })
                .await
                .ok()?
                .into_inner()
                .rows;
            let national = rows[0].indicators.clone()?;
            (national.households_registered == total && enrolled_in(&national, Component::Tm) == total_enrolled)
                .then_some(())
        }
    })
    .await;
    let rows = app.indicators("", &period, Breakdown::Region).await;
    for (region, households, enrolled) in expected {
        let row = rows.iter().find(|r| r.area == region.slug()).unwrap();
        let indicators = row.indicators.as_ref().unwrap();
        assert_eq!(indicators.households_registered, households, "{region}");
        assert_eq!(indicators.households_registered_in_period, households, "{region}");
        assert_eq!(enrolled_in(indicators, Component::Tm), enrolled, "{region}");
    }
    assert_eq!(rows.len(), 2, "one row per region the monitoring reads");
    app.shutdown.cancel();
    for running in registries {
        running.stopped().await;
    }
}
