//! The buyer pages: server-rendered HTML that works without JavaScript, in the buyer's language.
//!
//! - `/l/{code}`: a listing's order page (photo, price, stock, the order form) and its QR codes;
//! - `/o/{token}`: an order's status, reachable only through the buyer's capability link;
//! - `/f/{slug}`: a farm's active produce, and its live stream if one is on;
//! - `/live/{stream}`: a live stream with the featured product's card and the order sheet.
//!
//! Every value is escaped by maud. The pages load one CSS and one small JS file from `/static`,
//! so the Content-Security-Policy allows no inline script or style.

mod farm;
mod live;
pub(crate) mod format;
mod order;
mod status;
pub mod texts;

use std::sync::LazyLock;

use axum::Router;
use axum::extract::{FromRequestParts, Query};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use maud::{DOCTYPE, Markup, html};
use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::AppState;
use crate::marketplace::MarketError;
use texts::Lang;

const CSS: &str = include_str!("../../static/buyer.css");
const JS: &str = include_str!("../../static/buyer.js");
/// The app's own icon, from the one source image in `icons/`.
const ICON_SVG: &str = include_str!("../../../../icons/fieldcast.svg");
const ICON_PNG: &[u8] = include_bytes!("../../../../icons/32x32.png");
/// Content hashes in the asset URLs let browsers cache the files for a year.
static CSS_VERSION: LazyLock<String> = LazyLock::new(|| short_hash(CSS));
static JS_VERSION: LazyLock<String> = LazyLock::new(|| short_hash(JS));

fn short_hash(text: &str) -> String {
    Sha256::digest(text.as_bytes()).iter().take(6).map(|b| format!("{b:02x}")).collect()
}

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(home))
        .route("/l/{code}", get(order::page).post(order::submit))
        .route("/l/{code}/qr.svg", get(order::qr_svg))
        .route("/l/{code}/qr.png", get(order::qr_png))
        .route("/o/{token}", get(status::page))
        .route("/f/{slug}", get(farm::page))
        .route("/live/{id}", get(live::page))
        .route("/live/{id}/qr.svg", get(live::qr_svg))
        .route("/static/live.js", get(|| async { live::script() }))
        .route("/static/buyer.css", get(|| async { asset("text/css; charset=utf-8", CSS) }))
        .route("/static/buyer.js", get(|| async { asset("text/javascript; charset=utf-8", JS) }))
        .route("/favicon.svg", get(|| async { asset("image/svg+xml", ICON_SVG) }))
        .route("/favicon.ico", get(|| async { asset_bytes("image/png", ICON_PNG) }))
}

fn asset(content_type: &'static str, body: &'static str) -> Response {
    asset_bytes(content_type, body.as_bytes())
}

fn asset_bytes(content_type: &'static str, body: &'static [u8]) -> Response {
    ([(header::CONTENT_TYPE, content_type), (header::CACHE_CONTROL, "public, max-age=31536000, immutable")], body).into_response()
}

/// The page language: `?lang=` (remembered in a cookie), else the cookie, else `Accept-Language`.
pub struct PageLang {
    pub lang: Lang,
    /// Set when `?lang=` chose it, so the response stores the choice.
    chosen: bool,
}

#[derive(Deserialize)]
struct LangQuery {
    lang: Option<String>,
}

impl<S: Send + Sync> FromRequestParts<S> for PageLang {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let query = Query::<LangQuery>::from_request_parts(parts, state).await.ok().and_then(|q| q.0.lang);
        if let Some(lang) = query.as_deref().and_then(Lang::from_tag) {
            return Ok(PageLang { lang, chosen: true });
        }
        Ok(PageLang { lang: lang_from_headers(&parts.headers), chosen: false })
    }
}

impl PageLang {
    /// The language of a request that has no other extractor, e.g. in the not-found fallback.
    pub async fn from_request_parts_infallible(request: axum::extract::Request) -> PageLang {
        let (mut parts, _) = request.into_parts();
        match PageLang::from_request_parts(&mut parts, &()).await {
            Ok(lang) => lang,
            Err(never) => match never {},
        }
    }
}

/// A page's path parameter; one that is not valid text answers with the not-found page.
pub struct PagePath(pub String);

impl<S: Send + Sync> FromRequestParts<S> for PagePath {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Response> {
        match axum::extract::Path::<String>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path(value)) => Ok(PagePath(value)),
            Err(_) => {
                let lang = PageLang { lang: lang_from_headers(&parts.headers), chosen: false };
                Err(error_page(lang, &MarketError::NotFound).into_response())
            }
        }
    }
}

fn lang_from_headers(headers: &HeaderMap) -> Lang {
    let cookie = headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|pair| pair.trim().strip_prefix("lang="))
        .and_then(Lang::from_tag);
    cookie.unwrap_or_else(|| {
        Lang::negotiate(headers.get(header::ACCEPT_LANGUAGE).and_then(|v| v.to_str().ok()).unwrap_or(""))
    })
}

