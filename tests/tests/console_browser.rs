//! The national operations console in a real browser (issue 16): headless
//! Chromium, driven through chromedriver, against a local stack shaped as
//! deployed — the hub, Sikasso's leaf behind a link the test can cut,
//! Mopti's leaf, each region's services, the monitoring and the console.
//!
//! A quarter runs in both regions (the quarter driver, through the services'
//! public API); then the browser signs in with a national operator's token,
//! reads the figures the quarter produced on "Mali en un coup d'œil", sees
//! an event published during the test arrive in the live feed, sees
//! Sikasso's link turn red when it is cut and green when it returns, and a
//! Sikasso supervisor is refused Mopti's page. Screenshots go to
//! `target/console-screenshots/` (kept by CI as artifacts).
//!
//! It also measures, in the same browser, what a first visit costs on a
//! slow link: Chromium's network emulation (devtools protocol) at 256 kbit/s
//! down, 300 ms latency, cache disabled; the page weight and the time to
//! first contentful paint of "Mali en un coup d'œil" are printed (the
//! README reports them) and held under a ceiling.
//!
//! Chromium and chromedriver are required (`scripts/ensure-tools chromium`):
//! without them the test fails, it never skips.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use jigi_auth::{Grant, LocalIssuer, Role, Scope};
use jigi_bus::OutgoingEvent;
use jigi_common::Region;
use jigi_e2e::{Hub, random_passwords};
use jigi_proto::events as ev;
use jigi_stack::national::{self, Figures};
use jigi_stack::progress::Bars;
use jigi_stack::quarter::{self, QuarterPlan};
use jigi_stack::{RegionNode, StackAccess, clients};
use jigi_testkit::{TcpProxy, eventually, sqlite_url};
use tokio_util::sync::CancellationToken;

const WAIT: Duration = Duration::from_secs(60);
/// How fast a cut link must turn red (and a restored one green) on the page.
const WITHIN: Duration = Duration::from_secs(15);
const HOUSEHOLDS: u64 = 12;

fn screenshots_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target"));
    let dir = target.join("console-screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

async fn screenshot(browser: &Client, name: &str) {
    let png = browser.screenshot().await.expect("a screenshot");
    std::fs::write(screenshots_dir().join(format!("{name}.png")), png).unwrap();
}

/// A chromedriver of the test's own, and a headless Chromium session on it.
struct Browser {
    driver: tokio::process::Child,
    client: Client,
}

async fn open_browser() -> Browser {
    let port = jigi_testkit::free_port();
    let driver = tokio::process::Command::new("chromedriver")
        .arg(format!("--port={port}"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap_or_else(|err| {
            panic!("chromedriver cannot be started ({err}): install Chromium and its driver with `scripts/ensure-tools chromium`")
        });
    eventually(Duration::from_secs(20), "chromedriver to listen", || async move {
        tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .ok()
            .map(|_| ())
    })
    .await;
    let chromium = ["chromium", "chromium-browser"]
        .iter()
        .find_map(|name| which(name))
        .expect("Chromium is installed (scripts/ensure-tools chromium)");
    let mut capabilities = serde_json::Map::new();
    capabilities.insert(
        "goog:chromeOptions".into(),
        serde_json::json!({
            "binary": chromium,
            "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1280,1000", "--lang=fr-FR"],
        }),
    );
    let connector = hyper_util::client::legacy::connect::HttpConnector::new();
    let client = ClientBuilder::new(connector)
        .capabilities(capabilities)
        .connect(&format!("http://127.0.0.1:{port}"))
        .await
        .expect("a Chromium session through chromedriver");
    Browser { driver, client }
}

fn which(name: &str) -> Option<String> {
    std::env::var_os("PATH")?
        .to_str()?
        .split(':')
        .map(|dir| PathBuf::from(dir).join(name))
        .find(|path| path.is_file())
        .map(|path| path.display().to_string())
}

/// French grouping of a whole number: a narrow no-break space every three digits.
fn french(value: i64) -> String {
    let digits = value.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push('\u{202f}');
        }
        out.push(c);
    }
    out
}

async fn text(browser: &Client, css: &str) -> String {
    browser
        .wait()
        .at_most(WAIT)
        .for_element(Locator::Css(css))
        .await
        .unwrap_or_else(|err| panic!("{css} on the page: {err}"))
        .text()
        .await
        .unwrap()
}

