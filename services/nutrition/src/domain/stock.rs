//! A warehouse's lots and how flour leaves them.
//!
//! - Stock on hand is never negative: every withdrawal is checked against
//!   what the lot (or the warehouse) holds before anything is written.
//! - A lot may be distributed up to and including its expiry date; from the
//!   next day it is expired and only a loss can take it out.
//! - Rations are drawn earliest expiry first (FEFO), then by lot number; a
//!   ration may span two lots.

use chrono::NaiveDate;

/// Flour received into a warehouse, to record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Receipt {
    pub warehouse_id: String,
    pub lot_number: String,
    pub expires_on: NaiveDate,
    pub grams: i64,
    pub received_on: NaiveDate,
    /// The waybill's reference; may be empty.
    pub waybill: String,
}

/// Flour of one lot moved from a warehouse to another, to record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StockTransfer {
    pub from_id: String,
    pub to_id: String,
    pub lot_number: String,
    pub grams: i64,
    pub on: NaiveDate,
}

/// Flour lost from a lot, to record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Loss {
    pub warehouse_id: String,
    pub lot_number: String,
    pub grams: i64,
    pub on: NaiveDate,
    pub reason: LossReason,
    /// Required when the reason is `Other`; may be empty otherwise.
    pub note: String,
}

/// What a stock movement is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MovementKind {
    Receipt,
    TransferOut,
    TransferIn,
    Loss,
    Distribution,
}

impl MovementKind {
    pub fn code(self) -> &'static str {
        match self {
            MovementKind::Receipt => "receipt",
            MovementKind::TransferOut => "transfer_out",
            MovementKind::TransferIn => "transfer_in",
            MovementKind::Loss => "loss",
            MovementKind::Distribution => "distribution",
        }
    }

    pub fn from_code(code: &str) -> Option<MovementKind> {
        [
            MovementKind::Receipt,
            MovementKind::TransferOut,
            MovementKind::TransferIn,
            MovementKind::Loss,
            MovementKind::Distribution,
        ]
        .into_iter()
        .find(|k| k.code() == code)
    }
}

/// One movement of flour in (positive grams) or out (negative) of a lot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Movement {
    pub movement_id: String,
    pub warehouse_id: String,
    pub lot_number: String,
    pub kind: MovementKind,
    pub grams: i64,
    pub occurred_on: NaiveDate,
    /// The waybill, transfer ID or distribution ID it belongs to.
    pub reference: String,
    /// For a loss: its reason code.
    pub reason: Option<String>,
    pub note: Option<String>,
}

/// Why flour was lost.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LossReason {
    Damaged,
    Expired,
    Spoiled,
    Theft,
    Other,
}

impl LossReason {
    pub const ALL: [LossReason; 5] = [
        LossReason::Damaged,
        LossReason::Expired,
        LossReason::Spoiled,
        LossReason::Theft,
        LossReason::Other,
    ];

    pub fn code(self) -> &'static str {
        match self {
            LossReason::Damaged => "damaged",
            LossReason::Expired => "expired",
            LossReason::Spoiled => "spoiled",
            LossReason::Theft => "theft",
            LossReason::Other => "other",
        }
    }
}

/// One lot of one warehouse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lot {
    pub lot_number: String,
    pub expires_on: NaiveDate,
    pub on_hand: i64,
}

impl Lot {
    /// Whether the lot may no longer be distributed on `on`.
    pub fn expired_on(&self, on: NaiveDate) -> bool {
        is_expired(self.expires_on, on)
    }
}

/// A lot whose expiry date is `expires_on` is expired on `on` when `on` is later.
pub fn is_expired(expires_on: NaiveDate, on: NaiveDate) -> bool {
    on > expires_on
}

/// Why a ration cannot be drawn.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Shortage {
    /// Not enough flour, expired or not.
    Insufficient { usable: i64, needed: i64 },
    /// Enough flour, but part of what would be needed is expired.
    OnlyExpired { usable: i64, expired: i64, needed: i64 },
}

impl Shortage {
    pub fn explain(&self, warehouse_id: &str) -> String {
        match self {
            Shortage::Insufficient { usable, needed } => {
                format!("warehouse {warehouse_id} holds {usable} g of usable flour; the ration needs {needed} g")
            }
            Shortage::OnlyExpired {
                usable,
                expired,
                needed,
            } => format!(
                "warehouse {warehouse_id} holds {usable} g of usable flour and {expired} g of expired flour, \
                 which cannot be distributed; the ration needs {needed} g"
            ),
        }
    }
}

