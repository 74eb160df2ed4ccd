//! Short reads of PostgreSQL with tokio-postgres: a few connections, each
//! with the statements it has prepared, and any number of reads in flight
//! on each (tokio-postgres pipelines them). sqlx gives each read a pooled
//! connection of its own for the read's round trip and decodes every row
//! through its own layers; for a short read that costs more than the read
//! itself. SeaORM still builds the statement (the same query code serves
//! both databases); only running it and reading its rows happen here.
//! Writes, transactions and long reads stay on sqlx.
//!
//! Each statement is prepared with its parameters' types taken from the
//! values SeaORM bound (as sqlx does), so PostgreSQL never has to guess one.
//!
//! The connections speak plain TCP, so they are used only for a server on
//! this machine or one the URL says to reach without TLS
//! ([`PostgresReads::open`]); any other keeps every read on sqlx.
//!
//! Measured gain (bench/README.md, "PostgreSQL reads without sqlx"): the
//! page went from 35% to 49–59% of its floor, the nested query from 4.2x
//! to 7.5x PostGraphile's requests per second.

use std::{
    collections::HashMap,
    error::Error,
    str::FromStr,
    sync::{
        Arc, Mutex,
        atomic::{AtomicUsize, Ordering},
    },
};

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use sea_orm::{DbErr, RuntimeErr, Statement, Value};
use tokio_postgres::{
    Client, Config, NoTls, Row,
    config::{Host, SslMode},
    types::{IsNull, ToSql, Type, to_sql_checked},
};
use uuid::Uuid;

use super::Columns;

/// Connections kept open; reads are spread over them in turn.
const CONNECTIONS: usize = 4;

/// The most statements one connection keeps prepared; past it, it forgets
/// them all and prepares again what it is asked.
const PREPARED: usize = 256;

/// Readers of one PostgreSQL database.
pub struct PostgresReads {
    config: Config,
    slots: Vec<Mutex<Option<Arc<Connection>>>>,
    next: AtomicUsize,
}

impl std::fmt::Debug for PostgresReads {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresReads").finish_non_exhaustive()
    }
}

struct Connection {
    client: Client,
    prepared: Mutex<HashMap<String, tokio_postgres::Statement>>,
}

impl PostgresReads {
    /// Readers of the database `url` names, or `None` when its reads stay
    /// on sqlx: a URL that is not PostgreSQL's or says something only sqlx
    /// reads, and any server these connections would reach without the TLS
    /// sqlx may use (they speak plain TCP): only a server on this machine
    /// (a Unix socket or a loopback address), or one the URL itself says
    /// to reach without TLS (`sslmode=disable`), gets them.
    pub fn open(url: &str) -> Option<Self> {
        if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
            return None;
        }
        let config = Config::from_str(url).ok()?;
        let plain = match config.get_ssl_mode() {
            SslMode::Disable => true,
            SslMode::Prefer => config.get_hosts().iter().all(is_local),
            _ => false,
        };
        if !plain {
            return None;
        }
        Some(Self {
            config,
            slots: (0..CONNECTIONS).map(|_| Mutex::new(None)).collect(),
            next: AtomicUsize::new(0),
        })
    }

    /// Runs `statement` (built by SeaORM for PostgreSQL) and returns its rows.
    /// A connection found closed (the server restarted) is opened again,
    /// and the read tried once more on it.
    pub async fn all(&self, statement: &Statement) -> Result<Vec<Row>, DbErr> {
        let slot = &self.slots[self.next.fetch_add(1, Ordering::Relaxed) % self.slots.len()];
        let connection = self.connection(slot).await?;
        match query(&connection, statement).await {
            Err(error) if connection.client.is_closed() => {
                drop(error);
                forget(slot, &connection);
                let connection = self.connection(slot).await?;
                query(&connection, statement)
                    .await
                    .map_err(|error| failed(&error))
            }
            rows => rows.map_err(|error| failed(&error)),
        }
    }

    async fn connection(
        &self,
        slot: &Mutex<Option<Arc<Connection>>>,
    ) -> Result<Arc<Connection>, DbErr> {
        let open = slot.lock().ok().and_then(|held| held.clone());
        if let Some(connection) = open.filter(|connection| !connection.client.is_closed()) {
            return Ok(connection);
        }
        let (client, driver) = self
            .config
            .connect(NoTls)
            .await
            .map_err(|error| failed(&error))?;
        tokio::spawn(async move {
            // Ends when the client is dropped or the server goes away; the
            // next read then opens a new connection.
            let _ = driver.await;
        });
        let connection = Arc::new(Connection {
            client,
            prepared: Mutex::new(HashMap::new()),
        });
        if let Ok(mut held) = slot.lock() {
            *held = Some(Arc::clone(&connection));
        }
        Ok(connection)
    }
}

/// Whether `host` is on this machine: a Unix socket or a loopback address.
fn is_local(host: &Host) -> bool {
    match host {
        Host::Tcp(name) => super::is_local_host(name),
        Host::Unix(_) => true,
    }
}

