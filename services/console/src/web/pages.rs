//! The pages. Each reads what it shows with the operator's own token,
//! checks the operator's scope first, and renders HTML on the server:
//! figures as tables, with an inline SVG chart beside them where a picture
//! says more.

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::{Path, Query, State as AxumState};
use axum::http::{StatusCode, header};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Redirect, Response};
use futures::Stream;
use jigi_common::{Period, Region};
use maud::{Markup, html};
use serde::Deserialize;

use super::auth::Operator;
use super::layout::{self, Chrome, encode};
use super::{State, html};
use crate::domain::chart::{self, CLASSES};
use crate::domain::format::{count, percent, time, tonnes};
use crate::domain::{AsOf, Budget, Cycle, Figures, Freshness, Lang, LinkState, LinkStatus, Round, Staleness};
use crate::links::Snapshot;
use crate::monitoring::{ReadError, Report};

/// Quarters in the glance pages' series.
const SERIES_QUARTERS: usize = 8;

// ---------------------------------------------------------------- helpers

fn current_quarter() -> Period {
    Period::quarter_of(chrono::Utc::now().date_naive())
}

/// The period asked for, or this quarter.
fn period_of(code: Option<&str>) -> Result<Period, String> {
    match code.map(str::trim).filter(|c| !c.is_empty()) {
        None => Ok(current_quarter()),
        Some(code) => code.parse::<Period>().map_err(|err| err.to_string()),
    }
}

/// The quarter before `period` (the year before, for a year).
fn previous(period: Period) -> Period {
    match period {
        Period::Year(year) => Period::Year(year - 1),
        Period::Quarter { year, quarter: 1 } => Period::Quarter {
            year: year - 1,
            quarter: 4,
        },
        Period::Quarter { year, quarter } => Period::Quarter {
            year,
            quarter: quarter - 1,
        },
    }
}

fn next(period: Period) -> Period {
    match period {
        Period::Year(year) => Period::Year(year + 1),
        Period::Quarter { year, quarter: 4 } => Period::Quarter {
            year: year + 1,
            quarter: 1,
        },
        Period::Quarter { year, quarter } => Period::Quarter {
            year,
            quarter: quarter + 1,
        },
    }
}

/// The periods of the series ending with `period`, oldest first.
fn series_periods(period: Period) -> Vec<Period> {
    let mut periods = vec![period];
    for _ in 1..SERIES_QUARTERS {
        let before = previous(*periods.last().expect("not empty"));
        periods.push(before);
    }
    periods.reverse();
    periods
}

/// A refusal or failure, as a page.
fn failure(state: &State, chrome: &Chrome, page: &'static str, err: &ReadError) -> Response {
    let l = chrome.lang.labels();
    let (status, title, text) = match err {
        ReadError::Refused(reason) => (StatusCode::FORBIDDEN, l.forbidden, reason.clone()),
        ReadError::Invalid(reason) => (StatusCode::BAD_REQUEST, l.no_data, reason.clone()),
        ReadError::Unavailable(reason) => (StatusCode::SERVICE_UNAVAILABLE, l.unavailable, reason.clone()),
    };
    state.metrics.page(page, status.as_u16());
    html(
        status,
        layout::page(chrome, title, html! { div.banner.error role="alert" { (text) } }),
    )
}

fn bad_request(state: &State, chrome: &Chrome, page: &'static str, text: &str) -> Response {
    failure(state, chrome, page, &ReadError::Invalid(text.to_owned()))
}

fn forbidden_region(state: &State, chrome: &Chrome, page: &'static str) -> Response {
    let l = chrome.lang.labels();
    state.metrics.page(page, 403);
    html(
        StatusCode::FORBIDDEN,
        layout::page(
            chrome,
            l.forbidden,
            html! { div.banner.error role="alert" id="forbidden" { (l.forbidden_region) } },
        ),
    )
}

fn ok(state: &State, chrome: &Chrome, page: &'static str, title: &str, body: Markup) -> Response {
    state.metrics.page(page, 200);
    html(StatusCode::OK, layout::page(chrome, title, body))
}

fn region_name(lang: Lang, area: &str, name: &str) -> String {
    if area.is_empty() {
        lang.labels().country.to_owned()
    } else if name.is_empty() {
        area.to_owned()
    } else {
        name.to_owned()
    }
}

// ---------------------------------------------------------------- indicators

/// What the tile map can be coloured by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Indicator {
    HouseholdsPaid,
    HouseholdsRegistered,
    AmountPaid,
    SuccessRate,
    Flour,
}

impl Indicator {
    const ALL: [Indicator; 5] = [
        Indicator::HouseholdsPaid,
        Indicator::HouseholdsRegistered,
        Indicator::AmountPaid,
        Indicator::SuccessRate,
        Indicator::Flour,
    ];

    fn key(self) -> &'static str {
        match self {
            Indicator::HouseholdsPaid => "households_paid",
            Indicator::HouseholdsRegistered => "households_registered",
            Indicator::AmountPaid => "amount_paid",
            Indicator::SuccessRate => "success_rate",
            Indicator::Flour => "flour",
        }
    }

    fn parse(key: Option<&str>) -> Indicator {
        Indicator::ALL
            .into_iter()
            .find(|i| Some(i.key()) == key)
            .unwrap_or(Indicator::HouseholdsPaid)
    }

    fn label(self, lang: Lang) -> &'static str {
        let l = lang.labels();
        match self {
            Indicator::HouseholdsPaid => l.households_paid,
            Indicator::HouseholdsRegistered => l.households_registered,
            Indicator::AmountPaid => l.amount_paid,
            Indicator::SuccessRate => l.success_rate,
            Indicator::Flour => l.flour_tonnes,
        }
    }

    fn value(self, f: &Figures) -> f64 {
        match self {
            Indicator::HouseholdsPaid => f.households_paid as f64,
            Indicator::HouseholdsRegistered => f.households_registered as f64,
            Indicator::AmountPaid => f.amount_paid_fcfa as f64,
            Indicator::SuccessRate => f.success_rate,
            Indicator::Flour => f.flour_grams as f64,
        }
    }

    fn show(self, lang: Lang, f: &Figures) -> String {
        match self {
            Indicator::HouseholdsPaid => count(lang, f.households_paid),
            Indicator::HouseholdsRegistered => count(lang, f.households_registered),
            Indicator::AmountPaid => count(lang, f.amount_paid_fcfa),
            Indicator::SuccessRate => percent(lang, f.success_rate),
            Indicator::Flour => tonnes(lang, f.flour_grams),
        }
    }
}

