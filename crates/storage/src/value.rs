//! Values going into statements and coming out of rows, the same on both
//! engines.
//!
//! Jigi stores five kinds of value (the storage conventions of the crate's
//! top page): integers (`BIGINT`), reals, text, bytes, and `NULL` of one of
//! those kinds. Flags are integers `0`/`1`, dates `YYYY-MM-DD` text, instants
//! RFC 3339 UTC text ([`crate::timestamp`]). A parameter is anything that
//! is [`ToSql`]; a column is read back as anything that is [`FromSql`].

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use chrono::{DateTime, NaiveDate, Utc};

use crate::StorageError;

/// The kind of a value, which PostgreSQL needs to know even of a `NULL`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    Int,
    Real,
    Text,
    Blob,
}

/// A parameter's value, borrowed from the caller for the time of a statement.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Value<'a> {
    Null(Kind),
    Int(i64),
    Real(f64),
    Text(&'a str),
    Blob(&'a [u8]),
}

impl Value<'_> {
    pub fn kind(&self) -> Kind {
        match self {
            Value::Null(kind) => *kind,
            Value::Int(_) => Kind::Int,
            Value::Real(_) => Kind::Real,
            Value::Text(_) => Kind::Text,
            Value::Blob(_) => Kind::Blob,
        }
    }
}

/// A value read from a row.
#[derive(Debug, Clone, PartialEq)]
pub enum Stored {
    Null,
    Int(i64),
    Real(f64),
    Text(String),
    Blob(Vec<u8>),
}

/// Something that can be bound to a placeholder.
pub trait ToSql {
    fn to_sql(&self) -> Value<'_>;
}

/// Parameters of a statement, in placeholder order: `params![a, b]`.
#[macro_export]
macro_rules! params {
    () => { &[] as &[&dyn $crate::ToSql] };
    ($($value:expr),+ $(,)?) => { &[$(&$value as &dyn $crate::ToSql),+] as &[&dyn $crate::ToSql] };
}

/// Something that can be read from a column.
pub trait FromSql: Sized {
    /// `Err` says what was found instead, for the decode error.
    fn from_sql(value: &Stored) -> Result<Self, String>;
}

macro_rules! int_to_sql {
    ($($t:ty),*) => {$(
        impl ToSql for $t {
            fn to_sql(&self) -> Value<'_> {
                Value::Int(i64::from(*self))
            }
        }
        impl FromSql for $t {
            fn from_sql(value: &Stored) -> Result<Self, String> {
                match value {
                    Stored::Int(int) => <$t>::try_from(*int).map_err(|_| format!("{int} is out of range")),
                    other => Err(format!("expected an integer, found {}", describe(other))),
                }
            }
        }
    )*};
}
int_to_sql!(i64, i32, u32, i16, u16, u8);

/// Counts and sizes: stored as `BIGINT`, so at most `i64::MAX`.
impl ToSql for usize {
    fn to_sql(&self) -> Value<'_> {
        Value::Int(i64::try_from(*self).unwrap_or(i64::MAX))
    }
}

impl FromSql for usize {
    fn from_sql(value: &Stored) -> Result<Self, String> {
        let int = i64::from_sql(value)?;
        usize::try_from(int).map_err(|_| format!("{int} is not a count"))
    }
}

impl ToSql for u64 {
    fn to_sql(&self) -> Value<'_> {
        Value::Int(i64::try_from(*self).unwrap_or(i64::MAX))
    }
}

impl FromSql for u64 {
    fn from_sql(value: &Stored) -> Result<Self, String> {
        let int = i64::from_sql(value)?;
        u64::try_from(int).map_err(|_| format!("{int} is negative"))
    }
}

/// Flags are `0`/`1` integers on both engines.
impl ToSql for bool {
    fn to_sql(&self) -> Value<'_> {
        Value::Int(i64::from(*self))
    }
}

