//! What buyers watching a stream see besides the video: one room per stream holding its current
//! state (status, featured product with its stock, viewers, orders), which the live events
//! endpoint sends to every buyer page.
//!
//! A room is rebuilt from storage and the relay whenever someone looks at a stream, then kept
//! current by two feeds: the relay's events (camera connected, silent or gone, viewer counts) and the
//! marketplace's (stock moved, an order placed). The feeds only say *that* something changed; the
//! room reloads what it shows, so a missed or reordered event costs a reload, never a wrong number.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};

use domain::ids::{ListingId, StreamId};
use domain::live::{Camera, LiveStatus};
use domain::order::Channel;
use relay::{Relay, RelayEvent};
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::watch;

use crate::marketplace::{MarketError, MarketEvent, Marketplace};
use crate::storage::{ListingRecord, Member, StreamRecord};

/// Everything a buyer's live page shows, in no particular language.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoomState {
    pub stream: StreamRecord,
    pub farmer: Member,
    pub featured: Option<ListingRecord>,
    pub camera: Camera,
    pub viewers: usize,
    pub orders: u64,
}

impl RoomState {
    pub fn status(&self) -> LiveStatus {
        LiveStatus::of(self.stream.status, self.camera)
    }
}

/// The rooms, and the relay they learn the camera's state from.
pub struct Live {
    market: Arc<Marketplace>,
    relay: Relay,
    rooms: Mutex<HashMap<StreamId, watch::Sender<RoomState>>>,
}

impl Live {
    /// Starts the hub and its two feeds. The feeds hold only a weak reference, so they end with
    /// the server.
    pub fn start(market: Arc<Marketplace>, relay: Relay) -> Arc<Live> {
        let live = Arc::new(Live { market: market.clone(), relay: relay.clone(), rooms: Mutex::new(HashMap::new()) });
        let mut relay_events = relay.subscribe();
        let weak: Weak<Live> = Arc::downgrade(&live);
        tokio::spawn(async move {
            loop {
                let event = relay_events.recv().await;
                let Some(live) = weak.upgrade() else { return };
                match event {
                    Ok(event) => live.on_relay(event).await,
                    Err(RecvError::Lagged(_)) => live.reload_all().await,
                    Err(RecvError::Closed) => return,
                }
            }
        });
        let mut market_events = market.events();
        let weak: Weak<Live> = Arc::downgrade(&live);
        tokio::spawn(async move {
            loop {
                let event = market_events.recv().await;
                let Some(live) = weak.upgrade() else { return };
                match event {
                    Ok(event) => live.on_market(event).await,
                    Err(RecvError::Lagged(_)) => live.reload_all().await,
                    Err(RecvError::Closed) => return,
                }
            }
        });
        live
    }

    pub fn relay(&self) -> &Relay {
        &self.relay
    }

    /// The stream's room, current now and kept current. A stream nobody may see is not found.
    pub async fn watch(&self, id: StreamId) -> Result<watch::Receiver<RoomState>, MarketError> {
        if let Some(room) = self.rooms.lock().expect("rooms lock").get(&id) {
            return Ok(room.subscribe());
        }
        let state = self.load(id).await?;
        let mut rooms = self.rooms.lock().expect("rooms lock");
        // Another request may have built the room meanwhile; theirs is as fresh as ours.
        let room = rooms.entry(id).or_insert_with(|| watch::channel(state).0);
        Ok(room.subscribe())
    }

    /// The stream's state now, without keeping a room for it.
    pub async fn snapshot(&self, id: StreamId) -> Result<RoomState, MarketError> {
        if let Some(room) = self.rooms.lock().expect("rooms lock").get(&id) {
            return Ok(room.borrow().clone());
        }
        self.load(id).await
    }

    /// Reloads a stream's room after its owner changed it (featured product, ended).
    pub async fn refresh(&self, id: StreamId) {
        if !self.has_room(id) {
            return;
        }
        match self.load(id).await {
            Ok(state) => self.update(id, |room| *room = state.clone()),
            Err(error) => tracing::warn!(%error, %id, "could not reload a live room"),
        }
    }

    async fn load(&self, id: StreamId) -> Result<RoomState, MarketError> {
        let stream = self.market.stream(id).await?;
        let farmer = self.market.member(stream.farmer_id).await?;
        let featured = self.featured(&stream).await?;
        let relay = self.relay.stream_state(&id.to_string()).await.unwrap_or_default();
        let orders = self.market.live_orders(id).await?;
        let camera = match (relay.live, relay.silent) {
            (false, _) => Camera::Off,
            (true, false) => Camera::Sending,
            (true, true) => Camera::Silent,
        };
        Ok(RoomState { stream, farmer, featured, camera, viewers: relay.viewers, orders })
    }

