//! `spawn_app()`: a nats-server, a monitoring and a console of their own
//! for each test, access control on, and ways to feed events and read pages.

use std::time::Duration;

use chrono::{DateTime, Utc};
use jigi_auth::Role;
use jigi_bus::{Bus, BusConfig, DomainEvent, OutgoingEvent, inbox, streams, subject};
use jigi_common::Region;
use jigi_proto::common::{Location, Money, Period};
use jigi_proto::events as ev;
use jigi_proto::monitoring::monitoring_service_client::MonitoringServiceClient;
use jigi_server::Running;
pub use jigi_testkit::eventually;
use jigi_testkit::{AuthedChannel, NatsServer, TempDir, TestAccess, connect_as};
use tokio_util::sync::CancellationToken;

pub const WAIT: Duration = Duration::from_secs(30);
pub const REGIONS: [Region; 2] = [Region::Sikasso, Region::Mopti];
pub const QUARTERLY: i64 = 30_000;

pub struct TestApp {
    /// Kept running as long as the test.
    pub _nats: NatsServer,
    pub monitoring: Running<jigi_monitoring::Handle>,
    pub console: jigi_console::Running,
    pub access: TestAccess,
    pub bus: Bus,
    pub http: reqwest::Client,
    pub shutdown: CancellationToken,
    pub _dir: TempDir,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(false).await
}

/// With `tls`, the monitoring serves its API over TLS only, as deployed,
/// and the console trusts its CA.
pub async fn spawn_app_with(tls: bool) -> TestApp {
    let nats = NatsServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let bus = Bus::connect(&BusConfig::new(nats.url(), "test-producer"))
        .await
        .unwrap();
    for region in REGIONS {
        streams::ensure_region_stream(&bus.jetstream, region).await.unwrap();
    }
    let access = TestAccess::new(dir.path());
    let shutdown = CancellationToken::new();
    let mut config = jigi_monitoring::Config::local(
        &REGIONS,
        &nats.url(),
        &jigi_testkit::sqlite_url(dir.path(), "monitoring"),
    );
    config.service.serve = access.serve_config();
    let server_tls = tls.then(|| jigi_testkit::ServerTls::generate(dir.path(), "monitoring"));
    if let Some(files) = &server_tls {
        config.service.serve.tls = Some(jigi_server::serving::TlsFiles {
            cert: files.cert.clone(),
            key: files.key.clone(),
        });
    }
    let monitoring = jigi_monitoring::start(config, shutdown.clone())
        .await
        .expect("monitoring starts");
    let scheme = if tls { "https://localhost" } else { "http://127.0.0.1" };
    let mut config = jigi_console::Config::local(
        &REGIONS,
        &format!("{scheme}:{}", monitoring.grpc_addr.port()),
        &nats.url(),
        access.serve_config().access,
    );
    config.monitoring_tls_ca = server_tls.map(|files| files.ca);
    config.otlp_addr = Some("127.0.0.1:0".parse().unwrap());
    let console = jigi_console::start(config, shutdown.clone())
        .await
        .expect("console starts");
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    TestApp {
        _nats: nats,
        monitoring,
        console,
        access,
        bus,
        http,
        shutdown,
        _dir: dir,
    }
}

/// A page as the browser got it.
pub struct Page {
    pub status: u16,
    pub location: Option<String>,
    pub set_cookie: Option<String>,
    pub body: String,
}

impl TestApp {
    pub fn national_token(&self) -> String {
        self.access.national_token("k.diarra", &[Role::NationalOperator])
    }

