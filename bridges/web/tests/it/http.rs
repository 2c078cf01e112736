//! The widget's HTTP side: the script, its stylesheet and theme, the demo
//! page, origin checks on every call, and a lint of the script itself
//! (text only through textContent, no eval).

use std::sync::Arc;

use handoff_bridge_api::MemoryState;
use handoff_web::WIDGET_JS;

use crate::common::{self, Running, SITE};

async fn get(url: &str, origin: Option<&str>) -> reqwest::Response {
    let mut req = reqwest::Client::new().get(url);
    if let Some(o) = origin {
        req = req.header("Origin", o);
    }
    req.send().await.expect("an answer")
}

#[tokio::test]
async fn every_http_call_checks_the_origin() {
    let run = Running::start(common::settings(), Arc::new(MemoryState::default())).await;
    for path in ["/widget.js", "/widget.css", "/widget/settings", "/demo"] {
        let r = get(&run.url(path), Some("https://evil.test")).await;
        assert_eq!(r.status().as_u16(), 403, "{path}");
        let r = get(&run.url(path), Some(SITE)).await;
        assert_eq!(r.status().as_u16(), 200, "{path}");
        assert_eq!(
            r.headers()["access-control-allow-origin"].to_str().unwrap(),
            SITE
        );
        // A plain <script src> load sends no Origin at all.
        assert_eq!(
            get(&run.url(path), None).await.status().as_u16(),
            200,
            "{path}"
        );
    }
}

#[tokio::test]
async fn the_demo_page_embeds_the_widget_with_one_tag_under_a_strict_csp() {
    let mut s = common::settings();
    s.theme.title = "Acme help".into();
    s.theme.color = "#ff0000".into();
    let run = Running::start(s, Arc::new(MemoryState::default())).await;
    let r = get(&run.url("/demo"), None).await;
    let csp = r.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        csp.contains("default-src 'self'") && !csp.contains("unsafe"),
        "{csp}"
    );
    let page = r.text().await.unwrap();
    let tag = format!("<script src=\"http://{}/widget.js\"", run.addr);
    assert_eq!(page.matches("<script").count(), 1, "{page}");
    assert!(page.contains(&tag), "{page}");
    let theme = get(&run.url("/widget/settings"), None)
        .await
        .text()
        .await
        .unwrap();
    let theme: serde_json::Value = serde_json::from_str(&theme).expect("JSON");
    assert_eq!(theme["title"], "Acme help");
    assert_eq!(theme["color"], "#ff0000");
    assert_eq!(theme["position"], "right");
    let js = get(&run.url("/widget.js"), None).await;
    assert!(js.headers()["content-type"]
        .to_str()
        .unwrap()
        .contains("javascript"));
    assert_eq!(js.text().await.unwrap(), WIDGET_JS);
}

#[test]
fn the_widget_renders_text_only_and_runs_under_a_strict_csp() {
    for banned in [
        "innerHTML",
        "outerHTML",
        "insertAdjacentHTML",
        "document.write",
        "eval(",
        "new Function",
        "setAttribute(\"style\"",
        "javascript:",
    ] {
        assert!(!WIDGET_JS.contains(banned), "widget.js uses {banned}");
    }
    assert!(WIDGET_JS.contains("textContent"));
    assert!(WIDGET_JS.contains("createTextNode"));
    // Links are made only for http(s) and open without the opener.
    assert!(WIDGET_JS.contains("u.protocol === \"http:\" || u.protocol === \"https:\""));
    assert!(WIDGET_JS.contains("noopener noreferrer"));
    // Accessible: labelled buttons, a live log, focus moved on open/close.
    for needle in [
        "aria-label",
        "aria-live",
        "aria-expanded",
        "input.focus()",
        "bubble.focus()",
    ] {
        assert!(WIDGET_JS.contains(needle), "widget.js lacks {needle}");
    }
}