/// A whole HTML page with its status and headers.
pub struct Page {
    status: StatusCode,
    lang: PageLang,
    markup: Markup,
    /// Status pages are private: never cached by shared caches or the back-forward cache.
    private: bool,
    /// Shown inside the live page's order sheet: no site header or footer, and framable by this
    /// origin (and no other).
    embedded: bool,
    /// A Content-Security-Policy other than the default, for the page that needs one.
    csp: Option<&'static str>,
}

impl Page {
    fn new(lang: PageLang, title: &str, body: Markup) -> Page {
        Page::build(lang, title, body, false)
    }

    /// A page for the live page's order sheet when `embedded`, a normal page otherwise.
    fn build(lang: PageLang, title: &str, body: Markup, embedded: bool) -> Page {
        let markup = if embedded { bare_layout(lang.lang, title, body) } else { layout(lang.lang, title, body) };
        Page { status: StatusCode::OK, lang, markup, private: false, embedded, csp: None }
    }

    fn csp(mut self, csp: &'static str) -> Page {
        self.csp = Some(csp);
        self
    }

    fn status(mut self, status: StatusCode) -> Page {
        self.status = status;
        self
    }

    fn private(mut self) -> Page {
        self.private = true;
        self
    }
}

impl IntoResponse for Page {
    fn into_response(self) -> Response {
        let mut response = (self.status, [(header::CONTENT_TYPE, "text/html; charset=utf-8")], self.markup.into_string()).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(if self.private { "no-store" } else { "no-cache" }));
        headers.insert(header::VARY, HeaderValue::from_static("Accept-Language, Cookie"));
        if self.embedded {
            headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(EMBEDDED_CSP));
            headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("SAMEORIGIN"));
        } else if let Some(csp) = self.csp {
            headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(csp));
        }
        if self.lang.chosen {
            let cookie = format!("lang={}; Path=/; Max-Age=31536000; SameSite=Lax", self.lang.lang.tag());
            if let Ok(value) = HeaderValue::from_str(&cookie) {
                headers.insert(header::SET_COOKIE, value);
            }
        }
        response
    }
}

/// The default policy (see `api::security_headers`) made framable by this origin only.
const EMBEDDED_CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; \
     media-src 'self' blob:; form-action 'self'; base-uri 'none'; frame-ancestors 'self'";

/// Whether a page was asked for as the live page's order sheet (`?embed=1`).
#[derive(Deserialize, Default)]
pub struct EmbedQuery {
    embed: Option<String>,
}

impl EmbedQuery {
    pub fn embedded(&self) -> bool {
        self.embed.as_deref() == Some("1")
    }
}

/// The page inside the order sheet: the same document without the site's header and footer.
fn bare_layout(lang: Lang, title: &str, body: Markup) -> Markup {
    let t = lang.texts();
    html! {
        (DOCTYPE)
        html lang=(lang.tag()) {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                meta name="referrer" content="no-referrer";
                title { (title) " · " (t.marketplace) }
                link rel="stylesheet" href={ "/static/buyer.css?v=" (*CSS_VERSION) };
                script src={ "/static/buyer.js?v=" (*JS_VERSION) } defer {}
            }
            body.embedded { main { (body) } }
        }
    }
}

fn layout(lang: Lang, title: &str, body: Markup) -> Markup {
    let t = lang.texts();
    html! {
        (DOCTYPE)
        html lang=(lang.tag()) {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                meta name="referrer" content="no-referrer";
                title { (title) " · " (t.marketplace) }
                link rel="icon" href="/favicon.svg" type="image/svg+xml";
                link rel="stylesheet" href={ "/static/buyer.css?v=" (*CSS_VERSION) };
                script src={ "/static/buyer.js?v=" (*JS_VERSION) } defer {}
            }
            body {
                header.bar { span.brand { (t.marketplace) } }
                main { (body) }
                footer {
                    nav aria-label="Language" {
                        @for other in Lang::ALL {
                            @if other == lang {
                                span aria-current="true" { (other.name()) }
                            } @else {
                                a href={ "?lang=" (other.tag()) } hreflang=(other.tag()) lang=(other.tag()) { (other.name()) }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// The page for an error, in the buyer's language, with the right status.
pub fn error_page(lang: PageLang, error: &MarketError) -> Page {
    let t = lang.lang.texts();
    let (status, title, text) = match error {
        MarketError::NotFound => (StatusCode::NOT_FOUND, t.not_found_title, t.not_found_text),
        MarketError::Internal(cause) => {
            tracing::error!(%cause, "internal error on a buyer page");
            (StatusCode::INTERNAL_SERVER_ERROR, t.error_text, t.error_text)
        }
        _ => (StatusCode::BAD_REQUEST, t.error_text, t.bad_request_text),
    };
    Page::new(lang, title, html! { section.card { h1 { (title) } p { (text) } } }).status(status)
}

async fn home(lang: PageLang) -> Page {
    let t = lang.lang.texts();
    let text = t.home_text;
    let title = t.marketplace;
    Page::new(lang, title, html! { section.card { h1 { (title) } p { (text) } } })
}

