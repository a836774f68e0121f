//! Schema and key isolation with cleanup, against the real services.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use fred::interfaces::KeysInterface;
use perfstack_testkit::{require_postgres, require_redis, PgSchema, RedisKeys};

async fn schema_exists(client: &tokio_postgres::Client, name: &str) -> bool {
    let row = client
        .query_one("select count(*) from information_schema.schemata where schema_name = $1", &[&name])
        .await
        .unwrap();
    row.get::<_, i64>(0) == 1
}

#[tokio::test]
async fn schema_is_private_to_the_test_and_dropped_afterwards() {
    let Some(observer) = require_postgres().await else { return };
    let Some(db) = require_postgres().await else { return };
    assert_ne!(observer.schema(), db.schema());

    // Unqualified names land in the test's schema, and extensions in public stay visible.
    db.client()
        .batch_execute("create table items (id int primary key, v vector(3)); insert into items values (1, '[1,2,3]')")
        .await
        .unwrap();
    let table_schema: String = db
        .client()
        .query_one("select table_schema::text from information_schema.tables where table_name = 'items' and table_schema = current_schema()", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(table_schema, db.schema());
    // A second connection from the URL sees the same schema.
    let other = db.connect().await.unwrap();
    let n: i64 = other.query_one("select count(*) from items", &[]).await.unwrap().get(0);
    assert_eq!(n, 1);
    drop(other);

    let name = db.schema().to_owned();
    assert!(schema_exists(observer.client(), &name).await);
    drop(db);
    assert!(!schema_exists(observer.client(), &name).await, "schema {name} survived its drop");
}

#[tokio::test]
async fn schema_is_dropped_when_the_test_panics() {
    let Some(observer) = require_postgres().await else { return };
    let url = perfstack_testkit::policy::Service::Postgres.url();
    let (tx, rx) = std::sync::mpsc::channel();
    // A "test" that fails half-way, on a thread of its own so the panic is contained.
    let handle = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(async move {
            let db = PgSchema::create_at(&url).await.unwrap();
            db.client().batch_execute("create table t (id int)").await.unwrap();
            tx.send(db.schema().to_owned()).unwrap();
            panic!("the test under test fails");
        });
    });
    assert!(handle.join().is_err(), "the inner test should have panicked");
    let name = rx.recv().unwrap();
    assert!(!schema_exists(observer.client(), &name).await, "schema {name} survived a panicking test");
}

#[tokio::test]
async fn drop_now_reports_success() {
    let Some(observer) = require_postgres().await else { return };
    let Some(db) = require_postgres().await else { return };
    let name = db.schema().to_owned();
    db.drop_now().await.unwrap();
    assert!(!schema_exists(observer.client(), &name).await);
}

#[tokio::test]
async fn key_prefix_is_unique_and_its_keys_are_removed_afterwards() {
    let Some(observer) = require_redis().await else { return };
    let Some(rk) = require_redis().await else { return };
    assert_ne!(observer.prefix(), rk.prefix());
    assert!(rk.key("a").starts_with(rk.prefix()));

    // Keys under the prefix, plus one just outside it that must survive.
    let outside = observer.key("outside");
    let _: () = observer.client().set(&outside, "keep", None, None, false).await.unwrap();
    for i in 0..1_200 {
        let _: () = rk.client().set(rk.key(&format!("k{i}")), i, None, None, false).await.unwrap();
    }
    let probe = rk.key("k7");
    drop(rk);

    let gone: u64 = observer.client().exists(&probe).await.unwrap();
    assert_eq!(gone, 0, "a key under the dropped prefix survived");
    let kept: u64 = observer.client().exists(&outside).await.unwrap();
    assert_eq!(kept, 1, "cleanup deleted a key outside its prefix");
}

#[tokio::test]
async fn keys_are_removed_when_the_test_panics() {
    let Some(observer) = require_redis().await else { return };
    let url = perfstack_testkit::policy::Service::Redis.url();
    let (tx, rx) = std::sync::mpsc::channel();
    let handle = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(async move {
            let rk = RedisKeys::create_at(&url).await.unwrap();
            let _: () = rk.client().set(rk.key("x"), 1, None, None, false).await.unwrap();
            tx.send(rk.key("x")).unwrap();
            panic!("the test under test fails");
        });
    });
    assert!(handle.join().is_err());
    let key = rx.recv().unwrap();
    let n: u64 = observer.client().exists(&key).await.unwrap();
    assert_eq!(n, 0, "{key} survived a panicking test");
}

#[tokio::test]
async fn clean_now_counts_the_deleted_keys() {
    let Some(rk) = require_redis().await else { return };
    for i in 0..3 {
        let _: () = rk.client().set(rk.key(&i.to_string()), i, None, None, false).await.unwrap();
    }
    assert_eq!(rk.clean_now().await.unwrap(), 3);
}
