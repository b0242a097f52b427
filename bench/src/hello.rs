//! The HTTP ceiling: the smallest actix-web server that answers a fixed JSON body of about the
//! size of a provider, with the same worker count as modelgate.

use actix_web::{App, HttpResponse, HttpServer, web};

const BODY: &str = include_str!("provider.json");

#[actix_web::main]
async fn main() -> std::io::Result<()> {
    let bind = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:18090".into());
    let workers: usize = std::env::args()
        .nth(2)
        .and_then(|w| w.parse().ok())
        .unwrap_or(2);
    HttpServer::new(|| {
        App::new().route(
            "/hello/{id}",
            web::get().to(|| async {
                HttpResponse::Ok()
                    .content_type("application/json")
                    .insert_header(("etag", "\"01KAQ2Z8S4N6V1J7YQ3W5X9R2D-1\""))
                    .body(BODY)
            }),
        )
    })
    .workers(workers)
    .bind(bind)?
    .run()
    .await
}
