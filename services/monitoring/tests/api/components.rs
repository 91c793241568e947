//! The five components in the national figures: MA, AGR and HIMO indicators
//! from the activities service's events, AGR grants and HIMO wages paid
//! counted apart from the cash transfers, and the PTBA executed per
//! component from payment events and recorded expenditure, replaying the
//! programme's 2018 figure (13.331 bn forecast, 9.512 bn achieved: 71.35 %).

use jigi_common::Region;
use jigi_proto::common::{Component, FundingSource, Location, Money, Period, Sex};
use jigi_proto::events as ev;
use jigi_proto::monitoring::*;

use crate::helpers::*;

const SIO: &str = "mopti.mopti.sio";
const GOUANAN: &str = "sikasso.yanfolila.gouanan";

fn place(commune: &str) -> Option<Location> {
    Some(location(commune))
}

fn money(fcfa: i64) -> Option<Money> {
    Some(Money { fcfa })
}

/// A payment of `fcfa` by a cycle paying `component`, on `on`.
fn paid(
    cycle: &str,
    region: Region,
    component: Component,
    source: FundingSource,
    fcfa: i64,
    on: &str,
) -> ev::PaymentMade {
    let commune = if region == Region::Mopti { SIO } else { GOUANAN };
    ev::PaymentMade {
        cycle: Some(ev::PaymentCycleRef {
            cycle_id: cycle.into(),
            region: region.slug().into(),
            period: Some(Period { code: "2018Q3".into() }),
            funding_source: source as i32,
            component: component as i32,
        }),
        household_id: format!("{cycle}-h"),
        location: place(commune),
        amount: money(fcfa),
        paid_on: on.into(),
        agent_code: "AGENT-1".into(),
        channel: ev::PaymentChannelKind::Cash as i32,
    }
}

fn line(component: Component, source: FundingSource, fcfa: i64) -> SetBudgetLineRequest {
    SetBudgetLineRequest {
        line: Some(BudgetLine {
            year: 2018,
            component: component as i32,
            funding_source: source as i32,
            forecast: money(fcfa),
            ..Default::default()
        }),
    }
}

