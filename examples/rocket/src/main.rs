//! The sessions example on Rocket. Run it with `cargo run -p example-rocket` and open
//! <http://localhost:3000>; `SESSION_STORE` picks the store (see examples/README.md).
//!
//! This file starts the server and routes; every session call is in `handlers.rs`.
//! The smallest app is `examples/rocket-counter.rs`:
//! `cargo run -p example-rocket --example rocket-counter`.

use adapter_rocket::SessionFairing;
use example_support as app;
use rocket::routes;

mod error;
mod handlers;

use handlers as h;

#[rocket::main]
async fn main() {
    let setup = app::or_exit(app::setup().await);
    let figment = rocket::Config::figment()
        .merge(("address", setup.addr.ip()))
        .merge(("port", setup.addr.port()))
        .merge(("log_level", "critical"))
        .merge(("cli_colors", false));
    tracing::info!("listening on http://{}", setup.addr);
    let rocket = rocket::custom(figment)
        .attach(SessionFairing::new(setup.manager))
        .mount(
            "/",
            routes![
                h::health,
                h::index,
                h::me,
                h::count,
                h::login,
                h::logout,
                h::get_data,
                h::put_data,
                h::delete_data,
                h::sessions,
                h::revoke,
                h::revoke_others
            ],
        );
    app::or_exit(rocket.launch().await.map(drop));
}
