//! Redis as the second tier (fred): values with a TTL, leases, and the invalidation channel.

mod beats;
mod echo;
mod fence;
mod handle;
mod listener;
mod scripts;
mod tier;
mod wire;

pub(crate) use handle::{Links, RedisTier};

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests;
