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

/// Sends PING on a fresh connection and returns the first reply line.
async fn ping(port: u16) -> std::io::Result<String> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port)).await?;
    stream.write_all(b"*1\r\n$4\r\nPING\r\n").await?;
    let mut buf = [0u8; 64];
    let n = stream.read(&mut buf).await?;
    Ok(String::from_utf8_lossy(&buf[..n]).lines().next().unwrap_or_default().to_owned())
}

async fn start_or_skip() -> Option<RedisServer> {
    match RedisServer::start().await {
        Ok(s) => Some(s),
        Err(e) => perfstack_testkit::policy::on_unreachable(
            perfstack_testkit::policy::Service::Redis,
            "redis-server binary",
            &e,
        ),
    }
}

#[tokio::test]
async fn a_paused_server_answers_nothing_until_resumed() {
    let Some(mut server) = start_or_skip().await else { return };
    let keys = RedisKeys::create_at(&server.url()).await.unwrap();
    let _: () = keys.client().set(keys.key("a"), "1", None, None, false).await.unwrap();

    server.pause().unwrap();
    assert!(server.is_running(), "a paused server is still alive");
    let pending = tokio::spawn(ping(server.port()));
    let silent = tokio::time::timeout(std::time::Duration::from_millis(300), ping(server.port())).await;
    assert!(silent.is_err(), "a paused server must not answer, got {silent:?}");
    server.pause().unwrap(); // twice is harmless

    server.resume().unwrap();
    assert_eq!(ping(server.port()).await.unwrap(), "+PONG");
    assert_eq!(pending.await.unwrap().unwrap(), "+PONG", "the command sent while paused is answered after SIGCONT");
    let value: Option<String> = keys.client().get(keys.key("a")).await.unwrap();
    assert_eq!(value.as_deref(), Some("1"), "a pause keeps the data");
    server.resume().unwrap(); // resuming a running server is harmless
    drop(keys);
}

#[tokio::test]
async fn a_paused_server_can_be_killed_stopped_and_dropped() {
    let Some(mut server) = start_or_skip().await else { return };
    let port = server.port();
    server.pause().unwrap();
    // SIGKILL needs no SIGCONT; kill() reaps the process, so a hang here would mean it did not die.
    let mut server = tokio::time::timeout(
        std::time::Duration::from_secs(10),
        tokio::task::spawn_blocking(move || {
            server.kill();
            server
        }),
    )
    .await
    .expect("kill() of a paused server hung")
    .unwrap();
    assert!(!server.is_running());
    assert!(tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_err(), "killed: connections are refused");
    assert!(server.pause().is_err(), "a killed server cannot be paused");
    assert!(server.resume().is_err(), "nor resumed");

    server.restart().await.unwrap();
    server.pause().unwrap();
    tokio::time::timeout(std::time::Duration::from_secs(15), server.stop())
        .await
        .expect("stop() of a paused server hung")
        .unwrap();
    assert!(!server.is_running());

    server.restart().await.unwrap();
    assert_eq!(ping(port).await.unwrap(), "+PONG");
    server.pause().unwrap();
    tokio::time::timeout(std::time::Duration::from_secs(10), tokio::task::spawn_blocking(move || drop(server)))
        .await
        .expect("dropping a paused server hung")
        .unwrap();
    assert!(tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_err(), "dropped: the process is gone");
}