impl FromSql for bool {
    fn from_sql(value: &Stored) -> Result<Self, String> {
        match value {
            Stored::Int(0) => Ok(false),
            Stored::Int(_) => Ok(true),
            other => Err(format!("expected a 0/1 flag, found {}", describe(other))),
        }
    }
}

impl ToSql for f64 {
    fn to_sql(&self) -> Value<'_> {
        Value::Real(*self)
    }
}

impl FromSql for f64 {
    fn from_sql(value: &Stored) -> Result<Self, String> {
        match value {
            Stored::Real(real) => Ok(*real),
            // SQLite returns a real column holding a whole number as an integer.
            Stored::Int(int) => Ok(*int as f64),
            other => Err(format!("expected a number, found {}", describe(other))),
        }
    }
}

impl ToSql for str {
    fn to_sql(&self) -> Value<'_> {
        Value::Text(self)
    }
}

impl ToSql for String {
    fn to_sql(&self) -> Value<'_> {
        Value::Text(self)
    }
}

impl FromSql for String {
    fn from_sql(value: &Stored) -> Result<Self, String> {
        text_of(value).map(str::to_owned)
    }
}

/// The text of a stored value, borrowed (for values parsed from text).
fn text_of(value: &Stored) -> Result<&str, String> {
    match value {
        Stored::Text(text) => Ok(text),
        other => Err(format!("expected text, found {}", describe(other))),
    }
}

impl ToSql for [u8] {
    fn to_sql(&self) -> Value<'_> {
        Value::Blob(self)
    }
}

impl ToSql for Vec<u8> {
    fn to_sql(&self) -> Value<'_> {
        Value::Blob(self)
    }
}

impl FromSql for Vec<u8> {
    fn from_sql(value: &Stored) -> Result<Self, String> {
        match value {
            Stored::Blob(bytes) => Ok(bytes.clone()),
            other => Err(format!("expected bytes, found {}", describe(other))),
        }
    }
}

/// Dates are bound as their text (`date.to_string()` is `YYYY-MM-DD`) or
/// with [`Owned::date`].
impl FromSql for NaiveDate {
    fn from_sql(value: &Stored) -> Result<Self, String> {
        let text = text_of(value)?;
        // `YYYY-MM-DD`, what `NaiveDate` parses without a format string.
        text.parse::<NaiveDate>()
            .map_err(|err| format!("bad stored date {text:?}: {err}"))
    }
}

impl FromSql for DateTime<Utc> {
    fn from_sql(value: &Stored) -> Result<Self, String> {
        crate::timestamp::parse(text_of(value)?).map_err(|err| err.to_string())
    }
}

impl<T: ToSql + ?Sized> ToSql for &T {
    fn to_sql(&self) -> Value<'_> {
        (**self).to_sql()
    }
}

impl<T: ToSql + ?Sized> ToSql for Box<T> {
    fn to_sql(&self) -> Value<'_> {
        (**self).to_sql()
    }
}

/// The kind a `NULL` of `T` has: what `T` binds as when it is present.
pub trait SqlKind {
    const KIND: Kind;
}

macro_rules! kinds {
    ($kind:ident: $($t:ty),*) => {$(impl SqlKind for $t { const KIND: Kind = Kind::$kind; })*};
}
kinds!(Int: i64, i32, u32, i16, u16, u8, usize, u64, bool);
kinds!(Real: f64);
kinds!(Text: str, String);
kinds!(Blob: [u8], Vec<u8>);

impl<T: SqlKind + ?Sized> SqlKind for &T {
    const KIND: Kind = T::KIND;
}

impl<T: ToSql + SqlKind> ToSql for Option<T> {
    fn to_sql(&self) -> Value<'_> {
        match self {
            Some(value) => value.to_sql(),
            None => Value::Null(T::KIND),
        }
    }
}

