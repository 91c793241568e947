//! Building statements whose size depends on the data (multi-row inserts,
//! `IN (…)` lists, optional filters).
//!
//! Placeholders differ by engine, and it matters for speed: PostgreSQL needs
//! numbered `$n`; SQLite accepts `$n` too, but sqlx's SQLite driver looks up
//! every numbered placeholder by name and SQLite finds a name by scanning the
//! statement's list, so binding n of them costs n²/2 steps (an import spent
//! 87% of its time in `sqlite3_bind_parameter_name`). Anonymous `?`
//! placeholders have no name to look up. [`Placeholders`] writes `?` for
//! SQLite and `$n` for PostgreSQL; values are always bound in order.
//! Statements with a handful of fixed placeholders simply use `$n`.

use crate::conn::{Backend, Conn};
use crate::value::{Owned, ToSql};

/// Writes the placeholders of one statement, in binding order.
#[derive(Debug, Clone)]
pub struct Placeholders {
    numbered: bool,
    next: usize,
}

impl Placeholders {
    /// Placeholders for a statement run on `conn`.
    pub fn for_connection(conn: &Conn) -> Placeholders {
        Placeholders {
            numbered: conn.backend() == Backend::Postgres,
            next: 1,
        }
    }

    /// Numbered placeholders (`$1`, `$2`, …), as PostgreSQL needs.
    pub fn numbered() -> Placeholders {
        Placeholders {
            numbered: true,
            next: 1,
        }
    }

    /// Anonymous placeholders (`?`), which SQLite binds fastest.
    pub fn anonymous() -> Placeholders {
        Placeholders {
            numbered: false,
            next: 1,
        }
    }

    /// The next placeholder.
    pub fn one(&mut self) -> String {
        let placeholder = if self.numbered {
            format!("${}", self.next)
        } else {
            "?".to_owned()
        };
        self.next += 1;
        placeholder
    }

    /// `(…), (…)` for `rows` rows of `columns` values each.
    ///
    /// Written into one string: built for every batch a writer applies,
    /// thousands of placeholders each, a string per placeholder cost more
    /// than binding the values.
    pub fn rows(&mut self, rows: usize, columns: usize) -> String {
        let mut out = String::with_capacity(rows * (columns * self.width() + 4));
        for row in 0..rows {
            if row > 0 {
                out.push_str(", ");
            }
            out.push('(');
            self.write_list(&mut out, columns);
            out.push(')');
        }
        out
    }

    /// `…, …, …` for an `IN (…)` list of `count` values.
    pub fn list(&mut self, count: usize) -> String {
        let mut out = String::with_capacity(count * self.width());
        self.write_list(&mut out, count);
        out
    }

    fn write_list(&mut self, out: &mut String, count: usize) {
        use std::fmt::Write as _;
        for index in 0..count {
            if index > 0 {
                out.push_str(", ");
            }
            if self.numbered {
                let _ = write!(out, "${}", self.next);
            } else {
                out.push('?');
            }
            self.next += 1;
        }
    }

    /// About how many bytes a placeholder and its separator take.
    fn width(&self) -> usize {
        if self.numbered { 8 } else { 3 }
    }
}

/// Splits `rows` into chunks of a few fixed sizes: full chunks of `most`,
/// then the rest in powers of two (… 4, 2, 1). A statement built per chunk
/// thus comes in a handful of shapes, each prepared once and reused
/// whatever the batch sizes, instead of a new shape (a new parse, another
/// entry pushed out of the statement cache) for every batch's remainder.
pub fn chunks<T>(rows: &[T], most: usize) -> impl Iterator<Item = &[T]> {
    let most = most.max(1);
    let mut rest = rows;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let size = if rest.len() >= most {
            most
        } else {
            // The largest power of two not above what is left.
            1 << (usize::BITS - 1 - rest.len().leading_zeros())
        };
        let (chunk, after) = rest.split_at(size);
        rest = after;
        Some(chunk)
    })
}

/// A `WHERE` clause built from optional filters, numbering its placeholders.
///
/// ```
/// # use jigi_storage::{Owned, sql::Filter};
/// let mut filter = Filter::new();
/// filter.add("commune = {}", Owned::Text("mopti.mopti.sio".into()));
/// filter.add("score <= {}", Owned::Real(30.0));
/// assert_eq!(filter.where_sql(), " WHERE commune = $1 AND score <= $2");
/// ```
#[derive(Debug, Default, Clone)]
pub struct Filter {
    clauses: Vec<String>,
    values: Vec<Owned>,
}

impl Filter {
    pub fn new() -> Filter {
        Filter::default()
    }

    /// Adds a condition; each `{}` in it becomes a placeholder for `value`
    /// (use it once, or several times for the same value).
    pub fn add(&mut self, condition: &str, value: impl Into<Owned>) {
        let value = value.into();
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
    pub fn values(&self) -> &[Owned] {
        &self.values
    }

    /// The values as parameters, followed by `more` (e.g. a `LIMIT`).
    pub fn params<'a>(&'a self, more: &[&'a dyn ToSql]) -> Vec<&'a dyn ToSql> {
        self.values
            .iter()
            .map(|value| value as &dyn ToSql)
            .chain(more.iter().copied())
            .collect()
    }
}

/// Most bound values one statement carries: under SQLite's limit (32,766)
/// and PostgreSQL's (65,535).
pub const MAX_BINDS: usize = 30_000;

/// How many rows of `columns` values fit in one statement.
pub fn rows_per_statement(columns: usize) -> usize {
    (MAX_BINDS / columns).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_placeholders_across_rows_or_leaves_them_anonymous() {
        let mut numbered = Placeholders::numbered();
        assert_eq!(numbered.one(), "$1");
        assert_eq!(numbered.rows(2, 3), "($2, $3, $4), ($5, $6, $7)");
        assert_eq!(numbered.list(2), "$8, $9");
        let mut anonymous = Placeholders::anonymous();
        assert_eq!(anonymous.rows(2, 2), "(?, ?), (?, ?)");
        assert_eq!(anonymous.list(3), "?, ?, ?");
        assert_eq!(rows_per_statement(10), 3_000);
    }

    #[test]
    fn chunks_come_in_few_sizes_and_cover_every_row() {
        let rows: Vec<usize> = (0..1_000).collect();
        let sizes: Vec<usize> = chunks(&rows, 128).map(<[usize]>::len).collect();
        assert_eq!(sizes, [128, 128, 128, 128, 128, 128, 128, 64, 32, 8]);
        let again: Vec<usize> = chunks(&rows, 128).flatten().copied().collect();
        assert_eq!(again, rows);
        assert_eq!(chunks(&rows[..0], 128).count(), 0);
        assert_eq!(chunks(&rows[..3], 0).map(<[usize]>::len).collect::<Vec<_>>(), [1, 1, 1]);
    }
}
