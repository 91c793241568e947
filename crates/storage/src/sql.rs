//! Building statements whose size depends on the data (multi-row inserts,
//! `IN (…)` lists) with numbered placeholders that both backends accept.
//!
//! sqlx's `QueryBuilder` writes `?` placeholders for the `Any` driver, which
//! PostgreSQL rejects; these helpers write `$n`.

use std::fmt::Write;

/// `($1, $2, $3), ($4, $5, $6)` for `rows` rows of `columns` values each,
/// numbering from `$first`.
pub fn values_rows(rows: usize, columns: usize, first: usize) -> String {
    let mut sql = String::with_capacity(rows * columns * 5);
    let mut n = first;
    for row in 0..rows {
        if row > 0 {
            sql.push_str(", ");
        }
        sql.push('(');
        for column in 0..columns {
            if column > 0 {
                sql.push_str(", ");
            }
            write!(sql, "${n}").expect("writing to a String cannot fail");
            n += 1;
        }
        sql.push(')');
    }
    sql
}

/// `$first, $first+1, …` for an `IN (…)` list of `count` values.
pub fn list(count: usize, first: usize) -> String {
    (first..first + count)
        .map(|n| format!("${n}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A value to bind, for statements whose shape depends on the request.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Text(String),
    Int(i64),
    Real(f64),
}

/// A `WHERE` clause built from optional filters, numbering its placeholders.
///
/// ```
/// # use jigi_storage::sql::{Filter, Value};
/// let mut filter = Filter::new();
/// filter.add("commune = {}", Value::Text("mopti.mopti.sio".into()));
/// filter.add("score <= {}", Value::Real(30.0));
/// assert_eq!(filter.where_sql(), " WHERE commune = $1 AND score <= $2");
/// ```
#[derive(Debug, Default, Clone)]
pub struct Filter {
    clauses: Vec<String>,
    values: Vec<Value>,
}

impl Filter {
    pub fn new() -> Filter {
        Filter::default()
    }

    /// Adds a condition; each `{}` in it becomes a placeholder for `value`
    /// (use it once, or several times for the same value).
    pub fn add(&mut self, condition: &str, value: Value) {
        self.values.push(value);
        let placeholder = format!("${}", self.values.len());
        self.clauses.push(condition.replace("{}", &placeholder));
    }

    /// Adds a condition without a value.
    pub fn add_plain(&mut self, condition: &str) {
        self.clauses.push(condition.to_owned());
    }

    /// ` WHERE a AND b`, or nothing when there is no condition.
    pub fn where_sql(&self) -> String {
        if self.clauses.is_empty() {
            String::new()
        } else {
            format!(" WHERE {}", self.clauses.join(" AND "))
        }
    }

    /// Number of the next placeholder, for what follows the `WHERE` (e.g. `LIMIT`).
    pub fn next_placeholder(&self) -> usize {
        self.values.len() + 1
    }

    /// The values in placeholder order.
    pub fn values(&self) -> &[Value] {
        &self.values
    }
}

/// Binds filter values to a query, in order.
pub fn bind_values<'q>(
    mut query: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments>,
    values: &[Value],
) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments> {
    for value in values {
        query = match value {
            Value::Text(text) => query.bind(text.clone()),
            Value::Int(int) => query.bind(*int),
            Value::Real(real) => query.bind(*real),
        };
    }
    query
}

/// Most bound values one statement may carry: SQLite's default limit is
/// 32,766, PostgreSQL's 65,535.
pub const MAX_BINDS: usize = 32_000;

/// How many rows of `columns` values fit in one statement.
pub fn rows_per_statement(columns: usize) -> usize {
    (MAX_BINDS / columns).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_placeholders_across_rows() {
        assert_eq!(values_rows(2, 3, 1), "($1, $2, $3), ($4, $5, $6)");
        assert_eq!(values_rows(1, 1, 4), "($4)");
        assert_eq!(list(3, 2), "$2, $3, $4");
        assert_eq!(rows_per_statement(10), 3_200);
    }
}
