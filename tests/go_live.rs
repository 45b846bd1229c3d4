//! Going live through the client library (what the app's Go Live screen calls) against the real
//! server: plan, feature, end, and the refusals the screen tells apart by code.

use client::Client;
use client::calls::Call;
use domain::ids::ListingId;
use domain::live::{LiveStatus, StreamInput};
use tests::MarketServer;

fn input(title: &str, listing_ids: Vec<ListingId>) -> StreamInput {
    StreamInput { title: title.into(), listing_ids, featured: None }
}

#[test]
fn the_app_plans_features_and_ends_a_stream_and_refusals_keep_their_codes() -> anyhow::Result<()> {
    let server = MarketServer::start_demo()?;
    let listings: Vec<ListingId> = serde_json::from_value(server.demo["listings"].as_array().into_iter().flatten().map(|l| l["id"].clone()).collect())?;
    assert!(listings.len() >= 3, "the demo farmer has three products");
    let dir = tempfile::tempdir()?;
    let client = Client::open(dir.path())?;
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(async {
        // Not paired yet: the screen can say so without a network.
        let unpaired = client.go_live(&input("Corn", listings.clone())).await.unwrap_err();
        assert_eq!(unpaired.code(), "not_paired");

        client.pair(&server.base, &server.farmer_pairing_code()?, "test phone").await?;
        // A bad plan is refused before the network, with the field and the domain's code.
        let empty = client.go_live(&input("  ", Vec::new())).await.unwrap_err();
        assert_eq!(empty.code(), "invalid");

        let stream = client.go_live(&input("Corn harvest", listings[..2].to_vec())).await?;
        assert_eq!(stream.status, LiveStatus::Waiting);
        assert_eq!(stream.featured, listings[0]);
        assert!(stream.publish_token.as_deref().is_some_and(|t| t.len() >= 40), "the publish token comes once, with the plan");
        assert!(stream.whip_url.ends_with(&format!("/streams/{}/whip", stream.id)));
        assert!(stream.events_url.ends_with(&format!("/streams/{}/events", stream.id)));

        let featured = client.feature(stream.id, listings[1]).await?;
        assert_eq!(featured.featured, listings[1]);
        assert_eq!(featured.publish_token, None, "the token is never shown again");
        let outside = client.feature(stream.id, listings[2]).await.unwrap_err();
        assert_eq!(outside.code(), "not_in_stream");

        let ended = client.end_stream(stream.id).await?;
        assert_eq!(ended.status, LiveStatus::Ended);
        assert_eq!(client.end_stream(stream.id).await.unwrap_err().code(), "stream_ended");
        assert_eq!(client.feature(stream.id, listings[0]).await.unwrap_err().code(), "stream_ended");
        anyhow::Ok(())
    })?;

    // The same operations as the front end sends them, through the one dispatch both transports use.
    let call: Call = serde_json::from_value(serde_json::json!({ "command": "feature_product", "args": { "stream_id": listings[0], "listing_id": listings[0] } }))?;
    assert!(matches!(call, Call::FeatureProduct { .. }));
    assert!(serde_json::from_value::<Call>(serde_json::json!({ "command": "drop_tables" })).is_err());
    assert!(serde_json::from_value::<Call>(serde_json::json!({ "command": "go_live", "args": { "input": { "title": 5 } } })).is_err());

    // With the server gone, the screen hears "offline", not a crash.
    drop(server);
    let offline = runtime.block_on(client.go_live(&input("Again", listings[..1].to_vec()))).unwrap_err();
    assert_eq!(offline.code(), "offline");
    Ok(())
}
