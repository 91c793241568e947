//! The page shell: language, skip link, navigation, who is signed in.

use maud::{DOCTYPE, Markup, html};

use crate::domain::Lang;

/// What the shell needs to know about the page and the operator.
pub struct Chrome {
    pub lang: Lang,
    /// The page's key, marking the current navigation entry.
    pub page: &'static str,
    /// The page's own path and query (to come back after a language switch).
    pub path: String,
    /// Who is signed in (`None` on the sign-in page).
    pub who: Option<String>,
    /// National scope: the national pages are in the navigation.
    pub national: bool,
}

/// Names the assets with the crate's version, so an upgrade is fetched anew
/// despite their caching.
const VERSION: &str = env!("CARGO_PKG_VERSION");

pub fn page(chrome: &Chrome, title: &str, body: Markup) -> Markup {
    let l = chrome.lang.labels();
    let other = match chrome.lang {
        Lang::Fr => Lang::En,
        Lang::En => Lang::Fr,
    };
    let mut entries: Vec<(&str, &str, &str)> = Vec::new();
    if chrome.who.is_some() {
        entries.push(("glance", "/", l.glance));
        if chrome.national {
            entries.push(("budget", "/budget", l.budget));
        }
        entries.push(("links", "/links", l.links));
        entries.push(("cycles", "/cycles", l.cycles));
        entries.push(("rounds", "/rounds", l.rounds));
        entries.push(("live", "/live", l.live));
        entries.push(("traces", "/traces", l.traces));
    }
    html! {
        (DOCTYPE)
        html lang=(chrome.lang.code()) {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " — Jigi" }
                link rel="icon" href="/favicon.svg" type="image/svg+xml";
                link rel="stylesheet" href={ "/assets/console.css?v=" (VERSION) };
                script src={ "/assets/console.js?v=" (VERSION) } defer {}
            }
            body {
                a.skip href="#main" { (l.skip) }
                header {
                    a.brand href="/" { "Jigi · " (l.title.split(" — ").nth(1).unwrap_or(l.title)) }
                    @if !entries.is_empty() {
                        nav aria-label=(l.nav) {
                            ul {
                                @for (key, href, label) in &entries {
                                    li {
                                        @if *key == chrome.page {
                                            a href=(href) aria-current="page" { (label) }
                                        } @else {
                                            a href=(href) { (label) }
                                        }
                                    }
                                }
                            }
                        }
                    }
                    div.who {
                        a href={ "/lang?to=" (other.code()) "&next=" (encode(&chrome.path)) } lang=(other.code()) id="lang-switch" {
                            (l.other_language)
                        }
                        @if let Some(who) = &chrome.who {
                            span id="who" { (l.signed_in_as) " : " (who) }
                            form method="post" action="/signout" {
                                button type="submit" { (l.sign_out) }
                            }
                        }
                    }
                }
                main id="main" tabindex="-1" {
                    h1 { (title) }
                    (body)
                }
            }
        }
    }
}

/// Percent-encodes a query value.
pub fn encode(text: &str) -> String {
    let mut out = String::new();
    for byte in text.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => out.push(byte as char),
            _ => out.push_str(&format!("%{byte:02X}")),
        }
    }
    out
}
