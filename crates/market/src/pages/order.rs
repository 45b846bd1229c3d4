//! A listing's order page and its form: the page buyers reach from an order link or a QR code.

use std::time::Instant;

use axum::Form;
use axum::extract::rejection::FormRejection;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use domain::error::{Error as DomainError, Field, FieldError};
use domain::ids::{PickupPointId, StreamId};
use domain::listing::ListingStatus;
use domain::order::{Channel, PaymentMethod};
use domain::quantity::Quantity;
use maud::{Markup, html};
use serde::Deserialize;
use uuid::Uuid;

use super::texts::Texts;
use super::{Page, PageLang, PagePath, error_page, format};
use crate::AppState;
use crate::api::extract::ClientIp;
use crate::marketplace::{BuyerOrder, FulfilmentChoice, MarketError};
use crate::storage::{ListingRecord, Member, PickupPoint};

/// The most quantities offered in the form's list.
const MAX_CHOICES: i64 = 30;

/// What the order form posts. Everything is text here; the marketplace parses and checks it.
#[derive(Debug, Default, Deserialize)]
pub struct OrderForm {
    #[serde(default)]
    idempotency_key: String,
    #[serde(default)]
    quantity: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    phone: String,
    /// `pickup:<id>` or `delivery`.
    #[serde(default)]
    fulfilment: String,
    #[serde(default)]
    address: String,
    #[serde(default)]
    payment_method: String,
    /// `live` when the form was opened from a live stream's card.
    #[serde(default)]
    channel: String,
    /// The stream's id, when opened from its card.
    #[serde(default)]
    stream: String,
    /// `1` inside the live page's order sheet.
    #[serde(default)]
    embed: String,
    #[serde(default)]
    note: String,
}

struct Context {
    record: ListingRecord,
    farmer: Member,
    points: Vec<PickupPoint>,
}

async fn context(state: &AppState, code: &str) -> Result<Context, MarketError> {
    let record = state.market().public_listing(code).await?;
    let farmer = state.market().member(record.farmer_id).await?;
    let points = state.market().pickup_points(record.coop_id).await?.into_iter().filter(|p| p.active).collect();
    Ok(Context { record, farmer, points })
}

#[derive(Deserialize)]
pub struct PageQuery {
    /// `live` when opened from the live product card.
    via: Option<String>,
    /// The stream whose card it was.
    stream: Option<String>,
    /// `1` inside the live page's order sheet.
    embed: Option<String>,
}

pub async fn page(
    State(state): State<AppState>,
    lang: PageLang,
    PagePath(code): PagePath,
    query: Result<axum::extract::Query<PageQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    match context(&state, &code).await {
        Ok(context) => {
            let query = query.ok();
            let live = query.as_ref().is_some_and(|q| q.via.as_deref() == Some("live"));
            let embed = query.as_ref().is_some_and(|q| q.embed.as_deref() == Some("1"));
            let channel = if live { "live" } else { "order_link" };
            // Only a well-formed id is carried on; the order checks that the stream shows this product.
            let stream = query.as_ref().and_then(|q| q.stream.as_deref()).filter(|_| live).and_then(StreamId::parse);
            let form = OrderForm {
                idempotency_key: Uuid::new_v4().to_string(),
                channel: channel.into(),
                stream: stream.map(|id| id.to_string()).unwrap_or_default(),
                embed: if embed { "1".into() } else { String::new() },
                ..OrderForm::default()
            };
            render(&state, lang, &context, &form, &[]).into_response()
        }
        Err(error) => error_page(lang, &error).into_response(),
    }
}