/// The headline figures of one area.
fn kpis(lang: Lang, f: &Figures) -> Markup {
    let l = lang.labels();
    html! {
        dl.kpis id={ "kpis-" (if f.area.is_empty() { "mali" } else { f.area.as_str() }) } {
            div { dt { (l.households_registered) } dd data-k="households_registered" { (count(lang, f.households_registered)) } }
            @for (component, households) in &f.enrolled {
                div { dt { (l.enrolled) " " (component) } dd data-k={ "enrolled_" (component.to_lowercase()) } { (count(lang, *households)) } }
            }
            div { dt { (l.households_paid) } dd data-k="households_paid" { (count(lang, f.households_paid)) } }
            div { dt { (l.amount_paid) } dd data-k="amount_paid" { (count(lang, f.amount_paid_fcfa)) } }
            div { dt { (l.success_rate) } dd data-k="success_rate" { (percent(lang, f.success_rate)) } }
            div { dt { (l.people_reached) " — " (l.children) } dd data-k="children" { (count(lang, f.children_reached)) } }
            div { dt { (l.people_reached) " — " (l.pregnant_women) } dd data-k="pregnant_women" { (count(lang, f.pregnant_women_reached)) } }
            div { dt { (l.people_reached) " — " (l.lactating_women) } dd data-k="lactating_women" { (count(lang, f.lactating_women_reached)) } }
            div { dt { (l.flour_tonnes) } dd data-k="flour_tonnes" { (tonnes(lang, f.flour_grams)) } }
        }
    }
}

/// Components enrolled in any of `rows`, in first-seen order.
fn components(rows: &[&Figures]) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    for row in rows {
        for (name, _) in &row.enrolled {
            if !names.contains(name) {
                names.push(name.clone());
            }
        }
    }
    names
}

/// One row per area, with every indicator.
fn figures_table(lang: Lang, id: &str, caption: &str, rows: &[&Figures]) -> Markup {
    let l = lang.labels();
    let components = components(rows);
    html! {
        div.scroll {
            table id=(id) {
                caption { (caption) }
                thead { tr {
                    th scope="col" { (l.region) }
                    th scope="col" { (l.households_registered) }
                    @for c in &components { th scope="col" { (l.enrolled) " " (c) } }
                    th scope="col" { (l.households_paid) }
                    th scope="col" { (l.amount_paid) }
                    th scope="col" { (l.success_rate) }
                    th scope="col" { (l.children) }
                    th scope="col" { (l.pregnant_women) }
                    th scope="col" { (l.lactating_women) }
                    th scope="col" { (l.flour_tonnes) }
                } }
                tbody {
                    @for f in rows {
                        tr data-area=(if f.area.is_empty() { "mali" } else { f.area.as_str() }) {
                            th scope="row" { (region_name(lang, &f.area, &f.name)) }
                            td { (count(lang, f.households_registered)) }
                            @for c in &components { td { (count(lang, f.enrolled_in(c))) } }
                            td data-k="households_paid" { (count(lang, f.households_paid)) }
                            td data-k="amount_paid" { (count(lang, f.amount_paid_fcfa)) }
                            td { (percent(lang, f.success_rate)) }
                            td { (count(lang, f.children_reached)) }
                            td { (count(lang, f.pregnant_women_reached)) }
                            td { (count(lang, f.lactating_women_reached)) }
                            td { (tonnes(lang, f.flour_grams)) }
                        }
                    }
                }
            }
        }
    }
}

/// Where each region sits on the schematic map: north (Tombouctou, Gao)
/// on top, Kayes in the west, Sikasso in the south.
const TILES: [(Region, u32, u32); 8] = [
    (Region::Tombouctou, 2, 0),
    (Region::Gao, 3, 0),
    (Region::Kayes, 0, 1),
    (Region::Koulikoro, 1, 1),
    (Region::Segou, 2, 1),
    (Region::Mopti, 3, 1),
    (Region::Bamako, 1, 2),
    (Region::Sikasso, 2, 2),
];

fn tile_map(lang: Lang, rows: &[Figures], indicator: Indicator, links: &[LinkState]) -> Markup {
    let l = lang.labels();
    let max = rows.iter().map(|f| indicator.value(f)).fold(0.0_f64, f64::max);
    html! {
        figure {
            svg id="tile-map" viewBox="0 0 400 300" role="group" aria-labelledby="tile-map-title" {
                title id="tile-map-title" { (l.map) " — " (indicator.label(lang)) }
                @for (region, col, row) in TILES {
                    @let figures = rows.iter().find(|f| f.area == region.slug());
                    @let class = figures.map(|f| chart::class_of(indicator.value(f), max)).unwrap_or(0);
                    @let value = figures.map(|f| indicator.show(lang, f)).unwrap_or_else(|| "—".into());
                    @let cut = links.iter().any(|s| s.region == region && s.status == LinkStatus::Cut);
                    @let (x, y) = (col * 100 + 2, row * 100 + 2);
                    a.tile href={ "/region/" (region.slug()) } aria-label={ (region.name()) " : " (value) } data-region=(region.slug()) {
                        rect class={ "c" (class) } x=(x) y=(y) width="96" height="96" rx="6"
                            stroke=(if cut { "#b91c1c" } else { "#ffffff" }) stroke-width=(if cut { "5" } else { "1" }) {}
                        text class=(if class >= CLASSES - 2 { "dark" } else { "" }) x=(x + 48) y=(y + 38) text-anchor="middle" {
                            (region.name().trim_start_matches("District de "))
                        }
                        text class=(if class >= CLASSES - 2 { "v dark" } else { "v" }) x=(x + 48) y=(y + 62) text-anchor="middle" { (value) }
                    }
                }
            }
            figcaption.note { (l.map_help) }
        }
    }
}