    pub fn supervisor_token(&self, region: Region) -> String {
        self.access.token("a.traore", &[Role::RegionalSupervisor], region)
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.console.url())
    }

    /// `GET path` with the session cookie `token` (none when empty), in English.
    pub async fn get(&self, path: &str, token: &str) -> Page {
        let mut request = self.http.get(self.url(path));
        let mut cookie = "jigi_lang=en".to_owned();
        if !token.is_empty() {
            cookie.push_str(&format!("; jigi_session={token}"));
        }
        request = request.header("cookie", cookie);
        page(request.send().await.expect("the console answers")).await
    }

    /// A monitoring client calling as a national operator (over plain HTTP/2).
    pub async fn monitoring_client(&self) -> MonitoringServiceClient<AuthedChannel> {
        MonitoringServiceClient::new(connect_as(self.monitoring.grpc_addr, &self.national_token()).await)
    }

    /// Publishes an event to its region's stream, as a region's outbox relay would.
    pub async fn publish<M: DomainEvent>(
        &self,
        region: Region,
        about: &str,
        message: &M,
        at: DateTime<Utc>,
    ) -> OutgoingEvent {
        let mut event = OutgoingEvent::new(region, about, message);
        event.time = at;
        let mut headers = event.headers();
        headers.insert("Nats-Msg-Id", event.id.as_str());
        self.bus
            .jetstream
            .publish_with_headers(event.subject.clone(), headers, event.payload.clone().into())
            .await
            .unwrap()
            .await
            .unwrap();
        event
    }

    /// Waits until the monitoring has applied every event stored so far.
    pub async fn settled(&self) {
        let js = self.bus.jetstream.clone();
        let db = self.monitoring.database.clone();
        eventually(WAIT, "the monitoring to apply every stored event", || {
            let (js, db) = (js.clone(), db.clone());
            async move {
                let mut stored = 0;
                for region in REGIONS {
                    let mut stream = js.get_stream(subject::region_stream(region)).await.ok()?;
                    stored += stream.info().await.ok()?.state.messages;
                }
                let mut national = js.get_stream(subject::NATIONAL_STREAM).await.ok()?;
                let sourced = national.info().await.ok()?.state.last_sequence;
                let applied = inbox::applied_sequence(&db, jigi_monitoring::CONSUMER).await.ok()?;
                (sourced >= stored && applied >= sourced).then_some(())
            }
        })
        .await;
    }

    /// A quarter's payment cycle in `region`: `paid` households paid,
    /// `failed` failed, each entitled to 30,000 FCFA; `registered`
    /// households registered and enrolled in TM first.
    pub async fn pay_quarter(&self, region: Region, quarter: &str, on: &str, registered: i64, paid: i64, failed: i64) {
        let commune = match region {
            Region::Sikasso => "sikasso.sikasso.finkolo",
            _ => "mopti.mopti.sio",
        };
        let time: DateTime<Utc> = format!("{on}T08:00:00Z").parse().unwrap();
        for n in 0..registered {
            let household = format!("{}-h{n}", region.slug());
            self.publish(region, &household, &registered_event(&household, commune, on), time)
                .await;
            self.publish(region, &household, &enrolled_event(&household, commune, on), time)
                .await;
        }
        let id = format!("{}-{quarter}", region.slug());
        let cycle = ev::PaymentCycleRef {
            cycle_id: id.clone(),
            region: region.slug().into(),
            period: Some(Period { code: quarter.into() }),
            funding_source: ev::PaymentFundingSource::WorldBankIda as i32,
            component: jigi_proto::common::Component::Tm as i32,
        };
        let approved = paid + failed;
        self.publish(
            region,
            &id,
            &ev::PaymentCycleOpened {
                cycle: Some(cycle.clone()),
                ..Default::default()
            },
            time,
        )
        .await;
        self.publish(
            region,
            &id,
            &ev::PaymentCycleApproved {
                cycle: Some(cycle.clone()),
                control: Some(ev::PaymentTotals {
                    count: approved,
                    amount: Some(Money {
                        fcfa: approved * QUARTERLY,
                    }),
                }),
                approved_on: on.into(),
            },
            time,
        )
        .await;
        for n in 0..approved {
            let household = format!("{}-h{n}", region.slug());
            let amount = Some(Money { fcfa: QUARTERLY });
            if n < paid {
                let m = ev::PaymentMade {
                    cycle: Some(cycle.clone()),
                    household_id: household.clone(),
                    location: Some(location(commune)),
                    amount,
                    paid_on: on.into(),
                    ..Default::default()
                };
                self.publish(region, &household, &m, time).await;
            } else {
                let m = ev::PaymentFailed {
                    cycle: Some(cycle.clone()),
                    household_id: household.clone(),
                    location: Some(location(commune)),
                    amount,
                    attempted_on: on.into(),
                    ..Default::default()
                };
                self.publish(region, &household, &m, time).await;
            }
        }
    }
}