impl<T: FromSql> FromSql for Option<T> {
    fn from_sql(value: &Stored) -> Result<Self, String> {
        match value {
            Stored::Null => Ok(None),
            other => T::from_sql(other).map(Some),
        }
    }
}

/// An owned parameter, for statements built at run time (filters, many
/// rows) and for values that must be formatted first (dates, instants).
#[derive(Debug, Clone, PartialEq)]
pub enum Owned {
    Null(Kind),
    Int(i64),
    Real(f64),
    Text(String),
    Blob(Vec<u8>),
}

impl Owned {
    /// A date as stored: `YYYY-MM-DD`.
    pub fn date(date: NaiveDate) -> Owned {
        // `NaiveDate`'s display is `YYYY-MM-DD`, written without parsing
        // a format string.
        Owned::Text(date.to_string())
    }

    /// An instant as stored ([`crate::timestamp::format`]).
    pub fn instant(at: DateTime<Utc>) -> Owned {
        Owned::Text(crate::timestamp::format(at))
    }
}

impl From<Value<'_>> for Owned {
    fn from(value: Value<'_>) -> Owned {
        match value {
            Value::Null(kind) => Owned::Null(kind),
            Value::Int(int) => Owned::Int(int),
            Value::Real(real) => Owned::Real(real),
            Value::Text(text) => Owned::Text(text.to_owned()),
            Value::Blob(bytes) => Owned::Blob(bytes.to_vec()),
        }
    }
}

impl ToSql for Owned {
    fn to_sql(&self) -> Value<'_> {
        match self {
            Owned::Null(kind) => Value::Null(*kind),
            Owned::Int(int) => Value::Int(*int),
            Owned::Real(real) => Value::Real(*real),
            Owned::Text(text) => Value::Text(text),
            Owned::Blob(bytes) => Value::Blob(bytes),
        }
    }
}

impl From<i64> for Owned {
    fn from(value: i64) -> Self {
        Owned::Int(value)
    }
}

impl From<String> for Owned {
    fn from(value: String) -> Self {
        Owned::Text(value)
    }
}

impl From<&str> for Owned {
    fn from(value: &str) -> Self {
        Owned::Text(value.to_owned())
    }
}

impl From<f64> for Owned {
    fn from(value: f64) -> Self {
        Owned::Real(value)
    }
}

impl From<Vec<u8>> for Owned {
    fn from(value: Vec<u8>) -> Self {
        Owned::Blob(value)
    }
}

impl<T: Into<Owned> + SqlKind> From<Option<T>> for Owned {
    fn from(value: Option<T>) -> Self {
        value.map_or(Owned::Null(T::KIND), Into::into)
    }
}

fn describe(value: &Stored) -> &'static str {
    match value {
        Stored::Null => "NULL",
        Stored::Int(_) => "an integer",
        Stored::Real(_) => "a real",
        Stored::Text(_) => "text",
        Stored::Blob(_) => "bytes",
    }
}

/// One row of a result.
#[derive(Debug)]
pub struct Row {
    columns: Arc<[String]>,
    values: Vec<Stored>,
    /// Where the next column looked up by name probably is: readers take
    /// a row's columns mostly in the order they selected them, so a lookup
    /// by name is one comparison rather than a scan of every name.
    next: AtomicUsize,
}

impl Clone for Row {
    fn clone(&self) -> Row {
        Row::new(self.columns.clone(), self.values.clone())
    }
}

/// A column by position (from 0) or by name.
pub trait Column {
    fn position(&self, row: &Row) -> Option<usize>;
    fn describe(&self) -> String;
}

impl Column for usize {
    fn position(&self, row: &Row) -> Option<usize> {
        (*self < row.values.len()).then_some(*self)
    }
    fn describe(&self) -> String {
        format!("column {self}")
    }
}