/// The quarterly series of households paid: bars, and a table with the values.
fn series_chart(lang: Lang, series: &[(Period, Option<Figures>)]) -> Markup {
    let l = lang.labels();
    let values: Vec<f64> = series
        .iter()
        .map(|(_, f)| f.as_ref().map(|f| f.households_paid as f64).unwrap_or(0.0))
        .collect();
    let heights = chart::bar_heights(&values, 150.0);
    let width = 60 * series.len() as u32;
    html! {
        figure {
            svg id="series-chart" viewBox={ "0 0 " (width) " 200" } role="img" aria-labelledby="series-title" {
                title id="series-title" { (l.series) " — " (l.households_paid) }
                line x1="0" y1="170" x2=(width) y2="170" stroke="#767676" {}
                @for (i, ((period, figures), height)) in series.iter().zip(&heights).enumerate() {
                    @let x = i as u32 * 60 + 10;
                    rect.bar x=(x) y=(format!("{:.1}", 170.0 - height)) width="40" height=(format!("{:.1}", height)) {
                        title { (period.to_string()) " : " (figures.as_ref().map(|f| count(lang, f.households_paid)).unwrap_or_else(|| "—".into())) }
                    }
                    text x=(x + 20) y="188" text-anchor="middle" { (period.to_string()) }
                }
            }
            figcaption.note { (l.series_help) }
        }
        div.scroll {
            table id="series-table" {
                caption { (l.series) }
                thead { tr {
                    th scope="col" { (l.period) }
                    th scope="col" { (l.households_paid) }
                    th scope="col" { (l.amount_paid) }
                    th scope="col" { (l.success_rate) }
                    th scope="col" { (l.flour_tonnes) }
                } }
                tbody {
                    @for (period, figures) in series {
                        tr data-period=(period.to_string()) {
                            th scope="row" { (period.to_string()) }
                            @match figures {
                                Some(f) => {
                                    td data-k="households_paid" { (count(lang, f.households_paid)) }
                                    td { (count(lang, f.amount_paid_fcfa)) }
                                    td { (percent(lang, f.success_rate)) }
                                    td { (tonnes(lang, f.flour_grams)) }
                                }
                                None => { td colspan="4" { (l.no_data) } }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// How far the figures go, and which regions are silent.
fn as_of_banner(lang: Lang, as_of: &AsOf, freshness: &[Freshness]) -> Markup {
    let l = lang.labels();
    let silent: Vec<&Freshness> = freshness.iter().filter(|f| f.staleness == Staleness::Silent).collect();
    html! {
        p.note id="as-of" {
            (l.as_of) " " (as_of.applied_at.map(time).unwrap_or_else(|| l.never.to_owned()))
            " · " (count(lang, as_of.events_waiting as i64)) " " (l.events_waiting)
        }
        @if as_of.events_waiting > 0 {
            div.banner role="status" { (l.catching_up) " (" (count(lang, as_of.events_waiting as i64)) " " (l.events_waiting) ")" }
        }
        @if !silent.is_empty() {
            div.banner role="status" {
                (l.silent_regions) " : "
                @for (i, f) in silent.iter().enumerate() {
                    @if i > 0 { ", " }
                    (f.region.name())
                }
            }
        }
    }
}

fn period_form(lang: Lang, action: &str, period: Period, indicator: Option<Indicator>) -> Markup {
    let l = lang.labels();
    let with = |p: Period| match indicator {
        Some(i) => format!("{action}?period={p}&indicator={}", i.key()),
        None => format!("{action}?period={p}"),
    };
    html! {
        form.inline method="get" action=(action) {
            div {
                label for="period" { (l.period) }
                input id="period" name="period" value=(period.to_string()) size="7" pattern="[0-9]{4}(Q[1-4])?";
            }
            @if let Some(current) = indicator {
                div {
                    label for="indicator" { (l.colour_by) }
                    select id="indicator" name="indicator" {
                        @for i in Indicator::ALL {
                            option value=(i.key()) selected[i == current] { (i.label(lang)) }
                        }
                    }
                }
            }
            button.primary type="submit" { (l.show) }
            a href=(with(previous(period))) rel="prev" { "← " (l.previous) }
            a href=(with(next(period))) rel="next" { (l.next) " →" }
        }
    }
}

/// The series of `area`, one call per period, all at once.
async fn series(state: &State, token: &str, area: &str, period: Period) -> Vec<(Period, Option<Figures>)> {
    let periods = series_periods(period);
    let calls = periods.iter().map(|p| {
        let code = p.to_string();
        async move { state.monitoring.indicators(token, area, &code, false).await }
    });
    let answers = futures::future::join_all(calls).await;
    periods
        .into_iter()
        .zip(answers)
        .map(|(p, answer)| (p, answer.ok().and_then(|r| r.value.into_iter().next())))
        .collect()
}

// ---------------------------------------------------------------- glance

#[derive(Deserialize, Default)]
pub struct GlanceQuery {
    period: Option<String>,
    indicator: Option<String>,
}

/// Mali at a glance: the country, each region, the map and the series.
pub async fn glance(
    AxumState(state): AxumState<State>,
    operator: Operator,
    Query(query): Query<GlanceQuery>,
) -> Response {
    let chrome = operator.chrome("glance", "/");
    if !operator.is_national() {
        // A regional supervisor's glance is their region's.
        return match operator.regions(&state.regions).first() {
            Some(region) => Redirect::to(&format!("/region/{}", region.slug())).into_response(),
            None => forbidden_region(&state, &chrome, "glance"),
        };
    }
    let lang = operator.lang;
    let l = lang.labels();
    let period = match period_of(query.period.as_deref()) {
        Ok(period) => period,
        Err(err) => return bad_request(&state, &chrome, "glance", &err),
    };
    let indicator = Indicator::parse(query.indicator.as_deref());
    let code = period.to_string();
    let (country, regions, series) = tokio::join!(
        state.monitoring.indicators(&operator.token, "", &code, false),
        state.monitoring.indicators(&operator.token, "", &code, true),
        series(&state, &operator.token, "", period),
    );
    let (country, regions) = match (country, regions) {
        (Ok(country), Ok(regions)) => (country, regions),
        (Err(err), _) | (_, Err(err)) => return failure(&state, &chrome, "glance", &err),
    };
    let total = country.value.into_iter().next().unwrap_or_default();
    let rows: Vec<Figures> = regions
        .value
        .into_iter()
        .filter(|f| state.regions.iter().any(|r| r.slug() == f.area))
        .collect();
    let links = state.board.snapshot().links;
    let mut table: Vec<&Figures> = rows.iter().collect();
    table.push(&total);
    let body = html! {
        (period_form(lang, "/", period, Some(indicator)))
        (as_of_banner(lang, &country.as_of, &regions.freshness))
        h2 { (l.country) " — " (code) }
        (kpis(lang, &total))
        div.grid2 {
            section aria-labelledby="map-h" {
                h2 id="map-h" { (l.map) }
                (tile_map(lang, &rows, indicator, &links))
            }
            section aria-labelledby="series-h" {
                h2 id="series-h" { (l.series) }
                (series_chart(lang, &series))
            }
        }
        h2 { (l.by_region) }
        (figures_table(lang, "regions-table", &format!("{} — {code}", l.by_region), &table))
    };
    ok(&state, &chrome, "glance", &format!("{} — {code}", l.glance), body)
}

/// One region at a glance.
pub async fn region(
    AxumState(state): AxumState<State>,
    operator: Operator,
    Path(slug): Path<String>,
    Query(query): Query<GlanceQuery>,
) -> Response {
    let path = format!("/region/{}", encode(&slug));
    let chrome = operator.chrome("glance", &path);
    let lang = operator.lang;
    let l = lang.labels();
    let Some(region) = slug.parse::<Region>().ok().filter(|r| state.regions.contains(r)) else {
        return bad_request(&state, &chrome, "region", &format!("{slug:?}: {}", l.no_data));
    };
    // Scope first: nothing is read for a region outside it.
    if !operator.identity.scope.covers(region) {
        return forbidden_region(&state, &chrome, "region");
    }
    let period = match period_of(query.period.as_deref()) {
        Ok(period) => period,
        Err(err) => return bad_request(&state, &chrome, "region", &err),
    };
    let code = period.to_string();
    let (figures, series) = tokio::join!(
        state
            .monitoring
            .indicators(&operator.token, region.slug(), &code, false),
        series(&state, &operator.token, region.slug(), period),
    );
    let figures = match figures {
        Ok(figures) => figures,
        Err(err) => return failure(&state, &chrome, "region", &err),
    };
    let Report {
        value,
        freshness,
        as_of,
    } = figures;
    let f = value.into_iter().next().unwrap_or_default();
    let link = state.board.snapshot().links.into_iter().find(|s| s.region == region);
    let body = html! {
        (period_form(lang, &path, period, None))
        (as_of_banner(lang, &as_of, &freshness))
        @if let Some(link) = &link {
            p { (l.link) " : " (status_badge(lang, link.status)) }
        }
        (kpis(lang, &f))
        section aria-labelledby="series-h" {
            h2 id="series-h" { (l.series) }
            (series_chart(lang, &series))
        }
    };
    ok(&state, &chrome, "region", &format!("{} — {code}", region.name()), body)
}

// ---------------------------------------------------------------- budget

#[derive(Deserialize, Default)]
pub struct BudgetQuery {
    year: Option<i32>,
}

fn budget_year(query: &BudgetQuery) -> Result<i32, String> {
    match query.year {
        None => Ok(current_quarter().year()),
        Some(year) if (2000..=2100).contains(&year) => Ok(year),
        Some(year) => Err(format!("year {year}: 2000 to 2100")),
    }
}

/// The PTBA is national: a regional supervisor has no budget page.
async fn read_budget(state: &State, operator: &Operator, query: &BudgetQuery) -> Result<Report<Budget>, Response> {
    let chrome = operator.chrome("budget", "/budget");
    if !operator.is_national() {
        return Err(forbidden_region(state, &chrome, "budget"));
    }
    let year = budget_year(query).map_err(|err| bad_request(state, &chrome, "budget", &err))?;
    state
        .monitoring
        .budget(&operator.token, year)
        .await
        .map_err(|err| failure(state, &chrome, "budget", &err))
}

pub async fn budget(
    AxumState(state): AxumState<State>,
    operator: Operator,
    Query(query): Query<BudgetQuery>,
) -> Response {
    let report = match read_budget(&state, &operator, &query).await {
        Ok(report) => report,
        Err(response) => return response,
    };
    let lang = operator.lang;
    let l = lang.labels();
    let budget = &report.value;
    let chrome = operator.chrome("budget", &format!("/budget?year={}", budget.year));
    let body = html! {
        form.inline method="get" action="/budget" {
            div {
                label for="year" { (l.year) }
                input id="year" name="year" type="number" min="2000" max="2100" value=(budget.year);
            }
            button.primary type="submit" { (l.show) }
            a href={ "/budget.csv?year=" (budget.year) } download id="budget-csv" { (l.export_csv) }
        }
        (as_of_banner(lang, &report.as_of, &report.freshness))
        dl.kpis {
            div { dt { (l.forecast) } dd id="budget-forecast" { (count(lang, budget.forecast_fcfa)) } }
            div { dt { (l.achieved) } dd id="budget-achieved" { (count(lang, budget.achieved_fcfa)) } }
            div { dt { (l.execution_rate) } dd id="budget-rate" { (percent(lang, budget.execution_rate)) } }
        }
        @if budget.lines.is_empty() {
            p { (l.no_data) }
        } @else {
            (budget_bars(lang, budget))
        }
        div.scroll {
            table id="budget-table" {
                caption { (l.budget) " " (budget.year) }
                thead { tr {
                    th scope="col" { (l.component) }
                    th.text scope="col" { (l.funder) }
                    th scope="col" { (l.forecast) }
                    th scope="col" { (l.achieved) }
                    th scope="col" { (l.execution_rate) }
                } }
                tbody {
                    @for row in &budget.lines {
                        tr {
                            th scope="row" { (row.component) }
                            td.text { (row.funder) }
                            td { (count(lang, row.forecast_fcfa)) }
                            td { (count(lang, row.achieved_fcfa)) }
                            td { (percent(lang, row.execution_rate)) }
                        }
                    }
                    @for row in &budget.components {
                        tr {
                            th scope="row" { (l.total) " " (row.component) }
                            td.text {}
                            td { (count(lang, row.forecast_fcfa)) }
                            td { (count(lang, row.achieved_fcfa)) }
                            td { (percent(lang, row.execution_rate)) }
                        }
                    }
                    tr {
                        th scope="row" { (l.total) }
                        td.text {}
                        td { (count(lang, budget.forecast_fcfa)) }
                        td { (count(lang, budget.achieved_fcfa)) }
                        td { (percent(lang, budget.execution_rate)) }
                    }
                }
            }
        }
    };
    ok(
        &state,
        &chrome,
        "budget",
        &format!("{} {}", l.budget, budget.year),
        body,
    )
}

/// Forecast (grey) and achieved (blue) per budget line, as horizontal bars.
fn budget_bars(lang: Lang, budget: &Budget) -> Markup {
    let l = lang.labels();
    let max = budget
        .lines
        .iter()
        .flat_map(|r| [r.forecast_fcfa, r.achieved_fcfa])
        .max()
        .unwrap_or(0)
        .max(1) as f64;
    let height = 44 * budget.lines.len() as u32 + 10;
    html! {
        figure {
            svg id="budget-chart" viewBox={ "0 0 600 " (height) } role="img" aria-labelledby="budget-chart-title" {
                title id="budget-chart-title" { (l.budget_chart) }
                @for (i, row) in budget.lines.iter().enumerate() {
                    @let y = i as u32 * 44 + 5;
                    text x="0" y=(y + 14) { (row.component) " · " (row.funder) }
                    rect.bar.forecast x="200" y=(y) width=(format!("{:.1}", row.forecast_fcfa as f64 / max * 380.0)) height="16" {
                        title { (l.forecast) " : " (count(lang, row.forecast_fcfa)) }
                    }
                    rect.bar x="200" y=(y + 18) width=(format!("{:.1}", row.achieved_fcfa as f64 / max * 380.0)) height="16" {
                        title { (l.achieved) " : " (count(lang, row.achieved_fcfa)) }
                    }
                    text x="590" y=(y + 30) text-anchor="end" { (percent(lang, row.execution_rate)) }
                }
            }
            figcaption.note { (l.budget_chart) " — " (l.forecast) " : gris / grey · " (l.achieved) " : bleu / blue" }
        }
    }
}

pub async fn budget_csv(
    AxumState(state): AxumState<State>,
    operator: Operator,
    Query(query): Query<BudgetQuery>,
) -> Response {
    match read_budget(&state, &operator, &query).await {
        Ok(report) => {
            state.metrics.page("budget_csv", 200);
            (
                [
                    (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
                    (
                        header::CONTENT_DISPOSITION,
                        format!("attachment; filename=\"ptba-{}.csv\"", report.value.year),
                    ),
                    (header::CACHE_CONTROL, "no-store".to_owned()),
                ],
                report.value.to_csv(),
            )
                .into_response()
        }
        Err(response) => response,
    }
}

// ---------------------------------------------------------------- links

fn status_badge(lang: Lang, status: LinkStatus) -> Markup {
    let l = lang.labels();
    let (symbol, text) = match status {
        LinkStatus::Up => ("●", l.link_up),
        LinkStatus::Cut => ("✖", l.link_cut),
        LinkStatus::Unknown => ("?", l.link_unknown),
    };
    // Colour and words both: the state reads without colour too.
    html! { span class={ "status " (status.class()) } { span aria-hidden="true" { (symbol) } " " (text) } }
}

fn seconds(lang: Lang, age: Option<Duration>) -> String {
    let l = lang.labels();
    match age {
        Some(age) => format!(
            "{} {}",
            crate::domain::format::decimal(lang, age.as_secs_f64(), 1),
            l.seconds_ago
        ),
        None => l.never.to_owned(),
    }
}

fn links_markup(lang: Lang, snapshot: &Snapshot, freshness: &[Freshness], regions: &[Region]) -> Markup {
    let l = lang.labels();
    html! {
        @if let Some(error) = &snapshot.error {
            div.banner.error role="alert" { (error) }
        }
        table id="links" {
            caption { (l.links) " — " (snapshot.read_at.map(time).unwrap_or_else(|| l.never.to_owned())) }
            thead { tr {
                th scope="col" { (l.region) }
                th.text scope="col" { (l.link) }
                th scope="col" { (l.last_contact) }
                th scope="col" { (l.waiting_in_region) }
                th.text scope="col" { (l.last_event) }
                th scope="col" { (l.monitoring_lag) }
                th scope="col" { (l.events_counted) }
            } }
            tbody {
                @for link in snapshot.links.iter().filter(|s| regions.contains(&s.region)) {
                    @let fresh = freshness.iter().find(|f| f.region == link.region);
                    tr class=(link.status.class()) data-region=(link.region.slug()) data-status=(link.status.class()) {
                        th scope="row" { (link.region.name()) }
                        td.text { (status_badge(lang, link.status)) }
                        td { (seconds(lang, link.last_contact)) }
                        td data-k="waiting" { (count(lang, link.waiting as i64)) }
                        td.text { (fresh.and_then(|f| f.last_event_time).map(time).unwrap_or_else(|| l.never.to_owned())) }
                        td { (fresh.map(|f| format!("{} / {} s",
                                crate::domain::format::decimal(lang, f.lag_p50_seconds, 1),
                                crate::domain::format::decimal(lang, f.lag_p99_seconds, 1))).unwrap_or_default()) }
                        td { (fresh.map(|f| count(lang, f.events_received)).unwrap_or_default()) }
                    }
                }
            }
        }
        p id="monitoring-waiting" {
            (l.monitoring_waiting) " : "
            strong { (snapshot.monitoring_waiting.map(|n| count(lang, n as i64)).unwrap_or_else(|| "—".into())) }
        }
    }
}

async fn links_parts(state: &State, operator: &Operator) -> (Snapshot, Vec<Freshness>, Vec<Region>) {
    let snapshot = state.board.snapshot();
    // Freshness is a complement: the links show even if the monitoring is down.
    let freshness = state
        .monitoring
        .freshness(&operator.token)
        .await
        .map(|r| r.freshness)
        .unwrap_or_default();
    (snapshot, freshness, operator.regions(&state.regions))
}

pub async fn links(AxumState(state): AxumState<State>, operator: Operator) -> Response {
    let chrome = operator.chrome("links", "/links");
    let lang = operator.lang;
    let l = lang.labels();
    let (snapshot, freshness, regions) = links_parts(&state, &operator).await;
    let body = html! {
        p.note { (l.links_help) }
        noscript { meta http-equiv="refresh" content="10"; }
        div id="links-table" data-src="/links/table" aria-live="polite" {
            (links_markup(lang, &snapshot, &freshness, &regions))
        }
    };
    ok(&state, &chrome, "links", l.links, body)
}

/// The links table alone, for the page's refresh.
pub async fn links_table(AxumState(state): AxumState<State>, operator: Operator) -> Response {
    let (snapshot, freshness, regions) = links_parts(&state, &operator).await;
    state.metrics.page("links_table", 200);
    html(
        StatusCode::OK,
        links_markup(operator.lang, &snapshot, &freshness, &regions),
    )
}

/// The areas to ask the monitoring for: national operators every region at
/// once (the empty area), a regional supervisor each region of their scope.
fn scope_areas(operator: &Operator, state: &State) -> Vec<String> {
    if operator.is_national() {
        vec![String::new()]
    } else {
        operator
            .regions(&state.regions)
            .iter()
            .map(|r| r.slug().to_owned())
            .collect()
    }
}

// ---------------------------------------------------------------- cycles

pub async fn cycles(AxumState(state): AxumState<State>, operator: Operator) -> Response {
    let chrome = operator.chrome("cycles", "/cycles");
    let lang = operator.lang;
    let l = lang.labels();
    let areas = scope_areas(&operator, &state);
    let mut cycles: Vec<Cycle> = Vec::new();
    let mut as_of = AsOf::default();
    let mut freshness = Vec::new();
    for area in &areas {
        match state.monitoring.cycles(&operator.token, area).await {
            Ok(report) => {
                cycles.extend(report.value);
                as_of = report.as_of;
                freshness.extend(report.freshness);
            }
            Err(err) => return failure(&state, &chrome, "cycles", &err),
        }
    }
    cycles.retain(|c| state.regions.iter().any(|r| r.slug() == c.region));
    cycles.sort_by(|a, b| (&a.status, &a.region, &a.period).cmp(&(&b.status, &b.region, &b.period)));
    let mut statuses: Vec<&str> = cycles.iter().map(|c| c.status.as_str()).collect();
    statuses.dedup();
    let body = html! {
        (as_of_banner(lang, &as_of, &freshness))
        @if cycles.is_empty() { p { (l.no_data) } }
        @for status in &statuses {
            @let group: Vec<&Cycle> = cycles.iter().filter(|c| c.status == *status).collect();
            section aria-labelledby={ "status-" (status) } {
                h2 id={ "status-" (status) } { (l.status) " : " (status) " (" (group.len()) ")" }
                div.scroll {
                    table.cycles data-status=(status) {
                        thead { tr {
                            th scope="col" { (l.cycle) }
                            th.text scope="col" { (l.region) }
                            th.text scope="col" { (l.period) }
                            th.text scope="col" { (l.funder) }
                            th scope="col" { (l.expected) " (" (l.households) ")" }
                            th scope="col" { (l.expected) " (FCFA)" }
                            th scope="col" { (l.paid) " (" (l.households) ")" }
                            th scope="col" { (l.paid) " (FCFA)" }
                            th scope="col" { (l.failed) }
                            th scope="col" { (l.not_collected) }
                            th scope="col" { (l.outstanding) }
                            th scope="col" { (l.success_rate) }
                            th scope="col" { (l.reconciled) }
                        } }
                        tbody {
                            @for c in &group {
                                tr data-cycle=(c.cycle_id) {
                                    th.mono scope="row" { a href={ "/traces?id=" (encode(&c.cycle_id)) } { (c.cycle_id) } }
                                    td.text { (c.region) }
                                    td.text { (c.period) }
                                    td.text { (c.funder) }
                                    td { (count(lang, c.expected_households)) }
                                    td { (count(lang, c.expected_fcfa)) }
                                    td data-k="households_paid" { (count(lang, c.households_paid)) }
                                    td data-k="paid_fcfa" { (count(lang, c.paid_fcfa)) }
                                    td { (count(lang, c.payments_failed)) }
                                    td { (count(lang, c.payments_not_collected)) }
                                    td { (count(lang, c.outstanding_fcfa)) }
                                    td { (percent(lang, c.success_rate)) }
                                    td {
                                        @if c.reconciled() { span.ok { "✔ " (l.yes) } } @else { span.ko { "✖ " (l.no) } }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        p.note { a href="/rounds" { (l.rounds) } }
    };
    ok(&state, &chrome, "cycles", l.cycles, body)
}

// ---------------------------------------------------------------- rounds

pub async fn rounds(AxumState(state): AxumState<State>, operator: Operator) -> Response {
    let chrome = operator.chrome("rounds", "/rounds");
    let lang = operator.lang;
    let l = lang.labels();
    let areas = scope_areas(&operator, &state);
    let mut rounds: Vec<Round> = Vec::new();
    let mut as_of = AsOf::default();
    let mut freshness = Vec::new();
    for area in &areas {
        match state.monitoring.rounds(&operator.token, area).await {
            Ok(report) => {
                rounds.extend(report.value);
                as_of = report.as_of;
                freshness.extend(report.freshness);
            }
            Err(err) => return failure(&state, &chrome, "rounds", &err),
        }
    }
    rounds.retain(|r| state.regions.iter().any(|region| region.slug() == r.region));
    // Open rounds first: they are the ones still moving.
    let groups: Vec<(&str, &str, Vec<&Round>)> = [(false, "open", l.round_open), (true, "closed", l.round_closed)]
        .into_iter()
        .map(|(closed, key, label)| (key, label, rounds.iter().filter(|r| r.closed == closed).collect()))
        .filter(|(_, _, group): &(&str, &str, Vec<&Round>)| !group.is_empty())
        .collect();
    let served_of = |r: &Round, i: usize| -> Markup {
        let key = ["children", "pregnant", "lactating"][i];
        html! {
            span data-k={ (key) "_served" } { (count(lang, r.served[i])) }
            @if let Some(report) = &r.reported {
                " / " span data-k={ (key) "_planned" } { (count(lang, report.planned[i])) }
            }
        }
    };
    let body = html! {
        (as_of_banner(lang, &as_of, &freshness))
        p.note { (l.rounds_help) }
        @if rounds.is_empty() { p { (l.no_data) } }
        @for (key, label, group) in &groups {
            @let total = |f: &dyn Fn(&Round) -> i64| group.iter().map(|r| f(r)).sum::<i64>();
            section aria-labelledby={ "state-" (key) } {
                h2 id={ "state-" (key) } { (l.status) " : " (label) " (" (group.len()) ")" }
                div.scroll {
                    table.rounds data-state=(key) {
                        caption { (l.rounds) " — " (label) }
                        thead { tr {
                            th scope="col" { (l.round) }
                            th.text scope="col" { (l.region) }
                            th.text scope="col" { (l.period) }
                            th.text scope="col" { (l.days) }
                            th scope="col" { (l.pilot_communes) }
                            th scope="col" { (l.households) " " (l.served) }
                            th scope="col" { (l.children) " (" (l.served) " / " (l.planned) ")" }
                            th scope="col" { (l.pregnant_women) " (" (l.served) " / " (l.planned) ")" }
                            th scope="col" { (l.lactating_women) " (" (l.served) " / " (l.planned) ")" }
                            th scope="col" { (l.rations) }
                            th scope="col" { (l.flour_tonnes) }
                            th scope="col" { (l.flour_lost_kg) }
                            th.text scope="col" { (l.reported_by_region) }
                            th scope="col" { (l.reconciled) }
                        } }
                        tbody {
                            @for r in group {
                                tr data-round=(r.round_id) {
                                    th.mono scope="row" { a href={ "/traces?id=" (encode(&r.round_id)) } { (r.round_id) } }
                                    td.text { (r.region) }
                                    td.text { (r.period) }
                                    td.text {
                                        (r.starts_on) " → " (r.ends_on)
                                        @if r.closed { br; "(" (l.round_closed) " " (r.closed_on) ")" }
                                    }
                                    td { (count(lang, r.pilot_communes)) }
                                    td data-k="households_served" { (count(lang, r.households_served)) }
                                    td { (served_of(r, 0)) }
                                    td { (served_of(r, 1)) }
                                    td { (served_of(r, 2)) }
                                    td data-k="rations" { (count(lang, r.rations)) }
                                    td data-k="flour_t" { (tonnes(lang, r.flour_grams)) }
                                    td data-k="lost_kg" { (count(lang, r.lost_grams / 1_000)) }
                                    td.text {
                                        @match &r.reported {
                                            Some(report) => {
                                                span data-k="reported_people" { (count(lang, report.reached.iter().sum())) }
                                                " · " (tonnes(lang, report.distributed_grams)) " t"
                                            }
                                            None => { (l.not_reported) }
                                        }
                                    }
                                    td {
                                        @if r.reconciled { span.ok data-k="reconciled" { "✔ " (l.yes) } }
                                        @else if r.closed { span.ko data-k="reconciled" { "✖ " (l.no) } }
                                        @else { span data-k="reconciled" { "—" } }
                                    }
                                }
                            }
                        }
                        tfoot { tr data-total=(key) {
                            th scope="row" colspan="5" { (l.total) }
                            td data-k="households_served" { (count(lang, total(&|r| r.households_served))) }
                            td data-k="children_served" { (count(lang, total(&|r| r.served[0]))) }
                            td data-k="pregnant_served" { (count(lang, total(&|r| r.served[1]))) }
                            td data-k="lactating_served" { (count(lang, total(&|r| r.served[2]))) }
                            td data-k="rations" { (count(lang, total(&|r| r.rations))) }
                            td data-k="flour_t" { (tonnes(lang, total(&|r| r.flour_grams))) }
                            td data-k="lost_kg" { (count(lang, total(&|r| r.lost_grams) / 1_000)) }
                            td {}
                            td {}
                        } }
                    }
                }
            }
        }
    };
    ok(&state, &chrome, "rounds", l.rounds, body)
}

// ---------------------------------------------------------------- live

#[derive(Deserialize, Default)]
pub struct LiveQuery {
    region: Option<String>,
    #[serde(rename = "type")]
    kind: Option<String>,
}

/// Whether an event passes the operator's scope and the filters.
fn shown(operator_regions: &[Region], query: &LiveQuery, event: &crate::live::LiveEvent) -> bool {
    let Some(region) = event.region() else {
        return false;
    };
    operator_regions.contains(&region)
        && query
            .region
            .as_deref()
            .is_none_or(|r| r.is_empty() || r == region.slug())
        && query.kind.as_deref().is_none_or(|k| k.is_empty() || event.kind == k)
}

pub async fn live(AxumState(state): AxumState<State>, operator: Operator, Query(query): Query<LiveQuery>) -> Response {
    let lang = operator.lang;
    let l = lang.labels();
    let regions = operator.regions(&state.regions);
    let filter = format!(
        "region={}&type={}",
        encode(query.region.as_deref().unwrap_or("")),
        encode(query.kind.as_deref().unwrap_or(""))
    );
    let chrome = operator.chrome("live", &format!("/live?{filter}"));
    let recent: Vec<_> = state
        .feed
        .latest(2_000)
        .into_iter()
        .filter(|e| shown(&regions, &query, e))
        .take(50)
        .collect();
    let body = html! {
        p.note { (l.live_help) }
        form.inline method="get" action="/live" {
            div {
                label for="region" { (l.region) }
                select id="region" name="region" {
                    option value="" { (l.all_regions) }
                    @for r in &regions {
                        option value=(r.slug()) selected[query.region.as_deref() == Some(r.slug())] { (r.name()) }
                    }
                }
            }
            div {
                label for="type" { (l.event_type) }
                select id="type" name="type" {
                    option value="" { (l.all_types) }
                    @for kind in jigi_bus::catalog::ALL {
                        @let t = kind.ce_type();
                        option value=(t) selected[query.kind.as_deref() == Some(t.as_str())] { (t) }
                    }
                }
            }
            button.primary type="submit" { (l.filter) }
        }
        div.scroll {
            table id="live" {
                thead { tr {
                    th.text scope="col" { (l.time) }
                    th.text scope="col" { (l.region) }
                    th.text scope="col" { (l.event_type) }
                    th.text scope="col" { (l.about) }
                    th.text scope="col" { (l.trace) }
                } }
                tbody id="live-body" data-src={ "/live/events?" (filter) } data-traces="/traces?id=" aria-live="polite" {
                    @if recent.is_empty() {
                        tr id="live-empty" { td.text colspan="5" { (l.waiting_events) } }
                    }
                    @for e in &recent {
                        tr data-kind=(e.kind) data-region=(e.region) {
                            td.text { (time(e.time)) }
                            td.text { (e.region) }
                            td.text { (e.kind) }
                            td.text { (e.about) }
                            td.text.mono {
                                @if let Some(trace) = &e.trace_id {
                                    a href={ "/traces?id=" (encode(&e.about)) } { (trace.get(..16).unwrap_or(trace)) "…" }
                                }
                            }
                        }
                    }
                }
            }
        }
    };
    ok(&state, &chrome, "live", l.live, body)
}

/// The live feed as server-sent events (`event: jigi`, JSON data), only
/// the operator's regions, filtered as asked.
pub async fn live_events(
    AxumState(state): AxumState<State>,
    operator: Operator,
    Query(query): Query<LiveQuery>,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let regions = operator.regions(&state.regions);
    let receiver = state.feed.subscribe();
    let guard = state.metrics.live_client();
    let stream = futures::stream::unfold((receiver, guard), move |(mut receiver, guard)| {
        let regions = regions.clone();
        let query = LiveQuery {
            region: query.region.clone(),
            kind: query.kind.clone(),
        };
        async move {
            loop {
                match receiver.recv().await {
                    Ok(event) if shown(&regions, &query, &event) => {
                        let data = event.to_json();
                        return Some((Ok(Event::default().event("jigi").data(data)), (receiver, guard)));
                    }
                    Ok(_) => continue,
                    // A slow browser missed some events: carry on with the next.
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => continue,
                    Err(tokio::sync::broadcast::error::RecvError::Closed) => return None,
                }
            }
        }
    });
    state.metrics.page("live_events", 200);
    Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
}

// ---------------------------------------------------------------- traces

#[derive(Deserialize, Default)]
pub struct TraceQuery {
    id: Option<String>,
    /// The trace whose spans to show, among those of `id`'s actions.
    trace: Option<String>,
}

/// The spans of a trace, indented under their parents, timed from the first.
fn spans_table(lang: Lang, trace_id: &str, spans: &[crate::spans::Span]) -> Markup {
    let l = lang.labels();
    let start = spans.iter().map(|s| s.start_unix_nanos).min().unwrap_or(0);
    let depth = |span: &crate::spans::Span| {
        let mut depth = 0;
        let mut parent = span.parent_span_id.clone();
        while let Some(up) = spans.iter().find(|s| s.span_id == parent) {
            depth += 1;
            parent = up.parent_span_id.clone();
            if depth > 32 {
                break;
            }
        }
        depth
    };
    let ms = |nanos: u64| crate::domain::format::decimal(lang, nanos as f64 / 1e6, 1);
    html! {
        section aria-labelledby="spans-h" {
            h2 id="spans-h" { (l.spans) " " span.mono { (trace_id) } }
            @if spans.is_empty() {
                p id="no-spans" { (l.no_spans) }
            } @else {
                table id="spans" {
                    thead { tr {
                        th.text scope="col" { (l.span) }
                        th.text scope="col" { (l.service) }
                        th.text scope="col" { (l.region) }
                        th scope="col" { (l.offset_ms) }
                        th scope="col" { (l.duration_ms) }
                    } }
                    tbody {
                        @for span in spans {
                            tr data-span=(span.span_id) {
                                // Non-breaking spaces: the depth shows in HTML.
                                td.text { ("\u{a0}".repeat(3 * depth(span))) (span.name) }
                                td.text { (span.service) }
                                td.text { (span.region) }
                                td { (ms(span.start_unix_nanos.saturating_sub(start))) }
                                td { (ms(span.duration_nanos)) }
                            }
                        }
                    }
                }
            }
        }
    }
}

pub async fn traces(
    AxumState(state): AxumState<State>,
    operator: Operator,
    Query(query): Query<TraceQuery>,
) -> Response {
    let lang = operator.lang;
    let l = lang.labels();
    let id = query.id.unwrap_or_default().trim().to_owned();
    let chrome = operator.chrome("traces", &format!("/traces?id={}", encode(&id)));
    let regions = operator.regions(&state.regions);
    let found: Vec<_> = if id.is_empty() {
        Vec::new()
    } else {
        state
            .feed
            .about(&id, 200)
            .into_iter()
            .filter(|e| e.region().is_some_and(|r| regions.contains(&r)))
            .collect()
    };
    let jaeger = state.jaeger_url.as_deref().map(|u| u.trim_end_matches('/'));
    // Without a tracing UI, the spans the console received: of the trace
    // asked for if it is one of these actions' (never another's), else of
    // the newest action.
    let shown_trace = match &query.trace {
        Some(trace) => found.iter().filter_map(|e| e.trace_id.clone()).find(|t| t == trace),
        None => found.iter().find_map(|e| e.trace_id.clone()),
    };
    let spans = match (&state.spans, &shown_trace, jaeger) {
        // A bulk import's trace has a span per household: the first 500 say enough.
        (Some(store), Some(trace), None) => Some((
            trace.clone(),
            store.trace(trace).into_iter().take(500).collect::<Vec<_>>(),
        )),
        _ => None,
    };
    let body = html! {
        p.note { (l.traces_help) }
        form.inline method="get" action="/traces" {
            div {
                label for="id" { (l.identifier) }
                input id="id" name="id" value=(id) size="40" maxlength="128";
            }
            button.primary type="submit" { (l.search) }
        }
        @if jaeger.is_none() && state.spans.is_none() { p.note { (l.no_tracing_ui) } }
        @if !id.is_empty() && found.is_empty() { p id="no-trace" { (l.no_trace) } }
        @if !found.is_empty() {
            table id="traces" {
                thead { tr {
                    th.text scope="col" { (l.time) }
                    th.text scope="col" { (l.region) }
                    th.text scope="col" { (l.event_type) }
                    th.text scope="col" { (l.trace) }
                } }
                tbody {
                    @for e in &found {
                        tr {
                            td.text { (time(e.time)) }
                            td.text { (e.region) }
                            td.text { (e.kind) }
                            td.text.mono {
                                @match (&e.trace_id, jaeger) {
                                    (Some(trace), Some(base)) => { a href={ (base) "/trace/" (trace) } rel="noopener" { (trace) } }
                                    (Some(trace), None) if state.spans.is_some() => {
                                        a href={ "/traces?id=" (encode(&id)) "&trace=" (trace) } { (trace) }
                                    }
                                    (Some(trace), None) => { (trace) }
                                    (None, _) => { "—" }
                                }
                            }
                        }
                    }
                }
            }
        }
        @if let Some((trace, spans)) = &spans {
            (spans_table(lang, trace, spans))
        }
    };
    ok(&state, &chrome, "traces", l.traces, body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_series_ends_with_the_period_and_crosses_years() {
        let periods = series_periods("2019Q2".parse().unwrap());
        let codes: Vec<String> = periods.iter().map(|p| p.to_string()).collect();
        assert_eq!(
            codes,
            [
                "2017Q3", "2017Q4", "2018Q1", "2018Q2", "2018Q3", "2018Q4", "2019Q1", "2019Q2"
            ]
        );
        assert_eq!(next("2018Q4".parse().unwrap()).to_string(), "2019Q1");
    }
}
