//! Money in francs CFA (XOF). The franc has no minor unit, so an amount is a
//! whole number of francs; arithmetic is checked so a total never wraps.

use std::fmt;
use std::iter::Sum;

/// A whole number of francs CFA.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Fcfa(i64);

impl Fcfa {
    pub const ZERO: Fcfa = Fcfa(0);

    pub const fn new(francs: i64) -> Fcfa {
        Fcfa(francs)
    }

    pub const fn francs(self) -> i64 {
        self.0
    }

    /// `self + other`, or `None` on overflow.
    pub fn checked_add(self, other: Fcfa) -> Option<Fcfa> {
        self.0.checked_add(other.0).map(Fcfa)
    }

    /// `self × count`, or `None` on overflow.
    pub fn checked_mul(self, count: i64) -> Option<Fcfa> {
        self.0.checked_mul(count).map(Fcfa)
    }
}

impl Sum for Fcfa {
    /// Panics on overflow: no sum of real amounts comes near `i64::MAX` francs,
    /// so reaching it is a bug, not an input to handle.
    fn sum<I: Iterator<Item = Fcfa>>(iter: I) -> Fcfa {
        iter.fold(Fcfa::ZERO, |total, amount| {
            total.checked_add(amount).expect("FCFA total overflowed i64")
        })
    }
}

impl fmt::Display for Fcfa {
    /// Groups thousands with a space, as written in Mali: `30 000 FCFA`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let digits = self.0.unsigned_abs().to_string();
        let mut grouped = String::with_capacity(digits.len() + digits.len() / 3);
        for (i, digit) in digits.chars().enumerate() {
            if i > 0 && (digits.len() - i).is_multiple_of(3) {
                grouped.push(' ');
            }
            grouped.push(digit);
        }
        let sign = if self.0 < 0 { "-" } else { "" };
        write!(f, "{sign}{grouped} FCFA")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn displays_with_grouped_thousands() {
        assert_eq!(Fcfa::new(30_000).to_string(), "30 000 FCFA");
        assert_eq!(Fcfa::new(13_331_000_000).to_string(), "13 331 000 000 FCFA");
        assert_eq!(Fcfa::new(-500).to_string(), "-500 FCFA");
        assert_eq!(Fcfa::ZERO.to_string(), "0 FCFA");
    }

    #[test]
    fn arithmetic_is_checked() {
        assert_eq!(Fcfa::new(10_000).checked_mul(3), Some(Fcfa::new(30_000)));
        assert_eq!(Fcfa::new(i64::MAX).checked_add(Fcfa::new(1)), None);
        assert_eq!([Fcfa::new(1), Fcfa::new(2)].into_iter().sum::<Fcfa>(), Fcfa::new(3));
    }
}
