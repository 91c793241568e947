//! Who may see what: no session is sent to sign in, a bad token is refused
//! at sign-in, a regional supervisor sees their region only — enforced by
//! the console before anything is read.

use jigi_auth::{LocalIssuer, Role};
use jigi_common::Region;

use crate::helpers::*;

#[tokio::test]
async fn without_a_session_every_page_sends_to_sign_in_and_back() {
    let app = spawn_app().await;
    for path in [
        "/",
        "/budget?year=2018",
        "/links",
        "/cycles",
        "/rounds",
        "/live",
        "/traces",
        "/region/sikasso",
    ] {
        let page = app.get(path, "").await;
        assert_eq!(page.status, 303, "{path}");
        let location = page.location.unwrap();
        assert!(
            location.starts_with("/signin?next=%2F") || location.starts_with("/signin?next=/"),
            "{location}"
        );
    }
    let signin = app.get("/signin?next=/budget", "").await;
    assert_eq!(signin.status, 200);
    assert!(signin.body.contains("name=\"token\""));
}

#[tokio::test]
async fn signing_in_checks_the_token_and_sets_an_http_only_strict_cookie() {
    let app = spawn_app().await;
    let token = app.national_token();
    let answer = app
        .http
        .post(app.url("/signin"))
        .form(&[("token", token.as_str()), ("next", "/budget?year=2018")])
        .send()
        .await
        .unwrap();
    let signed = page(answer).await;
    assert_eq!(signed.status, 303);
    assert_eq!(signed.location.as_deref(), Some("/budget?year=2018"));
    let cookie = signed.set_cookie.unwrap();
    assert!(cookie.starts_with(&format!("jigi_session={token};")));
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );

    // A token from another issuer, or garbage, is refused on the spot.
    let stranger = LocalIssuer::generate().issue(&jigi_auth::Grant::new(
        "intrus",
        &[Role::NationalOperator],
        jigi_auth::Scope::National,
    ));
    for bad in [stranger.as_str(), "not-a-token"] {
        let answer = app
            .http
            .post(app.url("/signin"))
            .form(&[("token", bad)])
            .send()
            .await
            .unwrap();
        let refused = page(answer).await;
        assert_eq!(refused.status, 401);
        assert!(refused.set_cookie.is_none());
        assert!(refused.body.contains("id=\"signin-error\""));
    }
    // A field agent has no business in the console.
    let agent = app.access.token("f.coulibaly", &[Role::FieldAgent], Region::Sikasso);
    let answer = app
        .http
        .post(app.url("/signin"))
        .form(&[("token", agent.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(page(answer).await.status, 403);
    // And a forged cookie gets no page either.
    assert_eq!(app.get("/", &stranger).await.status, 303);
}

#[tokio::test]
async fn a_regional_supervisor_sees_their_region_only() {
    let app = spawn_app().await;
    app.pay_quarter(Region::Sikasso, "2018Q4", "2018-11-15", 3, 2, 1).await;
    app.pay_quarter(Region::Mopti, "2018Q4", "2018-11-20", 2, 2, 0).await;
    app.feed_round(Region::Sikasso, "sikasso-2018-r4", "2018-11-05", 2, 1, true)
        .await;
    app.feed_round(Region::Mopti, "mopti-2018-r4", "2018-11-12", 2, 0, false)
        .await;
    app.settled().await;
    let token = app.supervisor_token(Region::Sikasso);

    // Their glance is their region's.
    let home = app.get("/?period=2018Q4", &token).await;
    assert_eq!(home.status, 303);
    assert_eq!(home.location.as_deref(), Some("/region/sikasso"));
    let own = app.get("/region/sikasso?period=2018Q4", &token).await;
    assert_eq!(own.status, 200, "{}", own.body);
    assert_eq!(value_after(&own.body, "id=\"kpis-sikasso\"", "households_paid"), "2");

    // Another region, the national budget: refused.
    let other = app.get("/region/mopti?period=2018Q4", &token).await;
    assert_eq!(other.status, 403);
    assert!(other.body.contains("id=\"forbidden\""));
    assert!(!other.body.contains("data-k="), "no figure of Mopti is shown");
    assert_eq!(app.get("/budget", &token).await.status, 403);
    assert_eq!(app.get("/budget.csv?year=2018", &token).await.status, 403);

    // Lists show their region's rows only.
    let cycles = app.get("/cycles", &token).await;
    assert_eq!(cycles.status, 200, "{}", cycles.body);
    assert!(cycles.body.contains("data-cycle=\"sikasso-2018Q4\""));
    assert!(!cycles.body.contains("mopti-2018Q4"));
    let rounds = app.get("/rounds", &token).await;
    assert_eq!(rounds.status, 200, "{}", rounds.body);
    assert!(rounds.body.contains("data-round=\"sikasso-2018-r4\""));
    assert!(!rounds.body.contains("mopti-2018-r4"));
    let links = app.get("/links/table", &token).await;
    assert!(links.body.contains("data-region=\"sikasso\""));
    assert!(!links.body.contains("data-region=\"mopti\""));
    // The national pages are not in their navigation.
    assert!(!own.body.contains("href=\"/budget\""));
}
