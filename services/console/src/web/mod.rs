//! The web layer: routes, the shared state, and the answers every page
//! gives alike (sign-in redirects, refusals, errors).
//!
//! | Path | Page |
//! |------|------|
//! | `/` | Mali at a glance (a regional supervisor is sent to their region) |
//! | `/region/{slug}` | one region at a glance |
//! | `/budget`, `/budget.csv` | the PTBA: forecast vs achieved, as a chart, a table and CSV |
//! | `/links`, `/links/table` | the regions' links (the table alone, for the page's refresh) |
//! | `/cycles` | payment cycles across regions, by state, with control totals |
//! | `/rounds` | PNP rounds across regions, by state, with the regions' control totals and their reconciliation |
//! | `/live`, `/live/events` | live events (the page, and its server-sent events) |
//! | `/traces` | the traces of a household's, cycle's or round's recent actions |
//! | `/signin`, `/signout`, `/lang` | sign in and out, choose the language |
//! | `/assets/…` | the stylesheet, the script and the icon, compiled in |

mod auth;
mod layout;
mod pages;

use std::sync::Arc;

use axum::Router;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use jigi_auth::{LocalIssuer, Verifier};
use jigi_common::Region;

pub use auth::{LANG_COOKIE, SESSION_COOKIE};

use crate::links::LinkBoard;
use crate::live::LiveFeed;
use crate::metrics::ConsoleMetrics;
use crate::monitoring::MonitoringReader;

/// What every request handler shares.
#[derive(Clone)]
pub struct State {
    pub monitoring: MonitoringReader,
    pub verifier: Verifier,
    /// The local stack's issuer, for its sign-in by name.
    pub issuer: Option<Arc<LocalIssuer>>,
    pub board: LinkBoard,
    pub feed: LiveFeed,
    pub metrics: ConsoleMetrics,
    pub regions: Arc<Vec<Region>>,
    pub jaeger_url: Option<String>,
    /// The spans received over OTLP, when the console receives them.
    pub spans: Option<crate::spans::SpanStore>,
    pub secure_cookies: bool,
}

/// Every route of the console.
pub fn router(state: State) -> Router {
    Router::new()
        .route("/", get(pages::glance))
        .route("/region/{slug}", get(pages::region))
        .route("/budget", get(pages::budget))
        .route("/budget.csv", get(pages::budget_csv))
        .route("/links", get(pages::links))
        .route("/links/table", get(pages::links_table))
        .route("/cycles", get(pages::cycles))
        .route("/rounds", get(pages::rounds))
        .route("/live", get(pages::live))
        .route("/live/events", get(pages::live_events))
        .route("/traces", get(pages::traces))
        .route("/signin", get(auth::sign_in_page).post(auth::sign_in))
        .route("/signin/local", post(auth::sign_in_local))
        .route("/signout", post(auth::sign_out))
        .route("/lang", get(auth::choose_language))
        .route("/assets/console.css", get(css))
        .route("/assets/console.js", get(js))
        .route("/favicon.svg", get(favicon))
        .layer(axum::middleware::map_response(security_headers))
        // A page of figures shrinks to a quarter gzipped: what a slow link
        // feels most. Server-sent events are never compressed (tower-http's
        // default), so the live feed is not held back in a buffer.
        .layer(tower_http::compression::CompressionLayer::new())
        .with_state(state)
}

/// Headers every answer carries: no framing by other sites, no scripts or
/// styles but the console's own, no guessing of content types.
async fn security_headers(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; frame-ancestors 'none'; form-action 'self'",
        ),
    );
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    response
}

const CSS: &str = include_str!("../../assets/console.css");
const JS: &str = include_str!("../../assets/console.js");
const FAVICON: &str = include_str!("../../assets/favicon.svg");

/// Assets change only with the binary: browsers keep them a day (the
/// pages name them with the crate's version, so an upgrade is fetched anew).
fn asset(content_type: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "public, max-age=86400"),
        ],
        body,
    )
        .into_response()
}

async fn css() -> Response {
    asset("text/css; charset=utf-8", CSS)
}

async fn js() -> Response {
    asset("text/javascript; charset=utf-8", JS)
}

async fn favicon() -> Response {
    asset("image/svg+xml", FAVICON)
}

/// An HTML page with a status.
fn html(status: StatusCode, markup: maud::Markup) -> Response {
    (
        status,
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        markup.into_string(),
    )
        .into_response()
}
