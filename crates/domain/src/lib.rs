//! Fieldcast's domain: what money, quantities, listings and orders are, and the rules they obey.
//!
//! This crate is the functional core. It does no IO, spawns nothing, and never reads the clock or a
//! random source: time and identifiers come in as arguments, so every rule here is tested with plain
//! values. The store, the sync engine, the marketplace server and the app all build on these types,
//! which is why every refusal carries a stable [`error::Error::code`] that crosses each boundary
//! unchanged.

pub mod access;
pub mod checkout;
pub mod decimal;
pub mod error;
pub mod ids;
pub mod listing;
pub mod live;
pub mod money;
pub mod mutation;
pub mod order;
pub mod pairing;
pub mod quantity;
pub mod report;
pub mod sync;
pub mod text;
pub mod time;