/// Drops `connection` from `slot`, if it is still the one there.
fn forget(slot: &Mutex<Option<Arc<Connection>>>, connection: &Arc<Connection>) {
    if let Ok(mut held) = slot.lock()
        && held
            .as_ref()
            .is_some_and(|open| Arc::ptr_eq(open, connection))
    {
        *held = None;
    }
}

async fn query(
    connection: &Connection,
    statement: &Statement,
) -> Result<Vec<Row>, tokio_postgres::Error> {
    let values = statement
        .values
        .as_ref()
        .map_or(&[][..], |values| &values.0[..]);
    let known = connection
        .prepared
        .lock()
        .ok()
        .and_then(|prepared| prepared.get(&statement.sql).cloned());
    let prepared = match known {
        Some(prepared) => prepared,
        None => {
            let types: Vec<Type> = values.iter().map(type_of).collect();
            let prepared = connection
                .client
                .prepare_typed(&statement.sql, &types)
                .await?;
            if let Ok(mut all) = connection.prepared.lock() {
                if all.len() >= PREPARED {
                    all.clear();
                }
                all.insert(statement.sql.clone(), prepared.clone());
            }
            prepared
        }
    };
    let binds: Vec<Bind<'_>> = values.iter().map(Bind).collect();
    let params: Vec<&(dyn ToSql + Sync)> = binds
        .iter()
        .map(|bind| bind as &(dyn ToSql + Sync))
        .collect();
    connection.client.query(&prepared, &params).await
}

/// A tokio-postgres error as SeaORM's, so that both paths fail alike: a
/// connection that broke or a server not accepting is `Conn`
/// ([`super::is_unreachable`]), anything else a failed query.
fn failed(error: &tokio_postgres::Error) -> DbErr {
    let unreachable = error.is_closed()
        || error
            .source()
            .is_some_and(|source| source.is::<std::io::Error>())
        || error.code().is_some_and(|code| {
            let code = code.code();
            code.starts_with("08") || code.starts_with("57P")
        });
    // tokio-postgres says "db error" and keeps what the server said in its
    // source: the message names both.
    let mut message = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        message.push_str(": ");
        message.push_str(&cause.to_string());
        source = cause.source();
    }
    let message = RuntimeErr::Internal(message);
    if unreachable {
        DbErr::Conn(message)
    } else {
        DbErr::Query(message)
    }
}

/// The type a value is bound as: the one sqlx would bind it as.
fn type_of(value: &Value) -> Type {
    match value {
        Value::Bool(_) => Type::BOOL,
        Value::TinyInt(_) | Value::SmallInt(_) | Value::TinyUnsigned(_) => Type::INT2,
        Value::Int(_) | Value::SmallUnsigned(_) => Type::INT4,
        Value::BigInt(_) | Value::Unsigned(_) | Value::BigUnsigned(_) => Type::INT8,
        Value::Float(_) => Type::FLOAT4,
        Value::Double(_) => Type::FLOAT8,
        Value::String(_) => Type::TEXT,
        Value::Bytes(_) => Type::BYTEA,
        Value::Uuid(_) => Type::UUID,
        Value::ChronoDateTimeUtc(_) => Type::TIMESTAMPTZ,
        Value::ChronoDateTime(_) => Type::TIMESTAMP,
        Value::ChronoDate(_) => Type::DATE,
        Value::Array(sea_orm::sea_query::ArrayType::Uuid, _) => Type::UUID_ARRAY,
        // Left to PostgreSQL to infer; `Bind` then refuses what it cannot write.
        _ => Type::UNKNOWN,
    }
}

/// A SeaORM value bound as the type [`type_of`] gave it.
#[derive(Debug)]
struct Bind<'a>(&'a Value);

impl ToSql for Bind<'_> {
    fn to_sql(
        &self,
        ty: &Type,
        out: &mut bytes::BytesMut,
    ) -> Result<IsNull, Box<dyn Error + Sync + Send>> {
        fn number<T: TryFrom<i128> + ToSql>(
            value: Option<i128>,
            ty: &Type,
            out: &mut bytes::BytesMut,
        ) -> Result<IsNull, Box<dyn Error + Sync + Send>>
        where
            T::Error: Error + Sync + Send + 'static,
        {
            value.map(T::try_from).transpose()?.to_sql(ty, out)
        }
        let integer = |value: Option<i128>, out: &mut bytes::BytesMut| match *ty {
            Type::INT2 => number::<i16>(value, ty, out),
            Type::INT4 => number::<i32>(value, ty, out),
            _ => number::<i64>(value, ty, out),
        };
        match self.0 {
            Value::Bool(value) => value.to_sql(ty, out),
            Value::TinyInt(value) => integer(value.map(i128::from), out),
            Value::SmallInt(value) => integer(value.map(i128::from), out),
            Value::Int(value) => integer(value.map(i128::from), out),
            Value::BigInt(value) => integer(value.map(i128::from), out),
            Value::TinyUnsigned(value) => integer(value.map(i128::from), out),
            Value::SmallUnsigned(value) => integer(value.map(i128::from), out),
            Value::Unsigned(value) => integer(value.map(i128::from), out),
            Value::BigUnsigned(value) => integer(value.map(i128::from), out),
            Value::Float(value) => value.to_sql(ty, out),
            Value::Double(value) => value.to_sql(ty, out),
            Value::String(value) => value.as_deref().to_sql(ty, out),
            Value::Bytes(value) => value.as_deref().to_sql(ty, out),
            Value::Uuid(value) => value.to_sql(ty, out),
            Value::ChronoDateTimeUtc(value) => value.to_sql(ty, out),
            Value::ChronoDateTime(value) => value.to_sql(ty, out),
            Value::ChronoDate(value) => value.to_sql(ty, out),
            Value::Array(_, values) => {
                let ids = values
                    .as_deref()
                    .map(|values| {
                        values
                            .iter()
                            .map(|value| match value {
                                Value::Uuid(id) => Ok(*id),
                                other => {
                                    Err(format!("no PostgreSQL binding for an array of {other:?}"))
                                }
                            })
                            .collect::<Result<Vec<Option<Uuid>>, _>>()
                    })
                    .transpose()?;
                ids.to_sql(ty, out)
            }
            other => Err(format!("no PostgreSQL binding for {other:?}").into()),
        }
    }

    fn accepts(_: &Type) -> bool {
        // The type was chosen from the value (`type_of`); `to_sql` writes it.
        true
    }

    to_sql_checked!();
}