pub async fn submit(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    lang: PageLang,
    PagePath(code): PagePath,
    form: Result<Form<OrderForm>, FormRejection>,
) -> Response {
    let context = match context(&state, &code).await {
        Ok(context) => context,
        Err(error) => return error_page(lang, &error).into_response(),
    };
    let Ok(Form(form)) = form else {
        return error_page(lang, &MarketError::Invalid(Vec::new())).into_response();
    };
    if let Err(wait) = state.order_limiter().check(ip, Instant::now()) {
        let text = lang.lang.texts().too_many_text;
        let mut response = Page::new(lang, text, html! { section.card { p { (text) } } }).status(StatusCode::TOO_MANY_REQUESTS).into_response();
        response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(wait.as_secs().max(1)));
        return response;
    }
    let order = match buyer_order(&context, &form) {
        Ok(order) => order,
        Err(problems) => return render(&state, lang, &context, &form, &problems).status(StatusCode::UNPROCESSABLE_ENTITY).into_response(),
    };
    match crate::api::orders::place_counted(&state, &form.idempotency_key, order).await {
        Ok(placed) => {
            let embed = if form.embed == "1" { "?embed=1" } else { "" };
            Redirect::to(&format!("/o/{}{embed}", placed.status_token)).into_response()
        }
        Err(MarketError::Invalid(problems)) => {
            render(&state, lang, &context, &form, &problems).status(StatusCode::UNPROCESSABLE_ENTITY).into_response()
        }
        Err(MarketError::Refused(problems)) => {
            // The stock moved under the buyer: show the page as it is now, with the reason.
            let fresh = match super::order::context(&state, &code).await {
                Ok(fresh) => fresh,
                Err(error) => return error_page(lang, &error).into_response(),
            };
            render(&state, lang, &fresh, &form, &problems).status(StatusCode::CONFLICT).into_response()
        }
        Err(error) => error_page(lang, &error).into_response(),
    }
}

/// Reads the form's choices; the rest (quantity, name, phone, stock) the marketplace checks.
fn buyer_order(context: &Context, form: &OrderForm) -> Result<BuyerOrder, Vec<FieldError>> {
    let mut problems = Vec::new();
    let fulfilment = match form.fulfilment.as_str() {
        "delivery" => Some(FulfilmentChoice::Delivery(form.address.clone())),
        other => match other.strip_prefix("pickup:").and_then(PickupPointId::parse) {
            Some(point) => Some(FulfilmentChoice::Pickup(point)),
            None => {
                problems.push(FieldError::new(Field::PickupPoint, DomainError::Empty));
                None
            }
        },
    };
    let payment_method = match form.payment_method.as_str() {
        "cash_at_pickup" => Some(PaymentMethod::CashAtPickup),
        "cash_on_delivery" => Some(PaymentMethod::CashOnDelivery),
        "bank_transfer" => Some(PaymentMethod::BankTransfer),
        _ => {
            problems.push(FieldError::new(Field::PaymentMethod, DomainError::Empty));
            None
        }
    };
    let stream_id = match form.stream.as_str() {
        "" => None,
        text => {
            let id = StreamId::parse(text);
            if id.is_none() {
                problems.push(FieldError::new(Field::Listings, DomainError::NotInStream));
            }
            id
        }
    };
    let (Some(fulfilment), Some(payment_method)) = (fulfilment, payment_method) else { return Err(problems) };
    if !problems.is_empty() {
        return Err(problems);
    }
    Ok(BuyerOrder {
        listing_id: context.record.listing.id,
        quantity: form.quantity.clone(),
        name: form.name.clone(),
        phone: form.phone.clone(),
        fulfilment,
        payment_method,
        channel: if form.channel == "live" { Channel::Live } else { Channel::OrderLink },
        note: form.note.clone(),
        stream_id,
    })
}

/// The message for a refused field, in the page's language.
fn message(t: &Texts, problem: &FieldError) -> &'static str {
    match (problem.field, problem.error) {
        (_, DomainError::Empty) if problem.field == Field::PickupPoint => t.errors.pickup_point,
        (_, DomainError::Empty) => t.errors.required,
        (_, DomainError::TooLong { .. }) => t.errors.too_long,
        (Field::BuyerPhone, _) => t.errors.invalid_phone,
        (_, DomainError::InsufficientStock) => t.errors.insufficient_stock,
        (_, DomainError::SoldOut) => t.sold_out,
        (_, DomainError::NotForSale) => t.not_for_sale,
        (Field::Quantity, _) => t.errors.quantity,
        (Field::PaymentMethod, _) => t.errors.payment_method,
        _ => t.errors.generic,
    }
}