impl TestApp {
    /// A PNP round in `region`'s pilot commune, opened on `starts_on`:
    /// `children` children and `women` lactating women fed (6 and 9 kg),
    /// two people per household; closed with the region's figures equal
    /// to the rations when `closed`.
    pub async fn feed_round(
        &self,
        region: Region,
        round: &str,
        starts_on: &str,
        children: i64,
        women: i64,
        closed: bool,
    ) {
        let commune = match region {
            Region::Sikasso => "sikasso.sikasso.finkolo",
            _ => "mopti.mopti.sio",
        };
        let time: DateTime<Utc> = format!("{starts_on}T08:00:00Z").parse().unwrap();
        let opened = ev::RoundOpened {
            round_id: round.into(),
            year: 2018,
            number: 4,
            starts_on: starts_on.into(),
            ends_on: starts_on.into(),
            communes: vec![location(commune)],
            rations: None,
        };
        self.publish(region, round, &opened, time).await;
        let mut grams = 0;
        for n in 0..children + women {
            let (group, ration) = if n < children {
                (ev::BeneficiaryGroup::Child, 6_000)
            } else {
                (ev::BeneficiaryGroup::LactatingWoman, 9_000)
            };
            grams += ration;
            let m = ev::RationDistributed {
                distribution_id: format!("{round}-d{n}"),
                round_id: round.into(),
                location: Some(location(commune)),
                group: group as i32,
                grams: ration,
                distributed_on: starts_on.into(),
                household_id: format!("{round}-h{}", n / 2),
                member_id: format!("{round}-m{n}"),
                warehouse_id: format!("w-{commune}"),
                stock_on_hand_grams: 1_000_000,
                ..Default::default()
            };
            self.publish(region, &m.distribution_id.clone(), &m, time).await;
        }
        if closed {
            let counts = |children, lactating_women| {
                Some(ev::PnpGroupCounts {
                    children,
                    pregnant_women: 0,
                    lactating_women,
                })
            };
            let closing = ev::RoundClosed {
                round_id: round.into(),
                year: 2018,
                number: 4,
                closed_on: starts_on.into(),
                period: None,
                communes: vec![ev::RoundCommuneSummary {
                    location: Some(location(commune)),
                    planned: counts(children + 3, women + 1),
                    reached: counts(children, women),
                    distributed_grams: grams,
                    stock_on_hand_grams: 1_000_000,
                }],
            };
            self.publish(region, round, &closing, time).await;
        }
    }
}

pub async fn page(response: reqwest::Response) -> Page {
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let status = response.status().as_u16();
    let location = header("location");
    let set_cookie = header("set-cookie");
    let body = response.text().await.unwrap();
    Page {
        status,
        location,
        set_cookie,
        body,
    }
}

pub fn location(commune: &str) -> Location {
    let parts: Vec<&str> = commune.split('.').collect();
    Location {
        region: parts[0].into(),
        cercle: format!("{}.{}", parts[0], parts[1]),
        commune: commune.into(),
        village: String::new(),
    }
}

pub fn registered_event(household: &str, commune: &str, on: &str) -> ev::HouseholdRegistered {
    ev::HouseholdRegistered {
        household_id: household.into(),
        location: Some(location(commune)),
        members: Vec::new(),
        pmt: Some(ev::PmtResult {
            score: 20.0,
            eligible: true,
        }),
        registered_on: on.into(),
    }
}

pub fn enrolled_event(household: &str, commune: &str, on: &str) -> ev::HouseholdEnrolled {
    ev::HouseholdEnrolled {
        household_id: household.into(),
        component: jigi_proto::common::Component::Tm as i32,
        enrolled_on: on.into(),
        location: Some(location(commune)),
        size: 5,
        committee_override: false,
    }
}

/// The text of the first element carrying `data-k="<key>"` after the
/// first occurrence of `anchor` in `html`.
pub fn value_after(html: &str, anchor: &str, key: &str) -> String {
    let start = html
        .find(anchor)
        .unwrap_or_else(|| panic!("{anchor:?} is not on the page:\n{html}"));
    let rest = &html[start..];
    let marker = format!("data-k=\"{key}\">");
    let at = rest
        .find(&marker)
        .unwrap_or_else(|| panic!("no {key} after {anchor:?} on the page"));
    let value = &rest[at + marker.len()..];
    value[..value.find('<').unwrap()].to_owned()
}

/// The text of the element with `id`.
pub fn text_of_id(html: &str, id: &str) -> String {
    let marker = format!("id=\"{id}\">");
    let at = html
        .find(&marker)
        .unwrap_or_else(|| panic!("no element #{id} on the page:\n{html}"));
    let value = &html[at + marker.len()..];
    value[..value.find('<').unwrap()].to_owned()
}
