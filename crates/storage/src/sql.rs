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
