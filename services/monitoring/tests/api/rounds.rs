//! PNP rounds across regions (`ListRoundIndicators`): each round's people
//! served by group, flour given and lost, and the region's figures at
//! closing beside what the monitoring counted. The expected figures are
//! computed here from the events the test publishes.

use std::collections::{BTreeMap, BTreeSet};

use jigi_auth::Role;
use jigi_common::Region;
use jigi_proto::common::Period;
use jigi_proto::events as ev;
use jigi_proto::monitoring::*;
use tonic::Code;
use tonic_types::StatusExt;

use crate::helpers::*;

const FINKOLO: &str = "sikasso.sikasso.finkolo";
const GOUANAN: &str = "sikasso.yanfolila.gouanan";
/// A Sikasso commune that is not in the rounds.
const MISSENI: &str = "sikasso.kadiolo.misseni";
const SIO: &str = "mopti.mopti.sio";

/// One ration as published.
#[derive(Clone)]
struct Ration {
    round: &'static str,
    household: String,
    member: String,
    group: ev::BeneficiaryGroup,
    grams: i64,
    commune: &'static str,
    on: &'static str,
}

/// What the test expects of a round, from the rations it published.
#[derive(Debug, Default, PartialEq)]
struct Expected {
    households: i64,
    /// Children, pregnant women, lactating women.
    served: [i64; 3],
    rations: i64,
    grams: i64,
}

fn expected(rations: &[Ration], round: &str) -> Expected {
    let mine: Vec<&Ration> = rations.iter().filter(|r| r.round == round).collect();
    let households: BTreeSet<&str> = mine.iter().map(|r| r.household.as_str()).collect();
    let mut members: BTreeMap<ev::BeneficiaryGroup, BTreeSet<&str>> = BTreeMap::new();
    for r in &mine {
        members.entry(r.group).or_default().insert(&r.member);
    }
    let people = |group| members.get(&group).map_or(0, |m| m.len() as i64);
    Expected {
        households: households.len() as i64,
        served: [
            people(ev::BeneficiaryGroup::Child),
            people(ev::BeneficiaryGroup::PregnantWoman),
            people(ev::BeneficiaryGroup::LactatingWoman),
        ],
        rations: mine.len() as i64,
        grams: mine.iter().map(|r| r.grams).sum(),
    }
}

fn region_of(commune: &str) -> Region {
    commune.split('.').next().unwrap().parse().unwrap()
}

fn opened(round: &str, number: i32, starts_on: &str, ends_on: &str, communes: &[&str]) -> ev::RoundOpened {
    ev::RoundOpened {
        round_id: round.into(),
        year: 2018,
        number,
        starts_on: starts_on.into(),
        ends_on: ends_on.into(),
        communes: communes.iter().map(|c| location(c)).collect(),
        rations: Some(ev::RoundRations {
            child_grams: 6_000,
            pregnant_woman_grams: 9_000,
            lactating_woman_grams: 9_000,
        }),
    }
}

/// A closing whose summary reports, per commune, the rations of `rations`
/// in it (plus `extra_children` more children in the first commune) and
/// `planned` people per group.
fn closed(
    round: &str,
    number: i32,
    closed_on: &str,
    communes: &[&str],
    rations: &[Ration],
    extra_children: i64,
    planned: [i64; 3],
) -> ev::RoundClosed {
    ev::RoundClosed {
        round_id: round.into(),
        year: 2018,
        number,
        closed_on: closed_on.into(),
        period: Some(Period { code: "2018Q3".into() }),
        communes: communes
            .iter()
            .enumerate()
            .map(|(i, commune)| {
                let here: Vec<Ration> = rations
                    .iter()
                    .filter(|r| r.round == round && r.commune == *commune)
                    .cloned()
                    .collect();
                let e = expected(&here, round);
                ev::RoundCommuneSummary {
                    location: Some(location(commune)),
                    planned: Some(ev::PnpGroupCounts {
                        children: planned[0],
                        pregnant_women: planned[1],
                        lactating_women: planned[2],
                    }),
                    reached: Some(ev::PnpGroupCounts {
                        children: e.served[0] + if i == 0 { extra_children } else { 0 },
                        pregnant_women: e.served[1],
                        lactating_women: e.served[2],
                    }),
                    distributed_grams: e.grams,
                    stock_on_hand_grams: 100_000,
                }
            })
            .collect(),
    }
}