/// Grams taken from one lot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Draw {
    pub lot_number: String,
    pub grams: i64,
}

/// The lots of one warehouse, in distribution order (FEFO), as they stand
/// within a transaction: draws change them in memory, and the caller writes
/// the changes once.
#[derive(Debug, Clone, Default)]
pub struct LotBook {
    lots: Vec<Lot>,
}

impl LotBook {
    pub fn new(mut lots: Vec<Lot>) -> LotBook {
        lots.sort_by(|a, b| (a.expires_on, &a.lot_number).cmp(&(b.expires_on, &b.lot_number)));
        LotBook { lots }
    }

    pub fn lots(&self) -> &[Lot] {
        &self.lots
    }

    pub fn total(&self) -> i64 {
        self.lots.iter().map(|l| l.on_hand).sum()
    }

    /// Flour that may be distributed on `on`.
    pub fn usable(&self, on: NaiveDate) -> i64 {
        self.lots.iter().filter(|l| !l.expired_on(on)).map(|l| l.on_hand).sum()
    }

    /// Takes a ration of `grams` on `on`, earliest expiry first, or says why
    /// not (and then changes nothing).
    pub fn draw(&mut self, grams: i64, on: NaiveDate) -> Result<Vec<Draw>, Shortage> {
        let usable = self.usable(on);
        if usable < grams {
            let total = self.total();
            return Err(if total >= grams {
                Shortage::OnlyExpired {
                    usable,
                    expired: total - usable,
                    needed: grams,
                }
            } else {
                Shortage::Insufficient { usable, needed: grams }
            });
        }
        let mut left = grams;
        let mut draws = Vec::with_capacity(1);
        for lot in self.lots.iter_mut().filter(|l| !l.expired_on(on) && l.on_hand > 0) {
            let take = left.min(lot.on_hand);
            lot.on_hand -= take;
            left -= take;
            draws.push(Draw {
                lot_number: lot.lot_number.clone(),
                grams: take,
            });
            if left == 0 {
                break;
            }
        }
        debug_assert_eq!(left, 0, "usable stock was checked");
        Ok(draws)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    fn lot(number: &str, expires: &str, grams: i64) -> Lot {
        Lot {
            lot_number: number.into(),
            expires_on: d(expires),
            on_hand: grams,
        }
    }

    #[test]
    fn draws_earliest_expiry_first_across_lots() {
        let mut book = LotBook::new(vec![lot("B", "2019-06-30", 10_000), lot("A", "2019-01-31", 3_000)]);
        let draws = book.draw(4_500, d("2018-10-01")).unwrap();
        assert_eq!(
            draws,
            [
                Draw {
                    lot_number: "A".into(),
                    grams: 3_000
                },
                Draw {
                    lot_number: "B".into(),
                    grams: 1_500
                }
            ]
        );
        assert_eq!(book.total(), 8_500);
    }

    #[test]
    fn expired_lots_are_never_drawn_and_shortages_change_nothing() {
        let mut book = LotBook::new(vec![lot("OLD", "2018-09-30", 10_000), lot("NEW", "2019-06-30", 1_000)]);
        assert_eq!(book.usable(d("2018-09-30")), 11_000, "usable on its expiry date");
        assert_eq!(
            book.draw(4_500, d("2018-10-01")),
            Err(Shortage::OnlyExpired {
                usable: 1_000,
                expired: 10_000,
                needed: 4_500
            })
        );
        assert_eq!(book.total(), 11_000, "nothing taken");
        assert_eq!(
            book.draw(20_000, d("2018-10-01")),
            Err(Shortage::Insufficient {
                usable: 1_000,
                needed: 20_000
            })
        );
        let draws = book.draw(1_000, d("2018-10-01")).unwrap();
        assert_eq!(draws.len(), 1);
        assert_eq!(draws[0].lot_number, "NEW");
        assert_eq!(book.usable(d("2018-10-01")), 0);
        assert!(book.draw(1, d("2018-10-01")).is_err(), "never below zero");
    }
}