/// What a screen reader or a keyboard needs of every page: a language, a
/// label for every form control, a title for every chart, headers in every
/// table, and the skip link first under the Tab key.
async fn assert_accessible(browser: &Client, page: &str) {
    let problems = browser
        .execute(
            "const problems = [];
             if (!document.documentElement.lang) problems.push('no lang attribute');
             for (const el of document.querySelectorAll('input:not([type=hidden]), select, textarea')) {
               const labelled = (el.id && document.querySelector('label[for=\"' + el.id + '\"]')) || el.getAttribute('aria-label');
               if (!labelled) problems.push('a form control without a label: ' + el.outerHTML.slice(0, 80));
             }
             for (const svg of document.querySelectorAll('svg')) {
               if (!svg.querySelector('title') && !svg.getAttribute('aria-label')) problems.push('a chart without a title');
             }
             for (const table of document.querySelectorAll('table')) {
               if (!table.querySelector('th')) problems.push('a table without headers');
             }
             return problems;",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(problems, serde_json::json!([]), "{page}");
    browser
        .find(Locator::Css("body"))
        .await
        .unwrap()
        .send_keys("\u{E004}")
        .await
        .unwrap();
    let focused = browser.active_element().await.unwrap();
    assert_eq!(
        focused.attr("href").await.unwrap().as_deref(),
        Some("#main"),
        "{page}: Tab reaches the skip link first"
    );
}

async fn sign_in(browser: &Client, console: &str, token: &str, next: &str) {
    browser.goto(&format!("{console}{next}")).await.unwrap();
    // No session: the console sends the browser to its sign-in page.
    let url = browser.current_url().await.unwrap();
    assert_eq!(url.path(), "/signin", "{url}");
    assert_accessible(browser, "sign-in").await;
    browser
        .find(Locator::Css("#token"))
        .await
        .unwrap()
        .send_keys(token)
        .await
        .unwrap();
    browser
        .find(Locator::Css("#signin-submit"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    // Signed in, back on the page asked for.
    browser
        .wait()
        .at_most(WAIT)
        .for_element(Locator::Css("#who"))
        .await
        .expect("signed in");
    let url = browser.current_url().await.unwrap();
    let path = match url.query() {
        Some(query) => format!("{}?{query}", url.path()),
        None => url.path().to_owned(),
    };
    assert_eq!(path, next);
}

/// A Chrome DevTools Protocol command, through chromedriver.
#[derive(Debug)]
struct Cdp {
    cmd: &'static str,
    params: serde_json::Value,
}

impl fantoccini::wd::WebDriverCompatibleCommand for Cdp {
    fn endpoint(&self, base: &url::Url, session: Option<&str>) -> Result<url::Url, url::ParseError> {
        base.join(&format!("session/{}/goog/cdp/execute", session.unwrap_or_default()))
    }

    fn method_and_body(&self, _: &url::Url) -> (http::Method, Option<String>) {
        let body = serde_json::json!({ "cmd": self.cmd, "params": self.params });
        (http::Method::POST, Some(body.to_string()))
    }
}

/// The slow link of the measurement: bytes per second down and up, latency.
const SLOW_DOWN: u64 = 32_000;
const SLOW_UP: u64 = 16_000;
const SLOW_LATENCY_MS: u64 = 300;

/// What a first visit to `path` costs on the slow link: bytes transferred
/// (the page and every asset) and the time to first contentful paint.
async fn first_visit_on_a_slow_link(browser: &Client, site: &str, path: &str) -> (u64, f64) {
    for (cmd, params) in [
        ("Network.enable", serde_json::json!({})),
        ("Network.setCacheDisabled", serde_json::json!({ "cacheDisabled": true })),
        (
            "Network.emulateNetworkConditions",
            serde_json::json!({
                "offline": false,
                "latency": SLOW_LATENCY_MS,
                "downloadThroughput": SLOW_DOWN,
                "uploadThroughput": SLOW_UP,
            }),
        ),
    ] {
        browser.issue_cmd(Cdp { cmd, params }).await.expect(cmd);
    }
    browser.goto(&format!("{site}{path}")).await.unwrap();
    // The paint entry may come after the load event: wait for it.
    let measured = browser
        .execute_async(
            "const done = arguments[arguments.length - 1];
             const report = (fcp) => {
               const nav = performance.getEntriesByType('navigation')[0];
               const assets = performance.getEntriesByType('resource').reduce((sum, r) => sum + r.transferSize, 0);
               done({ bytes: nav.transferSize + assets, fcp: fcp });
             };
             new PerformanceObserver((list) => {
               for (const e of list.getEntries()) if (e.name === 'first-contentful-paint') report(e.startTime);
             }).observe({ type: 'paint', buffered: true });
             setTimeout(() => report(-1), 20000);",
            vec![],
        )
        .await
        .unwrap();
    browser
        .issue_cmd(Cdp {
            cmd: "Network.emulateNetworkConditions",
            params: serde_json::json!({ "offline": false, "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1 }),
        })
        .await
        .unwrap();
    (
        measured["bytes"].as_u64().expect("bytes measured"),
        measured["fcp"].as_f64().expect("first contentful paint measured"),
    )
}

#[tokio::test]
async fn the_console_in_a_browser_shows_the_quarter_the_live_feed_and_a_cut_link() {
    jigi_testkit::init_tracing();
    let dir = tempfile::tempdir().unwrap();
    let passwords = random_passwords();
    let hub = Hub::start(&dir.path().join("hub"), &passwords).await;
    let link = TcpProxy::start(format!("127.0.0.1:{}", hub.leaf_port).parse().unwrap()).await;
    let shutdown = CancellationToken::new();
    let access = StackAccess::create(dir.path()).unwrap();
    let shared = jigi_stack::Shared {
        passwords: passwords.clone(),
        access: access.clone(),
        telemetry: jigi_stack::Telemetry::default(),
    };
    let node = |region, port| RegionNode::start(dir.path(), region, port, &shared, &shutdown);
    let sikasso = node(Region::Sikasso, link.port()).await.unwrap();
    let mopti = node(Region::Mopti, hub.leaf_port).await.unwrap();
    let regions = [Region::Sikasso, Region::Mopti];
    let mut config = jigi_monitoring::Config::local(
        &regions,
        &hub.url_as("monitoring"),
        &sqlite_url(dir.path(), "monitoring"),
    );
    config.region_domains = true;
    config.service.serve = access.serve.clone();
    let monitoring = jigi_monitoring::start(config, shutdown.clone()).await.unwrap();
    let mut config = jigi_console::Config::local(
        &regions,
        &format!("http://{}", monitoring.grpc_addr),
        // As deployed: the hub's read-only `console` user.
        &hub.url_as("console"),
        access.serve.access.clone(),
    );
    config.link_down_after = Duration::from_secs(3);
    let console = jigi_console::start(config, shutdown.clone()).await.unwrap();
    let site = console.url();
    // The stack's own key issues the people's tokens, as `jigi token` does.
    let issuer = LocalIssuer::load_or_create(&jigi_stack::stack::key_file(dir.path())).unwrap();
    let operator_token = issuer.issue(&Grant::new("n.diallo", &[Role::NationalOperator], Scope::National));
    let supervisor_token = issuer.issue(&Grant::new(
        "a.traore",
        &[Role::RegionalSupervisor],
        Scope::Regions(BTreeSet::from([Region::Sikasso])),
    ));

    // A quarter in both regions, through the services' public API.
    let plans = [
        QuarterPlan::new(Region::Sikasso, HOUSEHOLDS),
        QuarterPlan::new(Region::Mopti, HOUSEHOLDS),
    ];
    let bars = Bars::hidden();
    let (sikasso_endpoints, mopti_endpoints) = (sikasso.endpoints(), mopti.endpoints());
    let (a, b) = tokio::join!(
        quarter::run(&sikasso_endpoints, &plans[0], &bars),
        quarter::run(&mopti_endpoints, &plans[1], &bars),
    );
    let summaries = vec![a.unwrap(), b.unwrap()];
    let expected: Vec<Figures> = national::expected(&summaries);
    let period = plans[0].period().to_string();
    let year = chrono::Datelike::year(&plans[0].today);
    let sources: Vec<(String, i32)> = summaries.iter().map(|s| (s.region.clone(), s.funding_source)).collect();
    let channel = clients::connect(&format!("http://{}", monitoring.grpc_addr), "monitoring", "", "")
        .await
        .unwrap();
    let client = clients::monitoring_client_as(channel, access.staff.national("n.diallo", &[Role::NationalOperator]));
    eventually(WAIT, "the monitoring to report the quarter", || {
        let (mut client, period, sources, expected) =
            (client.clone(), period.clone(), sources.clone(), expected.clone());
        async move {
            let reported = national::reported(&mut client, &period, year, &sources).await.ok()?;
            reported
                .iter()
                .map(|f| f.counts()[..11].to_vec())
                .eq(expected.iter().map(|f| f.counts()[..11].to_vec()))
                .then_some(())
        }
    })
    .await;
    let total = expected.last().unwrap();
    let sikasso_done = expected.iter().find(|f| f.area == "sikasso").unwrap();

    let Browser {
        driver,
        client: browser,
    } = open_browser().await;

    // Sign in; Mali at a glance shows the quarter's figures, in French.
    sign_in(&browser, &site, &operator_token, &format!("/?period={period}")).await;
    let lang = browser
        .find(Locator::Css("html"))
        .await
        .unwrap()
        .attr("lang")
        .await
        .unwrap();
    assert_eq!(lang.as_deref(), Some("fr"));
    assert_eq!(
        text(&browser, "#kpis-mali [data-k=households_registered]").await,
        french(total.households_registered)
    );
    assert_eq!(
        text(&browser, "#kpis-mali [data-k=households_paid]").await,
        french(total.households_paid)
    );
    assert_eq!(
        text(&browser, "#kpis-mali [data-k=amount_paid]").await,
        french(total.amount_paid_fcfa)
    );
    assert_eq!(
        text(
            &browser,
            "#regions-table tr[data-area=sikasso] [data-k=households_paid]"
        )
        .await,
        french(sikasso_done.households_paid)
    );
    assert_eq!(
        text(
            &browser,
            &format!("#series-table tr[data-period=\"{period}\"] [data-k=households_paid]")
        )
        .await,
        french(total.households_paid)
    );
    screenshot(&browser, "1-mali-en-un-coup-d-oeil").await;
    assert_accessible(&browser, "Mali en un coup d'œil").await;
    for page in ["/budget", "/cycles", "/traces"] {
        browser.goto(&format!("{site}{page}")).await.unwrap();
        assert_accessible(&browser, page).await;
    }

    // PNP rounds: each region's round of the quarter, still open, with the
    // people the quarter fed and the flour it gave.
    browser.goto(&format!("{site}/rounds")).await.unwrap();
    for summary in &summaries {
        let row = format!("table.rounds[data-state=open] tr[data-round=\"{}\"]", summary.round_id);
        assert_eq!(
            text(&browser, &format!("{row} [data-k=children_served]")).await,
            french(summary.reached.children),
            "{}",
            summary.region
        );
        assert_eq!(
            text(&browser, &format!("{row} [data-k=lactating_served]")).await,
            french(summary.reached.lactating_women)
        );
        // Tonnes, three decimals, French decimal comma.
        let tonnes = format!("{:.3}", summary.flour_distributed_grams as f64 / 1e6).replace('.', ",");
        assert_eq!(text(&browser, &format!("{row} [data-k=flour_t]")).await, tonnes);
    }
    screenshot(&browser, "6-tournees-pnp").await;
    assert_accessible(&browser, "/rounds").await;

    // The live feed: an event published now appears on the open page.
    browser.goto(&format!("{site}/live")).await.unwrap();
    assert_accessible(&browser, "/live").await;
    eventually(WAIT, "the page to follow the live feed", || async {
        let metrics = jigi_testkit::http_get(console.metrics_addr, "/metrics")
            .await
            .ok()?
            .body;
        (jigi_testkit::metric_value(&metrics, "jigi_console_live_clients")? >= 1.0).then_some(())
    })
    .await;
    let about = format!("navigateur-{}", uuid::Uuid::new_v4());
    let event = OutgoingEvent::new(
        Region::Mopti,
        &about,
        &ev::HouseholdExited {
            household_id: about.clone(),
            component: jigi_proto::common::Component::Tm as i32,
            exited_on: plans[1].today.format("%Y-%m-%d").to_string(),
            reason: ev::HouseholdExitReason::Graduated as i32,
            location: Some(jigi_proto::common::Location {
                region: "mopti".into(),
                cercle: plans[1].communes[0].rsplit_once('.').unwrap().0.to_owned(),
                commune: plans[1].communes[0].clone(),
                village: String::new(),
            }),
        },
    );
    let leaf = jigi_e2e::connect_leaf(&mopti.leaf, Region::Mopti).await;
    let mut headers = event.headers();
    headers.insert("Nats-Msg-Id", event.id.as_str());
    leaf.jetstream
        .publish_with_headers(event.subject.clone(), headers, event.payload.clone().into())
        .await
        .unwrap()
        .await
        .unwrap();
    let row = browser
        .wait()
        .at_most(WAIT)
        .for_element(Locator::XPath(&format!(
            "//tbody[@id='live-body']/tr[td[text()='{about}']]"
        )))
        .await
        .expect("the event published during the test on the live page");
    assert!(row.text().await.unwrap().contains("jigi.registry.household.exited.v1"));
    screenshot(&browser, "2-evenements-en-direct").await;

    // The regions' links: Sikasso's turns red when cut, green when restored.
    browser.goto(&format!("{site}/links")).await.unwrap();
    text(&browser, "#links tr[data-region=sikasso][data-status=up]").await;
    assert_accessible(&browser, "/links").await;
    link.cut().await;
    let cut = Instant::now();
    let row = browser
        .wait()
        .at_most(WITHIN)
        .for_element(Locator::Css("#links tr[data-region=sikasso][data-status=cut]"))
        .await
        .expect("Sikasso's cut link shown within seconds");
    let shown_cut = cut.elapsed();
    assert!(row.text().await.unwrap().contains("LIAISON COUPÉE"));
    let background = row
        .find(Locator::Css("td"))
        .await
        .unwrap()
        .css_value("background-color")
        .await
        .unwrap();
    assert_eq!(background, "rgba(254, 226, 226, 1)", "a cut link's row is red");
    // Mopti's link is untouched.
    text(&browser, "#links tr[data-region=mopti][data-status=up]").await;
    screenshot(&browser, "3-liaison-coupee").await;
    link.restore().await;
    let restored = Instant::now();
    // The leaf node retries its link every few seconds: more time to return.
    browser
        .wait()
        .at_most(2 * WITHIN)
        .for_element(Locator::Css("#links tr[data-region=sikasso][data-status=up]"))
        .await
        .expect("Sikasso's restored link shown within seconds");
    let shown_up = restored.elapsed();
    screenshot(&browser, "4-liaison-retablie").await;
    println!(
        "console_browser: a cut link turned red on the page after {:.1} s, and green {:.1} s after it returned",
        shown_cut.as_secs_f64(),
        shown_up.as_secs_f64()
    );

    // A first visit on a slow link: small, and painted in seconds.
    let (bytes, fcp) = first_visit_on_a_slow_link(&browser, &site, &format!("/?period={period}")).await;
    println!(
        "console_browser: Mali en un coup d'œil, first visit at {} kbit/s and {SLOW_LATENCY_MS} ms latency, cache off: {:.1} kB transferred, first contentful paint after {:.2} s",
        SLOW_DOWN * 8 / 1000,
        bytes as f64 / 1000.0,
        fcp / 1000.0
    );
    assert!(
        bytes > 0 && bytes < 100_000,
        "the page and its assets weigh {bytes} bytes"
    );
    assert!(fcp > 0.0 && fcp < 8_000.0, "first contentful paint after {fcp} ms");

    // A regional supervisor cannot open another region.
    browser
        .find(Locator::Css("header form button"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    sign_in(&browser, &site, &supervisor_token, "/region/sikasso").await;
    browser.goto(&format!("{site}/region/mopti")).await.unwrap();
    text(&browser, "#forbidden").await;
    screenshot(&browser, "5-region-refusee").await;

    browser.close().await.unwrap();
    drop(driver);
    shutdown.cancel();
    console.stopped().await;
    monitoring.stopped().await;
    sikasso.stopped().await;
    mopti.stopped().await;
}
