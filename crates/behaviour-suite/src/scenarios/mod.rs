//! The scenarios, each `async fn(spawn: Spawn)`: it builds its own manager over a probed
//! memory store, has the adapter serve it, and checks what a client sees and what the
//! store was asked to do.

mod cookies;
mod csrf;
mod failures;
mod lifecycle;
mod requests;
mod responses;
mod several;
mod timing;
mod tokens;

pub use cookies::*;
pub use csrf::*;
pub use failures::*;
pub use lifecycle::*;
pub use requests::*;
pub use responses::*;
pub use several::*;
pub use timing::*;
pub use tokens::*;

use session_core::SessionConfigBuilder;

/// The scenario defaults unchanged.
fn defaults(builder: SessionConfigBuilder) -> SessionConfigBuilder {
    builder
}

/// `value` with the character at `index` replaced by a different base64url character.
fn flip(value: &str, index: usize) -> String {
    value
        .char_indices()
        .map(|(i, c)| match (i == index, c) {
            (true, 'A') => 'B',
            (true, _) => 'A',
            (false, c) => c,
        })
        .collect()
}
