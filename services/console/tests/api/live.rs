//! The live feed: an event published to a region's stream reaches a
//! signed-in browser's server-sent events, filtered by the operator's
//! scope; the trace search finds the event's trace by what it is about.

use std::sync::atomic::Ordering;
use std::time::Duration;

use jigi_common::Region;

use crate::helpers::*;

/// Follows `/live/events` as `token` and collects its `data:` lines.
async fn follow(app: &TestApp, query: &str, token: &str) -> tokio::sync::mpsc::UnboundedReceiver<String> {
    let mut response = app
        .http
        .get(app.url(&format!("/live/events{query}")))
        .header("cookie", format!("jigi_session={token}"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["content-type"].to_str().unwrap(),
        "text/event-stream"
    );
    let (sender, receiver) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        let mut buffer = String::new();
        while let Ok(Some(chunk)) = response.chunk().await {
            buffer.push_str(&String::from_utf8_lossy(&chunk));
            while let Some(end) = buffer.find('\n') {
                let line: String = buffer.drain(..=end).collect();
                if let Some(data) = line.trim_end().strip_prefix("data: ") {
                    let _ = sender.send(data.to_owned());
                }
            }
        }
    });
    receiver
}

async fn next(receiver: &mut tokio::sync::mpsc::UnboundedReceiver<String>) -> serde_json::Value {
    let line = tokio::time::timeout(WAIT, receiver.recv())
        .await
        .expect("an event within the wait")
        .expect("the feed is open");
    serde_json::from_str(&line).unwrap()
}

#[tokio::test]
async fn an_event_published_reaches_the_live_feed_of_those_who_may_see_it() {
    let app = spawn_app().await;
    let live = app.console.live.clone();
    // The console follows the national stream once the monitoring made it.
    eventually(WAIT, "the live feed to follow the national stream", || async {
        (live.subscriptions.load(Ordering::Relaxed) > 0).then_some(())
    })
    .await;
    let mut national = follow(&app, "", &app.national_token()).await;
    let mut supervisor = follow(&app, "", &app.supervisor_token(Region::Sikasso)).await;
    let mut filtered = follow(&app, "?region=mopti", &app.national_token()).await;

    let at = chrono::Utc::now();
    let mopti = app
        .publish(
            Region::Mopti,
            "mopti-h1",
            &registered_event("mopti-h1", "mopti.mopti.sio", "2018-11-20"),
            at,
        )
        .await;
    eventually(WAIT, "the Mopti event in the console's feed", || async {
        (live.received.load(Ordering::Relaxed) >= 1).then_some(())
    })
    .await;
    let sikasso = app
        .publish(
            Region::Sikasso,
            "sikasso-h1",
            &registered_event("sikasso-h1", "sikasso.sikasso.finkolo", "2018-11-15"),
            at,
        )
        .await;

    let first = next(&mut national).await;
    assert_eq!(first["id"], mopti.id.as_str());
    assert_eq!(first["region"], "mopti");
    assert_eq!(first["kind"], "jigi.registry.household.registered.v1");
    assert_eq!(first["about"], "mopti-h1");
    assert_eq!(next(&mut national).await["id"], sikasso.id.as_str());
    // The Sikasso supervisor's feed skips Mopti's event.
    assert_eq!(next(&mut supervisor).await["id"], sikasso.id.as_str());
    // The national operator's feed filtered to Mopti has Mopti's only.
    assert_eq!(next(&mut filtered).await["id"], mopti.id.as_str());
    assert!(
        tokio::time::timeout(Duration::from_millis(300), filtered.recv())
            .await
            .is_err(),
        "Sikasso's event is filtered out"
    );

    // The live page lists the recent events too (without script).
    let page = app.get("/live", &app.national_token()).await;
    assert!(page.body.contains("mopti-h1") && page.body.contains("sikasso-h1"));
    let page = app.get("/live", &app.supervisor_token(Region::Sikasso)).await;
    assert!(page.body.contains("sikasso-h1") && !page.body.contains("mopti-h1"));

    // The trace search finds the household's recent actions.
    let page = app.get("/traces?id=sikasso-h1", &app.national_token()).await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("id=\"traces\""), "{}", page.body);
    assert!(page.body.contains("jigi.registry.household.registered.v1"));
    let page = app
        .get("/traces?id=mopti-h1", &app.supervisor_token(Region::Sikasso))
        .await;
    assert!(
        page.body.contains("id=\"no-trace\""),
        "another region's actions are not shown"
    );
}