#[tokio::test]
async fn the_2018_ptba_executes_at_71_35_percent_from_payments_and_expenditure_per_component() {
    let mut app = spawn_app().await;
    // The 2018 PTBA across the five components: 13.331 billion FCFA.
    for request in [
        line(Component::Tm, FundingSource::WorldBankIda, 8_000_000_000),
        line(Component::Ma, FundingSource::Dfid, 500_000_000),
        line(Component::Pnp, FundingSource::WorldBankIda, 1_000_000_000),
        line(Component::Agr, FundingSource::Dfid, 1_500_000_000),
        line(Component::Himo, FundingSource::StateBudget, 2_331_000_000),
    ] {
        app.client.set_budget_line(request).await.unwrap();
    }
    // Achieved from payments: transfers in two regions, AGR grants, HIMO wages.
    let payments = [
        (
            "tm-sk",
            Region::Sikasso,
            Component::Tm,
            FundingSource::WorldBankIda,
            3_500_000_000,
        ),
        (
            "tm-mo",
            Region::Mopti,
            Component::Tm,
            FundingSource::WorldBankIda,
            2_500_000_000,
        ),
        (
            "agr-mo",
            Region::Mopti,
            Component::Agr,
            FundingSource::Dfid,
            1_000_000_000,
        ),
        (
            "himo-mo",
            Region::Mopti,
            Component::Himo,
            FundingSource::StateBudget,
            1_300_000_000,
        ),
    ];
    for (cycle, region, component, source, fcfa) in payments {
        let message = paid(cycle, region, component, source, fcfa, "2018-09-15");
        app.publish(region, &message.household_id, &message, at("2018-09-15T10:00:00Z"))
            .await;
    }
    // A wage payment that failed achieves nothing.
    let failed = ev::PaymentFailed {
        cycle: paid(
            "himo-mo",
            Region::Mopti,
            Component::Himo,
            FundingSource::StateBudget,
            1,
            "",
        )
        .cycle,
        household_id: "himo-mo-h2".into(),
        location: place(SIO),
        amount: money(90_000),
        attempted_on: "2018-09-16".into(),
        agent_code: "AGENT-1".into(),
        channel: ev::PaymentChannelKind::Cash as i32,
        reason: ev::PaymentFailureReason::AgentOutOfCash as i32,
    };
    app.publish(Region::Mopti, "himo-mo-h2", &failed, at("2018-09-16T10:00:00Z"))
        .await;
    // Achieved from recorded expenditure: the flour and the NGO contracts.
    for (id, component, source, fcfa) in [
        (
            "pnp-flour-2018",
            Component::Pnp,
            FundingSource::WorldBankIda,
            900_000_000,
        ),
        ("ma-ong-2018", Component::Ma, FundingSource::Dfid, 312_000_000),
    ] {
        app.client
            .record_expenditure(RecordExpenditureRequest {
                request_id: id.into(),
                year: 2018,
                component: component as i32,
                funding_source: source as i32,
                amount: money(fcfa),
                spent_on: "2018-11-30".into(),
                description: "achats et contrats".into(),
                ..Default::default()
            })
            .await
            .unwrap();
    }
    app.settled().await;

    let execution = app
        .client
        .get_budget_execution(GetBudgetExecutionRequest {
            year: 2018,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(execution.forecast, money(13_331_000_000));
    assert_eq!(execution.achieved, money(9_512_000_000));
    assert_eq!(format!("{:.2} %", execution.execution_rate * 100.0), "71.35 %");
    let component = |c: Component| {
        let found = execution.components.iter().find(|e| e.component == c as i32).unwrap();
        (found.achieved.unwrap().fcfa, found.forecast.unwrap().fcfa)
    };
    assert_eq!(component(Component::Tm), (6_000_000_000, 8_000_000_000));
    assert_eq!(component(Component::Ma), (312_000_000, 500_000_000));
    assert_eq!(component(Component::Pnp), (900_000_000, 1_000_000_000));
    assert_eq!(component(Component::Agr), (1_000_000_000, 1_500_000_000));
    assert_eq!(component(Component::Himo), (1_300_000_000, 2_331_000_000));

    // The cash transfer indicators count transfers only; grants and wages
    // paid have their own.
    let year = app.totals("", "2018").await;
    assert_eq!(year.amount_paid, money(6_000_000_000));
    assert_eq!((year.payments_made, year.payments_failed), (2, 0));
    assert_eq!(year.agr_grants_paid, money(1_000_000_000));
    assert_eq!(year.himo_wages_paid, money(1_300_000_000));
    let mopti = app.totals("mopti", "2018").await;
    assert_eq!(mopti.amount_paid, money(2_500_000_000));
    assert_eq!(mopti.himo_wages_paid, money(1_300_000_000));

    // A region's own lines, executed by the payments made in it.
    for (component, source, fcfa) in [
        (Component::Tm, FundingSource::WorldBankIda, 3_000_000_000),
        (Component::Himo, FundingSource::StateBudget, 2_000_000_000),
    ] {
        let mut request = line(component, source, fcfa);
        request.line.as_mut().unwrap().region = "mopti".into();
        let stored = app.client.set_budget_line(request).await.unwrap().into_inner();
        assert_eq!(stored.line.unwrap().region, "mopti");
    }
    let regional = app
        .client
        .get_budget_execution(GetBudgetExecutionRequest {
            year: 2018,
            region: "mopti".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(regional.forecast, money(5_000_000_000));
    // TM 2.5 bn and HIMO 1.3 bn paid in Mopti, and its AGR grants (1.0 bn, no
    // Mopti line: shown against a zero forecast); Sikasso's transfers and the
    // national expenditure are not Mopti's.
    assert_eq!(regional.achieved, money(4_800_000_000));
    let himo = regional
        .lines
        .iter()
        .find(|l| l.line.as_ref().unwrap().component == Component::Himo as i32)
        .unwrap();
    assert_eq!((himo.achieved, himo.execution_rate), (money(1_300_000_000), 0.65));
    let bad = app
        .client
        .get_budget_execution(GetBudgetExecutionRequest {
            year: 2018,
            region: "atlantis".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(bad.code(), tonic::Code::InvalidArgument);
    // The national view sums every line: 13.331 bn + Mopti's 5 bn.
    let national = app
        .client
        .get_budget_execution(GetBudgetExecutionRequest {
            year: 2018,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(national.forecast, money(18_331_000_000));
    assert_eq!(national.achieved, money(9_512_000_000));
}

fn attendee(household: &str, member: &str, sex: Sex, age_group: ev::MaAgeGroup) -> ev::MaAttendee {
    ev::MaAttendee {
        household_id: household.into(),
        member_id: member.into(),
        sex: sex as i32,
        age_group: age_group as i32,
    }
}

#[tokio::test]
async fn ma_agr_and_himo_indicators_come_from_the_activities_events_and_are_exported() {
    let mut app = spawn_app().await;
    let r = Region::Mopti;
    let session = |id: &str, theme: ev::MaSessionTheme, on: &str, attendees: Vec<ev::MaAttendee>| ev::MaSessionHeld {
        session_id: id.into(),
        location: place(SIO),
        theme: theme as i32,
        held_on: on.into(),
        period: Some(Period { code: "2018Q3".into() }),
        facilitator: "ong-gaas-mali".into(),
        attendees,
    };
    use ev::MaAgeGroup::{MaAgeGroup18To59 as Adult, Under5};
    let first = session(
        "s1",
        ev::MaSessionTheme::InfantFeeding,
        "2018-07-10",
        vec![
            attendee("h1", "m1", Sex::Female, Adult),
            attendee("h1", "m2", Sex::Female, Under5),
            attendee("h2", "m3", Sex::Male, Adult),
        ],
    );
    // The same woman at a second session counts once among people reached.
    let second = session(
        "s2",
        ev::MaSessionTheme::Hygiene,
        "2018-08-10",
        vec![attendee("h1", "m1", Sex::Female, Adult)],
    );
    app.publish(r, "s1", &first, at("2018-07-10T10:00:00Z")).await;
    app.publish(r, "s2", &second, at("2018-08-10T10:00:00Z")).await;
    app.publish(
        r,
        "h1",
        &ev::AgrBusinessPlanApproved {
            household_id: "h1".into(),
            location: place(SIO),
            activity_type: ev::AgrActivityType::SmallLivestock as i32,
            planned_grant: money(150_000),
            approved_on: "2018-07-01".into(),
            period: Some(Period { code: "2018Q3".into() }),
        },
        at("2018-07-01T10:00:00Z"),
    )
    .await;
    app.publish(
        r,
        "h1",
        &ev::AgrGrantTrancheReleased {
            tranche_id: "t1".into(),
            household_id: "h1".into(),
            location: place(SIO),
            number: 1,
            amount: money(75_000),
            released_on: "2018-07-15".into(),
            period: Some(Period { code: "2018Q3".into() }),
            activity_type: ev::AgrActivityType::SmallLivestock as i32,
        },
        at("2018-07-15T10:00:00Z"),
    )
    .await;
    for (household, running, on) in [("h1", true, "2018-09-20"), ("h2", false, "2018-09-21")] {
        app.publish(
            r,
            household,
            &ev::AgrFollowUpVisited {
                household_id: household.into(),
                location: place(SIO),
                month: 3,
                visited_on: on.into(),
                period: Some(Period { code: "2018Q3".into() }),
                running,
                stop_reason: if running { 0 } else { ev::AgrStopReason::Shock as i32 },
            },
            at(&format!("{on}T10:00:00Z")),
        )
        .await;
    }
    // Two sites: one set up 46 days late, one 4 days early.
    for (site, delay, on) in [("piste-1", 46, "2018-07-16"), ("digue-1", -4, "2018-08-01")] {
        app.publish(
            r,
            site,
            &ev::HimoWorkSiteStarted {
                site_id: site.into(),
                location: place(SIO),
                planned_start: "2018-06-01".into(),
                started_on: on.into(),
                start_delay_days: delay,
                period: Some(Period { code: "2018Q3".into() }),
            },
            at(&format!("{on}T10:00:00Z")),
        )
        .await;
    }
    for (on, households, women) in [("2018-07-16", vec!["h3", "h4"], 1), ("2018-07-17", vec!["h3"], 0)] {
        app.publish(
            r,
            "piste-1",
            &ev::HimoAttendanceRecorded {
                site_id: "piste-1".into(),
                location: place(SIO),
                worked_on: on.into(),
                period: Some(Period { code: "2018Q3".into() }),
                household_ids: households.into_iter().map(String::from).collect(),
                women,
            },
            at(&format!("{on}T17:00:00Z")),
        )
        .await;
    }
    app.publish(
        r,
        "h3",
        &ev::HimoWagesDue {
            site_id: "piste-1".into(),
            household_id: "h3".into(),
            location: place(SIO),
            period: Some(Period { code: "2018Q3".into() }),
            days: 2,
            daily_wage: money(1_500),
            amount: money(3_000),
        },
        at("2018-10-01T10:00:00Z"),
    )
    .await;
    app.settled().await;

    let q3 = app.totals("", "2018Q3").await;
    assert_eq!(
        (q3.ma_sessions_held, q3.ma_households_reached, q3.ma_people_reached),
        (2, 2, 3)
    );
    let theme = |name: &str| {
        q3.ma_by_theme
            .iter()
            .find(|t| t.theme == name)
            .map(|t| (t.sessions, t.people))
    };
    assert_eq!(theme("infant_feeding"), Some((1, 3)));
    assert_eq!(theme("hygiene"), Some((1, 1)));
    let group = |sex: Sex, age_group: &str| {
        q3.ma_by_group
            .iter()
            .find(|g| g.sex == sex as i32 && g.age_group == age_group)
            .map_or(0, |g| g.people)
    };
    assert_eq!(group(Sex::Female, "18_to_59"), 1);
    assert_eq!(group(Sex::Female, "under_5"), 1);
    assert_eq!(group(Sex::Male, "18_to_59"), 1);
    assert_eq!((q3.agr_business_plans, q3.agr_tranches_released), (1, 1));
    assert_eq!(q3.agr_grants_released, money(75_000));
    assert_eq!((q3.agr_follow_up_visits, q3.agr_activities_running), (2, 1));
    assert_eq!((q3.himo_sites_started, q3.himo_sites_started_late), (2, 1));
    assert_eq!(q3.himo_mean_start_delay_days, 21.0, "(46 - 4) / 2");
    assert_eq!(
        (
            q3.himo_person_days,
            q3.himo_women_person_days,
            q3.himo_households_working
        ),
        (3, 1, 2)
    );
    assert_eq!(q3.himo_wages_due, money(3_000));
    // Another quarter holds none of it.
    let q4 = app.totals("", "2018Q4").await;
    assert_eq!(
        (q4.ma_sessions_held, q4.himo_person_days, q4.agr_tranches_released),
        (0, 0, 0)
    );

    let csv = app
        .client
        .export_csv(ExportCsvRequest {
            period: Some(Period { code: "2018Q3".into() }),
            area: "mopti".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .csv;
    for expected in [
        "mopti,Mopti,2018Q3,ma_sessions_held,2",
        "mopti,Mopti,2018Q3,ma_people_reached_female_under_5,1",
        "mopti,Mopti,2018Q3,himo_person_days,3",
        "mopti,Mopti,2018Q3,agr_grants_released,75000",
    ] {
        assert!(csv.lines().any(|l| l == expected), "{expected} in {csv}");
    }
    let dhis2 = app
        .client
        .export_data_value_set(ExportDataValueSetRequest {
            period: Some(Period { code: "2018Q3".into() }),
            area: "mopti".into(),
        })
        .await
        .unwrap()
        .into_inner();
    let document: serde_json::Value = serde_json::from_str(&dhis2.json).unwrap();
    let value = |element: &str| {
        document["dataValues"]
            .as_array()
            .unwrap()
            .iter()
            .find(|v| v["dataElement"] == element && v["orgUnit"] == "MLiMopti001")
            .map(|v| v["value"].as_str().unwrap().to_owned())
    };
    assert_eq!(value("JgMaSessio1").as_deref(), Some("2"), "MA sessions held");
    assert_eq!(value("JgHimoDela1").as_deref(), Some("21"), "HIMO mean set-up delay");
}