/// The quantities the form offers: from the minimum, in steps, up to the stock and the maximum.
fn choices(record: &ListingRecord) -> Vec<Quantity> {
    let details = &record.listing.details;
    let rules = details.rules;
    let top = rules.maximum.map_or(details.stock, |max| max.min(details.stock));
    let mut out = Vec::new();
    let mut quantity = rules.minimum;
    while quantity <= top && (out.len() as i64) < MAX_CHOICES {
        out.push(quantity);
        match quantity.checked_add(rules.step) {
            Ok(next) => quantity = next,
            Err(_) => break,
        }
    }
    out
}

fn render(state: &AppState, lang: PageLang, context: &Context, form: &OrderForm, problems: &[FieldError]) -> Page {
    let l = lang.lang;
    let t = l.texts();
    let listing = &context.record.listing;
    let details = &listing.details;
    let problem = |field: Field| problems.iter().find(|p| p.field == field).map(|p| message(t, p));
    let stock_problem = problems.iter().find(|p| matches!(p.error, DomainError::SoldOut | DomainError::NotForSale));
    let on_sale = listing.status == ListingStatus::Active && stock_problem.is_none();
    let options = choices(&context.record);
    let link = format!("{}/l/{}", state.public_url(), context.record.code);
    let farm_link = context.farmer.farm_slug.as_ref().map(|slug| format!("/f/{slug}"));
    let title = details.title.clone();
    let embedded = form.embed == "1";
    let body = html! {
        article.card.listing {
            @if let Some(photo) = listing.photos.first() {
                img.photo src={ "/photos/" (photo.sha256) ".jpg" } alt=(details.title) width="1280" height="960";
            }
            h1 { (details.title) }
            p.farm {
                (t.from_farm) " "
                @if let Some(href) = &farm_link { a href=(href) { (context.farmer.name) } } @else { (context.farmer.name) }
            }
            p.price { (format::money(details.price, l)) " " small { "/ " (t.unit(details.unit)) } }
            @if on_sale {
                p.stock { (t.left.replace("{}", &format::quantity(details.stock, details.unit, l))) }
            } @else {
                p.banner.sold-out role="status" {
                    strong { (if listing.status == ListingStatus::SoldOut || stock_problem.is_some_and(|p| p.error == DomainError::SoldOut) { t.sold_out } else { t.not_for_sale }) }
                    " " (t.sold_out_hint)
                }
            }
            @if !details.description.is_empty() { p.description { (details.description) } }
        }
        @if on_sale && !options.is_empty() {
            form.card.order method="post" action={ "/l/" (context.record.code) } novalidate {
                @if !problems.is_empty() { p.banner.error role="alert" { (t.fix_below) } }
                input type="hidden" name="idempotency_key" value=(form.idempotency_key);
                input type="hidden" name="channel" value=(form.channel);
                @if !form.stream.is_empty() { input type="hidden" name="stream" value=(form.stream); }
                @if embedded { input type="hidden" name="embed" value="1"; }
                (field(t.quantity, "quantity", problem(Field::Quantity), html! {
                    select id="quantity" name="quantity" {
                        @for quantity in &options {
                            @let value = quantity.to_decimal_string();
                            @let total = details.price.times(*quantity).map(|m| format::money(m, l)).unwrap_or_default();
                            option value=(value) selected[form.quantity == value] {
                                (format::quantity(*quantity, details.unit, l)) " · " (total)
                            }
                        }
                    }
                }))
                (field(t.your_name, "name", problem(Field::BuyerName), html! {
                    input id="name" name="name" value=(form.name) autocomplete="name" required maxlength="80";
                }))
                (field(t.your_phone, "phone", problem(Field::BuyerPhone), html! {
                    input id="phone" name="phone" type="tel" value=(form.phone) autocomplete="tel" inputmode="tel" required maxlength="30";
                }))
                fieldset.choices {
                    legend { (t.how_to_receive) }
                    @if let Some(text) = problem(Field::PickupPoint) { p.field-error role="alert" { (text) } }
                    @for (i, point) in context.points.iter().enumerate() {
                        @let value = format!("pickup:{}", point.id);
                        @let checked = form.fulfilment == value || (form.fulfilment.is_empty() && i == 0);
                        label.choice {
                            input type="radio" name="fulfilment" value=(value) checked[checked];
                            span { (t.pickup_at) " " strong { (point.name) } br; small { (point.address) } }
                        }
                    }
                    label.choice {
                        input id="delivery" type="radio" name="fulfilment" value="delivery" checked[form.fulfilment == "delivery" || context.points.is_empty() && form.fulfilment.is_empty()];
                        span { (t.delivery) }
                    }
                    (field(t.address, "address", problem(Field::Address), html! {
                        textarea id="address" name="address" rows="2" maxlength="300" autocomplete="street-address" { (form.address) }
                    }))
                }
                fieldset.choices {
                    legend { (t.payment) }
                    @if let Some(text) = problem(Field::PaymentMethod) { p.field-error role="alert" { (text) } }
                    @for method in [PaymentMethod::CashAtPickup, PaymentMethod::CashOnDelivery, PaymentMethod::BankTransfer] {
                        @let value = sqlite_rows::code(&method);
                        @let checked = form.payment_method == value || (form.payment_method.is_empty() && method == PaymentMethod::CashAtPickup);
                        label.choice {
                            input type="radio" name="payment_method" value=(value) checked[checked] data-fits=(fits(method));
                            span { (t.payment(method)) }
                        }
                    }
                }
                (field(&format!("{} ({})", t.note, t.optional), "note", problem(Field::Note), html! {
                    textarea id="note" name="note" rows="2" maxlength="500" { (form.note) }
                }))
                button.primary type="submit" { (t.place_order) }
                p.hint { (t.total_note) }
            }
        }
        @if !embedded {
            section.card.share {
                h2 { (t.share) }
                img.qr src={ "/l/" (context.record.code) "/qr.svg" } alt="QR" width="160" height="160";
                p { a href=(link) { (link) } }
            }
        }
    };
    Page::build(lang, &title, body, embedded)
}

