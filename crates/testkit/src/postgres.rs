//! A PostgreSQL schema of its own for each test, dropped afterwards, also when the test fails.

use std::time::Duration;

use tokio::task::JoinHandle;
use tokio_postgres::{Client, NoTls};

use crate::policy::{on_unreachable, Service};
use crate::unique::{test_tag, unique_suffix};
use crate::TestkitError;

const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// A fresh schema in the database at `DATABASE_URL`, with a connected client whose
/// `search_path` is that schema, then `public` (where the extensions live).
///
/// Dropping it drops the schema with everything in it (`DROP SCHEMA … CASCADE`), also during a
/// panic, so tests run in parallel and leave nothing behind. Drop pools and clients of your own
/// before it (declare them after it), or the drop waits for their locks.
#[derive(Debug)]
pub struct PgSchema {
    schema: String,
    base_url: String,
    url: String,
    client: Option<Client>,
    connection: Option<JoinHandle<()>>,
    dropped: bool,
}

/// A fresh [`PgSchema`], or `None` after a loud skip message when PostgreSQL is unreachable
/// (a failure instead when `PERFSTACK_REQUIRE_SERVICES=1`).
///
/// ```no_run
/// # async fn t() {
/// let Some(db) = perfstack_testkit::require_postgres().await else { return };
/// db.client().batch_execute("create table t (id int primary key)").await.unwrap();
/// # }
/// ```
///
/// # Panics
///
/// When PostgreSQL is unreachable and services are required: that is the test failing.
pub async fn require_postgres() -> Option<PgSchema> {
    let url = Service::Postgres.url();
    match PgSchema::create_at(&url).await {
        Ok(schema) => Some(schema),
        Err(e) => on_unreachable(Service::Postgres, &url, &e),
    }
}

impl PgSchema {
    /// Creates a schema in the database at `base_url`.
    ///
    /// # Errors
    ///
    /// When PostgreSQL cannot be reached or refuses `CREATE SCHEMA`.
    pub async fn create_at(base_url: &str) -> Result<Self, TestkitError> {
        let schema = format!("pstest_{}_{}", test_tag(), unique_suffix());
        let (admin, task) = connect(base_url).await?;
        let created = admin
            .batch_execute(&format!("create schema \"{schema}\""))
            .await
            .map_err(|source| TestkitError::Postgres { url: base_url.to_owned(), source });
        drop(admin);
        let _ = task.await;
        created?;
        let url = with_search_path(base_url, &schema);
        let mut this =
            Self { schema, base_url: base_url.to_owned(), url, client: None, connection: None, dropped: false };
        // From here on Drop cleans up, also if connecting with the search path fails.
        let (client, connection) = connect(&this.url).await?;
        this.client = Some(client);
        this.connection = Some(connection);
        Ok(this)
    }

    /// The schema's name, `pstest_<test>_<unique>`.
    #[must_use]
    pub fn schema(&self) -> &str {
        &self.schema
    }

    /// A URL for this schema: the base URL with `options=-csearch_path=<schema>,public`. Hand it
    /// to any pool or client under test.
    #[must_use]
    pub fn url(&self) -> &str {
        &self.url
    }

    /// A connected client on this schema.
    ///
    /// # Panics
    ///
    /// Never after [`require_postgres`] or [`PgSchema::create_at`] returned it.
    #[must_use]
    #[allow(clippy::expect_used)] // set in create_at, taken only in drop
    pub fn client(&self) -> &Client {
        self.client.as_ref().expect("client is set until drop")
    }

    /// Opens another connection on this schema.
    ///
    /// # Errors
    ///
    /// When PostgreSQL cannot be reached.
    pub async fn connect(&self) -> Result<Client, TestkitError> {
        let (client, task) = connect(&self.url).await?;
        drop(task); // the connection task ends when the client is dropped
        Ok(client)
    }

    /// Drops the schema now, reporting any error (Drop can only print it).
    ///
    /// # Errors
    ///
    /// When the schema cannot be dropped.
    pub async fn drop_now(mut self) -> Result<(), TestkitError> {
        self.close_client().await;
        self.dropped = true;
        drop_schema(&self.base_url, &self.schema).await
    }

    async fn close_client(&mut self) {
        self.client = None;
        if let Some(task) = self.connection.take() {
            let _ = task.await;
        }
    }
}

impl Drop for PgSchema {
    fn drop(&mut self) {
        if self.dropped {
            return;
        }
        self.client = None;
        let base_url = self.base_url.clone();
        let schema = self.schema.clone();
        let connection = self.connection.take();
        // Drop is synchronous and may run inside a runtime: clean up on a thread of its own.
        let outcome = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build();
            match rt {
                Ok(rt) => rt.block_on(drop_schema(&base_url, &schema)),
                Err(source) => Err(TestkitError::Io { what: "runtime for cleanup", path: schema.into(), source }),
            }
        })
        .join();
        if let Some(task) = connection {
            task.abort();
        }
        match outcome {
            Ok(Ok(())) => {}
            Ok(Err(e)) => crate::warn(&format!("could not drop schema {}: {e}", self.schema)),
            Err(_) => crate::warn(&format!("cleanup of schema {} panicked", self.schema)),
        }
    }
}

async fn connect(url: &str) -> Result<(Client, JoinHandle<()>), TestkitError> {
    let connecting = tokio_postgres::connect(url, NoTls);
    let (client, connection) = tokio::time::timeout(CONNECT_TIMEOUT, connecting)
        .await
        .map_err(|_| TestkitError::Timeout { what: "PostgreSQL connect", seconds: CONNECT_TIMEOUT.as_secs() })?
        .map_err(|source| TestkitError::Postgres { url: url.to_owned(), source })?;
    let task = tokio::spawn(async move {
        let _ = connection.await;
    });
    Ok((client, task))
}

async fn drop_schema(base_url: &str, schema: &str) -> Result<(), TestkitError> {
    let (admin, task) = connect(base_url).await?;
    let result = admin
        .batch_execute(&format!("set lock_timeout = '20s'; drop schema if exists \"{schema}\" cascade"))
        .await
        .map_err(|source| TestkitError::Postgres { url: base_url.to_owned(), source });
    drop(admin);
    let _ = task.await;
    result
}

/// Adds `options=-csearch_path=<schema>,public` to a URL or a key-value connection string.
pub(crate) fn with_search_path(base: &str, schema: &str) -> String {
    if base.contains("://") {
        let sep = if base.contains('?') { '&' } else { '?' };
        format!("{base}{sep}options=-csearch_path%3D{schema}%2Cpublic")
    } else {
        format!("{base} options='-csearch_path={schema},public'")
    }
}

#[cfg(test)]
mod tests {
    use super::with_search_path;

    #[test]
    fn search_path_is_added_to_urls_with_and_without_a_query() {
        assert_eq!(
            with_search_path("postgres://u@h/db", "s1"),
            "postgres://u@h/db?options=-csearch_path%3Ds1%2Cpublic"
        );
        assert_eq!(
            with_search_path("postgres://u@h/db?sslmode=disable", "s1"),
            "postgres://u@h/db?sslmode=disable&options=-csearch_path%3Ds1%2Cpublic"
        );
        assert_eq!(with_search_path("host=h user=u", "s1"), "host=h user=u options='-csearch_path=s1,public'");
    }
}
