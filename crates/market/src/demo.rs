//! `serve --demo`: a co-op ready to try. Zhang, a corn farmer in the co-op "Sunny Valley", sells
//! corn by the jin, eggs by the dozen and peaches by the box, collected at the village square.
//!
//! The first start seeds it; later starts keep the data and only issue fresh pairing codes and
//! tokens. Everything a person needs to try it goes into `demo.json` in the data directory.

use std::path::Path;

use anyhow::Context;
use domain::access::{Actor, Role};
use domain::ids::{CoopId, ListingId, MemberId, PickupPointId};
use domain::listing::ListingInput;
use domain::money::Currency;
use serde::{Deserialize, Serialize};

use crate::AppState;
use crate::marketplace::{IssuedCode, MarketError};

pub const FILE: &str = "demo.json";

/// The contents of `demo.json`.
#[derive(Debug, Serialize, Deserialize)]
pub struct Demo {
    pub server: String,
    pub coop: Named<CoopId>,
    pub admin: Person,
    pub farmer: Person,
    pub pickup_points: Vec<Named<PickupPointId>>,
    pub listings: Vec<DemoListing>,
    pub notes: Vec<String>,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct Named<Id> {
    pub id: Id,
    pub name: String,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct Person {
    pub member_id: MemberId,
    pub name: String,
    /// For pairing the app: 8 digits, once, within 15 minutes of the server start.
    pub pairing_code: String,
    /// A device token already paired, for scripts: `Authorization: Bearer <token>`.
    pub token: String,
    pub farm_url: Option<String>,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct DemoListing {
    pub id: ListingId,
    pub title: String,
    pub order_link: String,
    pub qr_svg: String,
    pub qr_png: String,
}

/// Seeds the demo co-op (or finds it from an earlier start) and writes `demo.json`.
pub async fn prepare(state: &AppState, data_dir: &Path) -> anyhow::Result<Demo> {
    let path = data_dir.join(FILE);
    let earlier: Option<Demo> = std::fs::read(&path).ok().and_then(|bytes| serde_json::from_slice(&bytes).ok());
    let (coop_id, admin_id, farmer_id) = match earlier {
        Some(demo) if state.market().member(demo.farmer.member_id).await.is_ok() => {
            (demo.coop.id, demo.admin.member_id, demo.farmer.member_id)
        }
        _ => seed(state).await?,
    };
    let market = state.market();
    let farmer = market.member(farmer_id).await.map_err(api_error)?;
    let admin = market.member(admin_id).await.map_err(api_error)?;
    let farmer_actor = Actor { member_id: farmer.id, coop_id, role: Role::Farmer };
    let admin_actor = Actor { member_id: admin.id, coop_id, role: Role::Admin };
    let coop = market.coop(&admin_actor).await.map_err(api_error)?;
    let points = market.pickup_points(coop_id).await.map_err(api_error)?;
    let listings = market.listings_for(&farmer_actor, None, None).await.map_err(api_error)?;
    let public = state.public_url();
    let demo = Demo {
        server: public.to_owned(),
        coop: Named { id: coop.id, name: coop.name },
        admin: person(state, admin.id, &admin.name, None).await?,
        farmer: person(state, farmer.id, &farmer.name, farmer.farm_slug.map(|slug| format!("{public}/f/{slug}"))).await?,
        pickup_points: points.into_iter().map(|p| Named { id: p.id, name: p.name }).collect(),
        listings: listings
            .into_iter()
            .map(|record| DemoListing {
                id: record.listing.id,
                title: record.listing.details.title,
                order_link: format!("{public}/l/{}", record.code),
                qr_svg: format!("{public}/l/{}/qr.svg", record.code),
                qr_png: format!("{public}/l/{}/qr.png", record.code),
            })
            .collect(),
        notes: vec![
            "Open an order_link in a phone browser to order as a buyer.".into(),
            "Pair the app with a pairing_code (8 digits, once, 15 minutes).".into(),
            "Scripts: curl -H 'Authorization: Bearer <token>' <server>/api/v1/orders".into(),
        ],
    };
    std::fs::write(&path, serde_json::to_vec_pretty(&demo)?).with_context(|| format!("writing {}", path.display()))?;
    Ok(demo)
}

/// A pairing code for the person's app and a ready token for scripts.
async fn person(state: &AppState, member_id: MemberId, name: &str, farm_url: Option<String>) -> anyhow::Result<Person> {
    let market = state.market();
    let for_script: IssuedCode = market.pairing_code_for(None, member_id).await.map_err(api_error)?;
    let token = market.pair(&for_script.code, "demo script").await.map_err(api_error)?.token;
    let for_app = market.pairing_code_for(None, member_id).await.map_err(api_error)?;
    Ok(Person { member_id, name: name.to_owned(), pairing_code: for_app.code, token, farm_url })
}

async fn seed(state: &AppState) -> anyhow::Result<(CoopId, MemberId, MemberId)> {
    let market = state.market();
    let (coop, admin_code) = market.create_coop("阳光谷合作社 Sunny Valley Co-op", Currency::CNY, "李梅 Li Mei").await.map_err(api_error)?;
    let (farmer, _) = market.add_member(None, coop.id, Role::Farmer, "Zhang Wei 张伟").await.map_err(api_error)?;
    market.add_pickup_point(None, coop.id, "村广场 Village square", "王家村文化广场 Wangjia village square").await.map_err(api_error)?;
    market.add_pickup_point(None, coop.id, "合作社办公室 Co-op office", "镇上主街 8 号 8 Main Street, town").await.map_err(api_error)?;
    let actor = Actor { member_id: farmer.id, coop_id: coop.id, role: Role::Farmer };
    let produce = [
        ("甜玉米 Sweet corn", "今早刚摘的甜玉米，颗粒饱满。Picked this morning.", "jin", "3.50", "200", ""),
        ("土鸡蛋 Free-range eggs", "散养土鸡蛋。From hens that roam the orchard.", "dozen", "18", "40", ""),
        ("水蜜桃 Peaches", "5 公斤一箱。A 5 kg box.", "box", "60", "25", "5"),
    ];
    for (title, description, unit, price, stock, maximum) in produce {
        let input = ListingInput {
            title: title.into(),
            description: description.into(),
            unit: unit.into(),
            currency: "CNY".into(),
            price: price.into(),
            stock: stock.into(),
            maximum: maximum.into(),
            ..ListingInput::default()
        };
        market.create_listing(&actor, None, &input).await.map_err(api_error)?;
    }
    Ok((coop.id, admin_code.member.id, farmer.id))
}

fn api_error(error: MarketError) -> anyhow::Error {
    anyhow::anyhow!("demo data: {error}")
}