fn loss(id: &str, commune: &str, grams: i64, on: &str) -> ev::StockLost {
    ev::StockLost {
        movement_id: id.into(),
        warehouse_id: format!("w-{commune}"),
        location: Some(location(commune)),
        lot_number: "LOT-1".into(),
        grams,
        reason: ev::StockLossReason::Damaged as i32,
        occurred_on: on.into(),
        period: None,
        stock_on_hand_grams: 50_000,
    }
}

fn request(region: &str, period: Option<&str>, state: RoundState) -> ListRoundIndicatorsRequest {
    ListRoundIndicatorsRequest {
        region: region.into(),
        period: period.map(|code| Period { code: code.into() }),
        state: state as i32,
    }
}

/// Three rounds: Sikasso's second (closed, its figures agreeing), its
/// third (open), and Mopti's second (closed, reporting a child more than
/// the rations the monitoring received).
struct Published {
    rations: Vec<Ration>,
    /// Grams lost in the Sikasso round's communes while it ran.
    sikasso_lost: i64,
}

async fn publish_rounds(app: &mut TestApp) -> Published {
    let r2 = "sikasso-2018-r2";
    let r3 = "sikasso-2018-r3";
    let m2 = "mopti-2018-r2";
    app.publish(
        Region::Sikasso,
        r2,
        &opened(r2, 2, "2018-07-02", "2018-07-31", &[FINKOLO, GOUANAN]),
        at("2018-07-02T07:00:00Z"),
    )
    .await;
    app.publish(
        Region::Mopti,
        m2,
        &opened(m2, 2, "2018-07-09", "2018-08-10", &[SIO]),
        at("2018-07-09T07:00:00Z"),
    )
    .await;
    let mut rations = Vec::new();
    let groups = [
        ev::BeneficiaryGroup::Child,
        ev::BeneficiaryGroup::Child,
        ev::BeneficiaryGroup::PregnantWoman,
        ev::BeneficiaryGroup::LactatingWoman,
    ];
    // Households of two or three people; each person fed once per round.
    for (n, group) in groups.iter().cycle().take(23).enumerate() {
        let grams = if *group == ev::BeneficiaryGroup::Child {
            6_000
        } else {
            9_000
        };
        let (round, commune, on) = match n % 5 {
            0 | 1 => (r2, FINKOLO, "2018-07-10"),
            2 => (r2, GOUANAN, "2018-07-11"),
            3 => (m2, SIO, "2018-07-20"),
            _ => (r3, FINKOLO, "2018-10-05"),
        };
        rations.push(Ration {
            round,
            household: format!("{round}-h{}", n / 3),
            member: format!("{round}-m{n}"),
            group: *group,
            grams,
            commune,
            on,
        });
    }
    app.publish(
        Region::Sikasso,
        r3,
        &opened(r3, 3, "2018-10-01", "2018-10-31", &[FINKOLO]),
        at("2018-10-01T07:00:00Z"),
    )
    .await;
    for (n, r) in rations.iter().enumerate() {
        let message = ev::RationDistributed {
            distribution_id: format!("d{n}"),
            round_id: r.round.into(),
            round_year: 2018,
            location: Some(location(r.commune)),
            group: r.group as i32,
            grams: r.grams,
            distributed_on: r.on.into(),
            household_id: r.household.clone(),
            member_id: r.member.clone(),
            warehouse_id: format!("w-{}", r.commune),
            stock_on_hand_grams: 1_000_000 - r.grams * n as i64,
            ..Default::default()
        };
        let time = at(&format!("{}T10:{:02}:00Z", r.on, n));
        app.publish(region_of(r.commune), &format!("d{n}"), &message, time)
            .await;
    }
    // Losses: two in the round's communes while it ran, one in a commune
    // outside it, one after its closing.
    let losses = [
        ("l1", FINKOLO, 1_500, "2018-07-12"),
        ("l2", GOUANAN, 700, "2018-07-31"),
        ("l3", MISSENI, 4_000, "2018-07-12"),
        ("l4", FINKOLO, 9_000, "2018-08-20"),
    ];
    for (id, commune, grams, on) in losses {
        app.publish(
            Region::Sikasso,
            id,
            &loss(id, commune, grams, on),
            at(&format!("{on}T12:00:00Z")),
        )
        .await;
    }
    let sikasso_lost = losses
        .iter()
        .filter(|(_, commune, _, on)| {
            [FINKOLO, GOUANAN].contains(commune) && ("2018-07-02"..="2018-07-31").contains(on)
        })
        .map(|(_, _, grams, _)| grams)
        .sum();
    app.publish(
        Region::Sikasso,
        r2,
        &closed(r2, 2, "2018-07-31", &[FINKOLO, GOUANAN], &rations, 0, [40, 6, 5]),
        at("2018-07-31T18:00:00Z"),
    )
    .await;
    app.publish(
        Region::Mopti,
        m2,
        &closed(m2, 2, "2018-08-10", &[SIO], &rations, 1, [12, 2, 2]),
        at("2018-08-10T18:00:00Z"),
    )
    .await;
    app.settled().await;
    Published { rations, sikasso_lost }
}