impl Columns for Row {
    fn uuid(&self, at: usize) -> Result<Uuid, DbErr> {
        self.try_get(at).map_err(|error| unreadable(&error))
    }

    fn optional_uuid(&self, at: usize) -> Result<Option<Uuid>, DbErr> {
        self.try_get(at).map_err(|error| unreadable(&error))
    }

    fn text(&self, at: usize) -> Result<Option<String>, DbErr> {
        self.try_get(at).map_err(|error| unreadable(&error))
    }

    fn boolean(&self, at: usize) -> Result<Option<bool>, DbErr> {
        self.try_get(at).map_err(|error| unreadable(&error))
    }

    fn integer(&self, at: usize) -> Result<Option<i32>, DbErr> {
        let wide = self.big_integer(at)?;
        wide.map(|n| i32::try_from(n).map_err(|error| DbErr::Type(error.to_string())))
            .transpose()
    }

    fn big_integer(&self, at: usize) -> Result<Option<i64>, DbErr> {
        let column = self.columns().get(at).map(|column| column.type_().clone());
        match column {
            Some(Type::INT2) => Ok(self
                .try_get::<_, Option<i16>>(at)
                .map_err(|error| unreadable(&error))?
                .map(i64::from)),
            Some(Type::INT4) => Ok(self
                .try_get::<_, Option<i32>>(at)
                .map_err(|error| unreadable(&error))?
                .map(i64::from)),
            _ => self.try_get(at).map_err(|error| unreadable(&error)),
        }
    }

    fn time(&self, at: usize) -> Result<Option<DateTime<Utc>>, DbErr> {
        let column = self.columns().get(at).map(|column| column.type_().clone());
        if column == Some(Type::TIMESTAMP) {
            let naive: Option<NaiveDateTime> =
                self.try_get(at).map_err(|error| unreadable(&error))?;
            return Ok(naive.map(|time| time.and_utc()));
        }
        self.try_get(at).map_err(|error| unreadable(&error))
    }

    fn date(&self, at: usize) -> Result<Option<NaiveDate>, DbErr> {
        self.try_get(at).map_err(|error| unreadable(&error))
    }
}

fn unreadable(error: &tokio_postgres::Error) -> DbErr {
    DbErr::Type(error.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_postgres_urls_get_readers() {
        let open = |url| PostgresReads::open(url).is_some();
        assert!(open("postgres://postgres@127.0.0.1:5432/taskql"));
        assert!(open("postgresql://u:p@localhost/taskql?sslmode=prefer"));
        assert!(open("postgres://u@[::1]:5432/taskql"));
        assert!(open("postgres://u@db.internal/taskql?sslmode=disable"));
        // A server elsewhere may be reached over TLS by sqlx: never without.
        assert!(!open("postgres://u:p@db.internal/taskql"));
        assert!(!open("postgres://u@127.0.0.1/taskql?sslmode=require"));
        assert!(!open("sqlite://taskql.db?mode=rwc"));
    }

    #[test]
    fn values_are_bound_as_sqlx_binds_them() {
        assert_eq!(type_of(&Value::Uuid(None)), Type::UUID);
        assert_eq!(type_of(&Value::BigUnsigned(Some(21))), Type::INT8);
        assert_eq!(type_of(&Value::Int(Some(1))), Type::INT4);
        assert_eq!(type_of(&Value::String(None)), Type::TEXT);
        let ids = Value::Array(
            sea_orm::sea_query::ArrayType::Uuid,
            Some(Box::new(vec![Value::Uuid(Some(Uuid::nil()))])),
        );
        assert_eq!(type_of(&ids), Type::UUID_ARRAY);
        let mut out = bytes::BytesMut::new();
        let bound = Bind(&Value::BigUnsigned(Some(u64::MAX))).to_sql(&Type::INT8, &mut out);
        assert!(bound.is_err(), "a number too big for its type is refused");
    }
}
