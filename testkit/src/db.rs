//! A fresh database per test or benchmark run.

/// Where a database lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    /// `Some(Postgres)` when `TEST_DATABASE_URL` is set; otherwise prints why the
    /// PostgreSQL variant of `test` is skipped.
    pub fn postgres_or_skip(test: &str) -> Option<Backend> {
        if std::env::var("TEST_DATABASE_URL").is_ok() {
            Some(Backend::Postgres)
        } else {
            crate::skip_notice(&format!(
                "skipped {test} on PostgreSQL: TEST_DATABASE_URL is not set"
            ));
            None
        }
    }
}

/// A fresh, empty database. A SQLite file goes with its temp dir when this is dropped; a
/// PostgreSQL database goes with [`TestDb::drop_db`] (a benchmark may keep it to look at).
pub struct TestDb {
    pub url: String,
    /// Keeps the SQLite file's directory alive.
    _dir: Option<tempfile::TempDir>,
    /// The PostgreSQL admin URL and the database's name.
    postgres: Option<(String, String)>,
}

impl TestDb {
    /// A fresh database for a test; PostgreSQL's admin URL is `TEST_DATABASE_URL`.
    /// Panics when it cannot be made: a test cannot run without it.
    pub async fn new(backend: Backend) -> TestDb {
        let admin = match backend {
            Backend::Sqlite => String::new(),
            Backend::Postgres => std::env::var("TEST_DATABASE_URL").expect("TEST_DATABASE_URL"),
        };
        TestDb::create(backend, &admin, "minitwit_test")
            .await
            .unwrap_or_else(|e| panic!("cannot make a test database: {e}"))
    }

    /// A fresh database; on PostgreSQL named `{prefix}_{random}` and created through
    /// `pg_admin_url`.
    pub async fn create(
        backend: Backend,
        pg_admin_url: &str,
        prefix: &str,
    ) -> Result<TestDb, String> {
        match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().map_err(|e| format!("temp dir: {e}"))?;
                let url = format!(
                    "sqlite://{}?mode=rwc",
                    dir.path().join("minitwit.db").display()
                );
                Ok(TestDb {
                    url,
                    _dir: Some(dir),
                    postgres: None,
                })
            }
            Backend::Postgres => {
                let name = format!("{prefix}_{}", uuid::Uuid::new_v4().simple());
                admin_execute(pg_admin_url, &format!("CREATE DATABASE {name}")).await?;
                let mut url = url::Url::parse(pg_admin_url)
                    .map_err(|e| format!("the PostgreSQL admin URL: {e}"))?;
                url.set_path(&name);
                Ok(TestDb {
                    url: url.to_string(),
                    _dir: None,
                    postgres: Some((pg_admin_url.to_owned(), name)),
                })
            }
        }
    }

    /// Drops a PostgreSQL database (SQLite files go with their temp dir).
    pub async fn drop_db(self) {
        if let Some((admin, name)) = &self.postgres {
            let sql = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
            if let Err(e) = admin_execute(admin, &sql).await {
                // Not a skip: the test ran; only its leftover database stays.
                crate::notice(&format!("could not drop {name}: {e}"));
            }
        }
    }
}

/// Runs one statement on PostgreSQL's admin database (CREATE/DROP DATABASE cannot run in
/// the database they create or drop).
pub async fn admin_execute(admin_url: &str, sql: &str) -> Result<(), String> {
    use sea_orm::sqlx::{Connection, Executor, PgConnection};
    let mut conn = PgConnection::connect(admin_url)
        .await
        .map_err(|e| format!("cannot connect to {admin_url}: {e}"))?;
    let done = conn
        .execute(sql)
        .await
        .map(|_| ())
        .map_err(|e| format!("{sql}: {e}"));
    let _ = conn.close().await;
    done
}