impl Column for &str {
    fn position(&self, row: &Row) -> Option<usize> {
        let hint = row.next.load(Ordering::Relaxed);
        let position = match row.columns.get(hint) {
            Some(name) if name.eq_ignore_ascii_case(self) => hint,
            _ => row.columns.iter().position(|name| name.eq_ignore_ascii_case(self))?,
        };
        row.next.store(position + 1, Ordering::Relaxed);
        Some(position)
    }
    fn describe(&self) -> String {
        format!("column {self:?}")
    }
}

impl Row {
    pub(crate) fn new(columns: Arc<[String]>, values: Vec<Stored>) -> Row {
        Row {
            columns,
            values,
            next: AtomicUsize::new(0),
        }
    }

    /// The value of a column, converted.
    pub fn get<T: FromSql>(&self, column: impl Column) -> Result<T, StorageError> {
        let position = column
            .position(self)
            .ok_or_else(|| StorageError::Decode(format!("no {} in the result", column.describe())))?;
        T::from_sql(&self.values[position])
            .map_err(|reason| StorageError::Decode(format!("{}: {reason}", column.describe())))
    }

    /// The raw value of a column.
    pub fn stored(&self, position: usize) -> Option<&Stored> {
        self.values.get(position)
    }

    pub fn len(&self) -> usize {
        self.values.len()
    }

    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_columns_by_position_and_name_and_says_what_is_wrong() {
        let row = Row::new(
            Arc::from(vec!["id".to_owned(), "note".to_owned(), "score".to_owned()]),
            vec![Stored::Int(7), Stored::Null, Stored::Int(3)],
        );
        assert_eq!(row.get::<i64>(0).unwrap(), 7);
        assert_eq!(row.get::<Option<String>>("NOTE").unwrap(), None);
        assert_eq!(row.get::<f64>("score").unwrap(), 3.0);
        let err = row.get::<String>("id").unwrap_err().to_string();
        assert!(err.contains("column \"id\"") && err.contains("expected text"), "{err}");
        assert!(row.get::<i64>("missing").is_err());
        assert!(row.get::<u8>(0).is_ok());
        assert!(matches!(None::<i64>.to_sql(), Value::Null(Kind::Int)));
    }

    #[test]
    fn finds_columns_by_name_in_any_order_and_twice() {
        let names = ["a", "b", "c", "d"];
        let row = Row::new(
            Arc::from(names.map(str::to_owned).to_vec()),
            vec![Stored::Int(0), Stored::Int(1), Stored::Int(2), Stored::Int(3)],
        );
        // In order, backwards, repeated, after a miss: each name still
        // finds its own value whatever the last lookup was.
        for name in ["a", "b", "c", "d", "d", "c", "a", "missing", "b", "b", "d", "a"] {
            let expected = names.iter().position(|n| *n == name);
            assert_eq!(row.get::<i64>(name).ok(), expected.map(|p| p as i64), "{name}");
        }
        let copy = row.clone();
        assert_eq!(copy.get::<i64>("c").unwrap(), 2);
    }

    #[test]
    fn dates_and_instants_read_from_their_stored_text() {
        let date = NaiveDate::from_ymd_opt(2018, 10, 1).unwrap();
        let Owned::Text(text) = Owned::date(date) else {
            panic!("a date is stored as text")
        };
        assert_eq!(text, "2018-10-01");
        assert_eq!(NaiveDate::from_sql(&Stored::Text(text)).unwrap(), date);
        for bad in ["2018-13-01", "01/10/2018", "2018-10-01T00:00:00Z", ""] {
            assert!(NaiveDate::from_sql(&Stored::Text(bad.into())).is_err(), "{bad}");
        }
        assert!(NaiveDate::from_sql(&Stored::Int(20181001)).is_err());
        let at: DateTime<Utc> = "2018-10-01T08:00:00.5Z".parse().unwrap();
        let stored = Stored::Text(crate::timestamp::format(at));
        assert_eq!(DateTime::<Utc>::from_sql(&stored).unwrap(), at);
    }
}