    async fn featured(&self, stream: &StreamRecord) -> Result<Option<ListingRecord>, MarketError> {
        match self.market.listing(stream.featured).await {
            Ok(record) => Ok(Some(record)),
            Err(MarketError::NotFound) => Ok(None),
            Err(other) => Err(other),
        }
    }

    async fn on_relay(&self, event: RelayEvent) {
        match event {
            RelayEvent::PublisherConnected { stream } => {
                let Ok(id) = stream.parse::<StreamId>() else { return };
                // The first connection starts the stream's order window; record it even if no one
                // is watching yet.
                match self.market.mark_started(id).await {
                    Ok(record) => self.update(id, |room| {
                        room.stream = record.clone();
                        room.camera = Camera::Sending;
                    }),
                    Err(error) => tracing::warn!(%error, %id, "could not record a stream's start"),
                }
            }
            RelayEvent::PublisherGone { stream, .. } => {
                if let Ok(id) = stream.parse::<StreamId>() {
                    self.update(id, |room| {
                        room.camera = Camera::Off;
                        room.viewers = 0;
                    });
                }
            }
            RelayEvent::PublisherSilent { stream } => self.camera_heard(&stream, Camera::Silent),
            RelayEvent::PublisherResumed { stream } => self.camera_heard(&stream, Camera::Sending),
            RelayEvent::Viewers { stream, count } => {
                if let Ok(id) = stream.parse::<StreamId>() {
                    self.update(id, |room| room.viewers = count);
                }
            }
        }
        self.prune();
    }

    /// A connected camera fell silent or resumed. Only a connected one can: an event that
    /// crossed the camera's going leaves the room as it is.
    fn camera_heard(&self, stream: &str, camera: Camera) {
        if let Ok(id) = stream.parse::<StreamId>() {
            self.update(id, |room| {
                if room.camera != Camera::Off {
                    room.camera = camera;
                }
            });
        }
    }

    async fn on_market(&self, event: MarketEvent) {
        match event {
            MarketEvent::ListingChanged(listing) => self.reload_featured(Some(listing)).await,
            MarketEvent::ListingsChanged => self.reload_featured(None).await,
            MarketEvent::OrderPlaced { listing_id, channel: Channel::Live } => {
                for id in self.rooms_showing(listing_id) {
                    if let Ok(orders) = self.market.live_orders(id).await {
                        self.update(id, |room| room.orders = orders);
                    }
                }
            }
            MarketEvent::OrderPlaced { .. } => {}
        }
        self.prune();
    }

    /// Reloads the featured product of the rooms featuring `listing` (or of every room).
    async fn reload_featured(&self, listing: Option<ListingId>) {
        let rooms: Vec<(StreamId, ListingId)> = {
            let rooms = self.rooms.lock().expect("rooms lock");
            rooms
                .iter()
                .map(|(id, room)| (*id, room.borrow().stream.featured))
                .filter(|(_, featured)| listing.is_none_or(|l| l == *featured))
                .collect()
        };
        for (id, featured) in rooms {
            match self.market.listing(featured).await {
                Ok(record) => self.update(id, |room| {
                    if room.stream.featured == record.listing.id {
                        room.featured = Some(record.clone());
                    }
                }),
                Err(error) => tracing::debug!(%error, %id, "could not reload a featured product"),
            }
        }
    }

    async fn reload_all(&self) {
        let ids: Vec<StreamId> = self.rooms.lock().expect("rooms lock").keys().copied().collect();
        for id in ids {
            self.refresh(id).await;
        }
    }

    fn rooms_showing(&self, listing: ListingId) -> Vec<StreamId> {
        let rooms = self.rooms.lock().expect("rooms lock");
        rooms.iter().filter(|(_, room)| room.borrow().stream.listing_ids.contains(&listing)).map(|(id, _)| *id).collect()
    }

    fn has_room(&self, id: StreamId) -> bool {
        self.rooms.lock().expect("rooms lock").contains_key(&id)
    }

    /// Changes a room's state; subscribers wake only if it really changed.
    fn update(&self, id: StreamId, change: impl FnOnce(&mut RoomState)) {
        if let Some(room) = self.rooms.lock().expect("rooms lock").get(&id) {
            room.send_if_modified(|state| {
                let before = state.clone();
                change(state);
                *state != before
            });
        }
    }

    /// Forgets rooms nobody watches; the next look rebuilds them from storage and the relay.
    fn prune(&self) {
        self.rooms.lock().expect("rooms lock").retain(|_, room| room.receiver_count() > 0);
    }
}
