//! Who is looking: operators sign in with a token of the programme's
//! identity provider (the same tokens and roles as the gRPC API), kept in
//! an HttpOnly, SameSite=Strict cookie and verified on every request, so an
//! expired or revoked-key token signs the operator out. Scope is enforced
//! here, on the server: a regional supervisor's request for another region
//! is refused before anything is read, and the monitoring, called with the
//! same token, would refuse it too.

use std::collections::BTreeSet;

use axum::Form;
use axum::extract::{FromRequestParts, Query, State as AxumState};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use jigi_auth::{Grant, Identity, Role, Scope};
use jigi_common::Region;
use maud::html;
use serde::Deserialize;

use super::layout::{self, Chrome, encode};
use super::{State, html};
use crate::domain::Lang;

/// The session cookie: the operator's token itself (the console keeps no sessions).
pub const SESSION_COOKIE: &str = "jigi_session";
/// The language cookie: `fr` or `en`.
pub const LANG_COOKIE: &str = "jigi_lang";

/// Roles that may open the console.
const CONSOLE_ROLES: [Role; 3] = [Role::NationalOperator, Role::RegionalSupervisor, Role::Auditor];

/// A signed-in operator.
pub struct Operator {
    pub identity: std::sync::Arc<Identity>,
    /// Their token, passed on to the monitoring.
    pub token: String,
    pub lang: Lang,
}

impl Operator {
    /// The regions this operator may see, among those the console shows.
    pub fn regions(&self, all: &[Region]) -> Vec<Region> {
        all.iter().copied().filter(|r| self.identity.scope.covers(*r)).collect()
    }

    pub fn is_national(&self) -> bool {
        self.identity.scope.is_national()
    }

    /// The page chrome for this operator.
    pub fn chrome(&self, page: &'static str, path: &str) -> Chrome {
        Chrome {
            lang: self.lang,
            page,
            path: path.to_owned(),
            who: Some(format!(
                "{} · {}",
                self.identity.subject,
                self.identity.scope.describe()
            )),
            national: self.is_national(),
        }
    }
}

/// The language of a request: its cookie, else French.
pub struct Language(pub Lang);

impl<S: Send + Sync> FromRequestParts<S> for Language {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Language(lang_of(&parts.headers)))
    }
}

pub fn lang_of(headers: &HeaderMap) -> Lang {
    cookie(headers, LANG_COOKIE)
        .map(|v| Lang::parse(&v))
        .unwrap_or_default()
}

/// The value of cookie `name`.
pub fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value.to_owned())
}

impl FromRequestParts<State> for Operator {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &State) -> Result<Self, Self::Rejection> {
        let lang = lang_of(&parts.headers);
        let Some(token) = cookie(&parts.headers, SESSION_COOKIE).filter(|t| !t.is_empty()) else {
            return Err(to_sign_in(parts));
        };
        let identity = match state.verifier.verify(&token) {
            Ok(identity) => identity,
            // Expired, or signed with a key no longer trusted: sign in again.
            Err(_) => return Err(to_sign_in(parts)),
        };
        if !identity.has_any(&CONSOLE_ROLES) {
            let l = lang.labels();
            let chrome = Chrome {
                lang,
                page: "",
                path: parts.uri.path().to_owned(),
                who: Some(identity.subject.clone()),
                national: false,
            };
            return Err(html(
                StatusCode::FORBIDDEN,
                layout::page(
                    &chrome,
                    l.forbidden,
                    html! { p { (l.forbidden) " — " (l.national_operator) ", " (l.regional_supervisor) ", " (l.auditor) "." } },
                ),
            ));
        }
        Ok(Operator { identity, token, lang })
    }
}

/// Sends the browser to the sign-in page, to come back here afterwards.
fn to_sign_in(parts: &Parts) -> Response {
    let back = parts
        .uri
        .path_and_query()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "/".into());
    Redirect::to(&format!("/signin?next={}", encode(&back))).into_response()
}