fn groups(g: &Option<PnpGroups>) -> [i64; 3] {
    let g = g.unwrap_or_default();
    [g.children, g.pregnant_women, g.lactating_women]
}

fn ids(rounds: &[RoundIndicators]) -> Vec<&str> {
    rounds.iter().map(|r| r.round_id.as_str()).collect()
}

#[tokio::test]
async fn each_round_shows_people_served_flour_and_its_reconciliation() {
    let mut app = spawn_app().await;
    let published = publish_rounds(&mut app).await;
    let rounds = app
        .client
        .list_round_indicators(request("", None, RoundState::Unspecified))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        ids(&rounds.rounds),
        ["mopti-2018-r2", "sikasso-2018-r2", "sikasso-2018-r3"],
        "by region, then year and number"
    );
    assert_eq!(rounds.freshness.len(), 2, "every region's freshness");
    for round in &rounds.rounds {
        let e = expected(&published.rations, &round.round_id);
        assert!(e.rations > 0, "{}: the test feeds every round", round.round_id);
        let counted = Expected {
            households: round.households_served,
            served: groups(&round.served),
            rations: round.rations,
            grams: round.flour_distributed_grams,
        };
        assert_eq!(counted, e, "{}", round.round_id);
        assert_eq!(round.flour_distributed_tonnes, e.grams as f64 / 1e6);
    }

    let [mopti, sikasso, open] = &rounds.rounds[..] else {
        panic!("three rounds")
    };
    // Sikasso's second round: closed, its region's figures agree.
    assert_eq!(sikasso.region, "sikasso");
    assert_eq!((sikasso.year, sikasso.number), (2018, 2));
    assert_eq!(sikasso.period, "2018Q3");
    assert_eq!(
        (
            sikasso.starts_on.as_str(),
            sikasso.ends_on.as_str(),
            sikasso.closed_on.as_str()
        ),
        ("2018-07-02", "2018-07-31", "2018-07-31")
    );
    assert_eq!(sikasso.state, RoundState::Closed as i32);
    assert_eq!(sikasso.pilot_communes, 2);
    assert_eq!(sikasso.flour_lost_grams, published.sikasso_lost);
    assert_eq!(published.sikasso_lost, 2_200, "two of the four losses");
    let control = sikasso.control.expect("a closed round has control totals");
    // Planned per commune, reported by two communes.
    assert_eq!(groups(&control.planned), [80, 12, 10]);
    assert_eq!(groups(&control.reached), groups(&sikasso.served));
    assert_eq!(control.distributed_grams, sikasso.flour_distributed_grams);
    assert_eq!(control.stock_on_hand_grams, 200_000);
    assert!(sikasso.reconciled);

    // Mopti's: its region reports a child the monitoring never received.
    assert_eq!(mopti.state, RoundState::Closed as i32);
    let control = mopti.control.unwrap();
    assert_eq!(control.reached.unwrap().children, groups(&mopti.served)[0] + 1);
    assert!(!mopti.reconciled);
    assert_eq!(mopti.flour_lost_grams, 0);

    // Sikasso's third: open, nothing reported yet.
    assert_eq!(open.state, RoundState::Open as i32);
    assert_eq!(open.period, "2018Q4");
    assert_eq!(open.closed_on, "");
    assert!(open.control.is_none());
    assert!(!open.reconciled);

    // Filters: by state, period and region.
    for (region, period, state, want) in [
        ("", None, RoundState::Closed, vec!["mopti-2018-r2", "sikasso-2018-r2"]),
        ("", None, RoundState::Open, vec!["sikasso-2018-r3"]),
        ("", Some("2018Q4"), RoundState::Unspecified, vec!["sikasso-2018-r3"]),
        ("", Some("2018Q3"), RoundState::Open, vec![]),
        (
            "",
            Some("2018"),
            RoundState::Unspecified,
            vec!["mopti-2018-r2", "sikasso-2018-r2", "sikasso-2018-r3"],
        ),
        ("", Some("2019"), RoundState::Unspecified, vec![]),
        (
            "sikasso",
            None,
            RoundState::Unspecified,
            vec!["sikasso-2018-r2", "sikasso-2018-r3"],
        ),
        ("mopti", Some("2018Q3"), RoundState::Closed, vec!["mopti-2018-r2"]),
    ] {
        let found = app
            .client
            .list_round_indicators(request(region, period, state))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(ids(&found.rounds), want, "{region:?} {period:?} {state:?}");
    }
}

