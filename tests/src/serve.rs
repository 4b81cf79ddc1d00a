//! Serving an axum router on a free loopback port for the rest of the test (webhook-api
//! in process, or a stub an HTTP client under test talks to).

use std::net::SocketAddr;

/// Serves `router` on `127.0.0.1:<free port>` in the background (with the peer address
/// as `ConnectInfo`); returns its base URL, `http://127.0.0.1:<port>`.
pub async fn serve_on_loopback(router: axum::Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind loopback");
    let address = listener.local_addr().expect("local address");
    let service = router.into_make_service_with_connect_info::<SocketAddr>();
    tokio::spawn(async move { axum::serve(listener, service).await });
    format!("http://{address}")
}