/// Where to go after signing in: a path of this site only (never `//host`
/// or a full URL: no open redirect).
fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(path) if path.starts_with('/') && !path.starts_with("//") && !path.contains('\\') => path.to_owned(),
        _ => "/".to_owned(),
    }
}

#[derive(Deserialize)]
pub struct NextQuery {
    next: Option<String>,
}

pub async fn sign_in_page(
    AxumState(state): AxumState<State>,
    Language(lang): Language,
    Query(query): Query<NextQuery>,
) -> Response {
    state.metrics.page("signin", 200);
    sign_in_form(&state, lang, &safe_next(query.next.as_deref()), None, StatusCode::OK)
}

fn sign_in_form(state: &State, lang: Lang, next: &str, error: Option<&str>, status: StatusCode) -> Response {
    let l = lang.labels();
    let chrome = Chrome {
        lang,
        page: "signin",
        path: format!("/signin?next={}", encode(next)),
        who: None,
        national: false,
    };
    let body = html! {
        @if let Some(error) = error {
            div.banner.error role="alert" id="signin-error" { (l.refused_token) " : " (error) }
        }
        form.card method="post" action="/signin" {
            input type="hidden" name="next" value=(next);
            label for="token" { (l.token) }
            textarea id="token" name="token" required autocomplete="off" spellcheck="false" aria-describedby="token-help" {}
            p.note id="token-help" { (l.token_help) }
            button.primary type="submit" id="signin-submit" { (l.sign_in) }
        }
        @if state.issuer.is_some() {
            form.card method="post" action="/signin/local" {
                h2 { (l.local_sign_in) }
                p.note { (l.local_sign_in_help) }
                input type="hidden" name="next" value=(next);
                label for="name" { (l.name) }
                input id="name" name="name" required maxlength="64" value="operateur";
                label for="role" { (l.role) }
                select id="role" name="role" {
                    option value="national_operator" { (l.national_operator) }
                    option value="regional_supervisor" { (l.regional_supervisor) }
                    option value="auditor" { (l.auditor) }
                }
                label for="region" { (l.region) " (" (l.regional_supervisor) ")" }
                select id="region" name="region" {
                    @for region in state.regions.iter() {
                        option value=(region.slug()) { (region.name()) }
                    }
                }
                p { button.primary type="submit" id="local-signin-submit" { (l.sign_in) } }
            }
        }
    };
    html(status, layout::page(&chrome, l.sign_in, body))
}

#[derive(Deserialize)]
pub struct SignInForm {
    token: String,
    next: Option<String>,
}

/// Checks the token now (a bad one is refused on the spot, not at the next
/// page) and keeps it in the session cookie until it expires.
pub async fn sign_in(
    AxumState(state): AxumState<State>,
    Language(lang): Language,
    Form(form): Form<SignInForm>,
) -> Response {
    let next = safe_next(form.next.as_deref());
    let token = form.token.trim();
    match state.verifier.verify(token) {
        Ok(identity) if identity.has_any(&CONSOLE_ROLES) => {
            state.metrics.sign_in(true);
            tracing::info!(subject = %identity.subject, scope = %identity.scope.describe(), "signed in to the console");
            signed_in(&state, token, &next)
        }
        Ok(_) => {
            state.metrics.sign_in(false);
            let l = lang.labels();
            sign_in_form(&state, lang, &next, Some(l.forbidden), StatusCode::FORBIDDEN)
        }
        Err(err) => {
            state.metrics.sign_in(false);
            sign_in_form(
                &state,
                lang,
                &next,
                Some(&err.public_reason()),
                StatusCode::UNAUTHORIZED,
            )
        }
    }
}

#[derive(Deserialize)]
pub struct LocalSignInForm {
    name: String,
    role: String,
    region: Option<String>,
    next: Option<String>,
}

