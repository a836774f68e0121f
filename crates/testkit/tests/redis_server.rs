//! The private redis-server: started, killed, stopped and restarted on its own port.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use fred::interfaces::{ClientLike, KeysInterface};
use perfstack_testkit::{RedisKeys, RedisServer};

#[tokio::test]
async fn private_server_survives_kill_and_restart_on_the_same_port() {
    let mut server = match RedisServer::start().await {
        Ok(s) => s,
        Err(e) => {
            // redis-server missing is the same as an unreachable Redis service.
            let url = "redis-server binary";
            let _: Option<()> =
                perfstack_testkit::policy::on_unreachable(perfstack_testkit::policy::Service::Redis, url, &e);
            return;
        }
    };
    assert!(server.is_running());
    assert_ne!(server.port(), 6379, "must not be the shared server");
    let port = server.port();

    let keys = RedisKeys::create_at(&server.url()).await.unwrap();
    let _: () = keys.client().set(keys.key("a"), "1", None, None, false).await.unwrap();

    server.kill();
    assert!(!server.is_running());
    assert!(RedisKeys::create_at(&server.url()).await.is_err(), "a killed server must refuse connections");

    server.restart().await.unwrap();
    assert!(server.is_running());
    assert_eq!(server.port(), port);
    let fresh = RedisKeys::create_at(&server.url()).await.unwrap();
    let n: u64 = fresh.client().exists(keys.key("a")).await.unwrap();
    assert_eq!(n, 0, "nothing is persisted across a restart");

    server.stop().await.unwrap();
    assert!(!server.is_running());
    server.restart().await.unwrap();
    let pong: String = fresh.connect().await.unwrap().ping(None).await.unwrap();
    assert_eq!(pong, "PONG");
    // The old key-prefix handles point at this server; their cleanup must not fail the test.
    drop(keys);
    drop(fresh);
}

#[tokio::test]
async fn two_private_servers_get_different_ports() {
    let (Ok(a), Ok(b)) = (RedisServer::start().await, RedisServer::start().await) else {
        let _: Option<()> = perfstack_testkit::policy::on_unreachable(
            perfstack_testkit::policy::Service::Redis,
            "redis-server binary",
            &"could not start private servers",
        );
        return;
    };
    assert_ne!(a.port(), b.port());
}