/// Which fulfilment a payment method fits, for the script that greys out the others.
fn fits(method: PaymentMethod) -> &'static str {
    match method {
        PaymentMethod::CashAtPickup => "pickup",
        PaymentMethod::CashOnDelivery => "delivery",
        PaymentMethod::BankTransfer => "any",
    }
}

fn field(label: &str, id: &str, problem: Option<&str>, control: Markup) -> Markup {
    html! {
        div.field.invalid[problem.is_some()] {
            label for=(id) { (label) }
            (control)
            @if let Some(text) = problem { p.field-error id={ "error-" (id) } role="alert" { (text) } }
        }
    }
}

pub async fn qr_svg(State(state): State<AppState>, lang: PageLang, PagePath(code): PagePath) -> Response {
    match state.market().public_listing(&code).await {
        Ok(record) => {
            let svg = crate::qr::svg(&format!("{}/l/{}", state.public_url(), record.code));
            ([(header::CONTENT_TYPE, "image/svg+xml"), (header::CACHE_CONTROL, "public, max-age=86400")], svg).into_response()
        }
        Err(error) => error_page(lang, &error).into_response(),
    }
}

pub async fn qr_png(State(state): State<AppState>, lang: PageLang, PagePath(code): PagePath) -> Response {
    match state.market().public_listing(&code).await {
        Ok(record) => {
            let png = crate::qr::png(&format!("{}/l/{}", state.public_url(), record.code));
            ([(header::CONTENT_TYPE, "image/png"), (header::CACHE_CONTROL, "public, max-age=86400")], png).into_response()
        }
        Err(error) => error_page(lang, &error).into_response(),
    }
}