#[tokio::test]
async fn a_regional_supervisor_sees_their_regions_rounds_only() {
    let mut app = spawn_app().await;
    publish_rounds(&mut app).await;
    let token = app
        .access
        .token("b.coulibaly", &[Role::RegionalSupervisor], Region::Sikasso);
    let mut supervisor = app.client_as(&token).await;
    let mine = supervisor
        .list_round_indicators(request("sikasso", None, RoundState::Unspecified))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(ids(&mine.rounds), ["sikasso-2018-r2", "sikasso-2018-r3"]);
    let regions: Vec<&str> = mine.freshness.iter().map(|f| f.region.as_str()).collect();
    assert_eq!(regions, ["sikasso"]);
    for region in ["", "mopti"] {
        let refused = supervisor
            .list_round_indicators(request(region, None, RoundState::Unspecified))
            .await
            .unwrap_err();
        assert_eq!(refused.code(), Code::PermissionDenied, "{region:?}: {refused:?}");
    }
}

#[tokio::test]
async fn bad_round_queries_are_refused_naming_the_field() {
    let mut app = spawn_app().await;
    for (request, field) in [
        (request("kidal", None, RoundState::Unspecified), "region"),
        (request("", Some("2018Q5"), RoundState::Unspecified), "period.code"),
        (
            ListRoundIndicatorsRequest {
                state: 7,
                ..Default::default()
            },
            "state",
        ),
    ] {
        let status = app.client.list_round_indicators(request).await.unwrap_err();
        assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
        let fields: Vec<String> = status
            .get_error_details()
            .bad_request()
            .map(|b| b.field_violations.iter().map(|v| v.field.clone()).collect())
            .unwrap_or_default();
        assert_eq!(fields, [field]);
    }
}