/// The local stack's sign-in: the console issues the token with the
/// stack's own key (only when it was given one).
pub async fn sign_in_local(AxumState(state): AxumState<State>, Form(form): Form<LocalSignInForm>) -> Response {
    let Some(issuer) = state.issuer.clone() else {
        return (StatusCode::NOT_FOUND, "no local sign-in here").into_response();
    };
    let name = form.name.trim();
    if name.is_empty() || name.len() > 64 || !name.chars().all(|c| c.is_ascii_alphanumeric() || "._-".contains(c)) {
        return (
            StatusCode::BAD_REQUEST,
            "name: 1 to 64 letters, digits, '.', '_' or '-'",
        )
            .into_response();
    }
    let (role, scope) = match form.role.as_str() {
        "national_operator" => (Role::NationalOperator, Scope::National),
        "auditor" => (Role::Auditor, Scope::National),
        "regional_supervisor" => match form.region.as_deref().and_then(|r| r.parse::<Region>().ok()) {
            Some(region) => (Role::RegionalSupervisor, Scope::Regions(BTreeSet::from([region]))),
            None => return (StatusCode::BAD_REQUEST, "region: a region slug").into_response(),
        },
        _ => return (StatusCode::BAD_REQUEST, "role: unknown").into_response(),
    };
    let mut grant = Grant::new(name, &[role], scope);
    grant.lifetime = std::time::Duration::from_secs(8 * 3600);
    let token = issuer.issue(&grant);
    state.metrics.sign_in(true);
    signed_in(&state, &token, &safe_next(form.next.as_deref()))
}

fn signed_in(state: &State, token: &str, next: &str) -> Response {
    let secure = if state.secure_cookies { "; Secure" } else { "" };
    let cookie = format!("{SESSION_COOKIE}={token}; Path=/; HttpOnly; SameSite=Strict{secure}");
    let mut response = Redirect::to(next).into_response();
    if let Ok(value) = HeaderValue::from_str(&cookie) {
        response.headers_mut().insert(header::SET_COOKIE, value);
    }
    response
}

pub async fn sign_out(AxumState(state): AxumState<State>) -> Response {
    let secure = if state.secure_cookies { "; Secure" } else { "" };
    let mut response = Redirect::to("/signin").into_response();
    if let Ok(value) = HeaderValue::from_str(&format!(
        "{SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0{secure}"
    )) {
        response.headers_mut().insert(header::SET_COOKIE, value);
    }
    response
}

#[derive(Deserialize)]
pub struct LangQuery {
    to: String,
    next: Option<String>,
}

/// Switches the language and goes back to the page.
pub async fn choose_language(Query(query): Query<LangQuery>) -> Response {
    let lang = Lang::parse(&query.to);
    let mut response = Redirect::to(&safe_next(query.next.as_deref())).into_response();
    if let Ok(value) = HeaderValue::from_str(&format!(
        "{LANG_COOKIE}={}; Path=/; SameSite=Lax; Max-Age=31536000",
        lang.code()
    )) {
        response.headers_mut().insert(header::SET_COOKIE, value);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_paths_of_this_site_are_followed_after_sign_in() {
        assert_eq!(safe_next(Some("/budget?year=2018")), "/budget?year=2018");
        assert_eq!(safe_next(Some("//evil.example/")), "/");
        assert_eq!(safe_next(Some("https://evil.example/")), "/");
        assert_eq!(safe_next(Some("/\\evil.example")), "/");
        assert_eq!(safe_next(None), "/");
    }

    #[test]
    fn cookies_are_found_among_others() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::COOKIE,
            HeaderValue::from_static("a=1; jigi_lang=en; jigi_session=t.o.k"),
        );
        assert_eq!(cookie(&headers, SESSION_COOKIE).as_deref(), Some("t.o.k"));
        assert_eq!(lang_of(&headers), Lang::En);
        assert_eq!(cookie(&headers, "missing"), None);
    }
}
