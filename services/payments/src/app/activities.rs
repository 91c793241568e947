//! What the activities service says is owed, learnt from its events as the
//! registry's households are: AGR grant tranches (`AgrGrantTrancheReleased`)
//! and HIMO wages (`HimoWagesDue`), each checked on its own, then recorded
//! through the inbox (each event once) for the AGR_GRANT and HIMO_WAGES
//! cycles of its quarter to freeze.
//!
//! The checks do not trust the publisher with the money rules: a wage line
//! must be its days × its daily wage and within the HIMO cap per household
//! per quarter, a tranche within the largest grant; an event that breaks
//! them is rejected (kept aside by the inbox, never paid).

use jigi_bus::{Decoded, EventHandler, ReceivedEvent, Rejection};
use jigi_common::component::HIMO_WAGE_CAP_PER_QUARTER;
use jigi_common::{Fcfa, Period};
use jigi_proto::common as pc;
use jigi_proto::events::{AgrGrantTrancheReleased, HimoWagesDue};
use jigi_storage::{Conn, StorageError};

use crate::domain::model::{CycleKind, MAX_AMOUNT_PER_HOUSEHOLD, Place};
use crate::storage::{self, ActivityEntitlement};

/// The activities service's events, as the payments service reads them.
#[derive(Debug, Default, Clone, Copy)]
pub struct ActivitiesProjection;

impl EventHandler for ActivitiesProjection {
    type Effect = ActivityEntitlement;

    fn decode(&self, event: &ReceivedEvent) -> Result<Option<ActivityEntitlement>, Rejection> {
        if event.is::<AgrGrantTrancheReleased>() {
            tranche(&event.decode()?).map(Some)
        } else if event.is::<HimoWagesDue>() {
            wages(&event.decode()?).map(Some)
        } else {
            Ok(None)
        }
    }

    fn apply(&self, conn: &mut Conn, events: &[Decoded<ActivityEntitlement>]) -> Result<(), StorageError> {
        for event in events {
            storage::record_activity_entitlement(conn, &event.effect)?;
        }
        Ok(())
    }
}

/// An AGR tranche as an amount owed.
pub fn tranche(e: &AgrGrantTrancheReleased) -> Result<ActivityEntitlement, Rejection> {
    let amount = amount(e.amount.as_ref())?;
    if amount > MAX_AMOUNT_PER_HOUSEHOLD {
        return Err(Rejection(format!(
            "tranche {} of {amount} is over the largest grant",
            e.tranche_id
        )));
    }
    if e.tranche_id.is_empty() {
        return Err(Rejection("the tranche has no ID".into()));
    }
    owed(
        CycleKind::AgrGrant,
        &e.household_id,
        &e.tranche_id,
        e.period.as_ref(),
        e.location.as_ref(),
        amount,
    )
}

/// A HIMO wage line as an amount owed: days × daily wage, within the cap.
pub fn wages(e: &HimoWagesDue) -> Result<ActivityEntitlement, Rejection> {
    let amount = amount(e.amount.as_ref())?;
    let daily = amount_of(e.daily_wage.as_ref());
    if e.days <= 0 || daily.checked_mul(e.days) != Some(amount) {
        return Err(Rejection(format!(
            "the wages of household {} are {amount}, not {} days × {daily}",
            e.household_id, e.days
        )));
    }
    if amount > HIMO_WAGE_CAP_PER_QUARTER {
        return Err(Rejection(format!(
            "the wages of household {} are {amount}, over the cap of {HIMO_WAGE_CAP_PER_QUARTER} a quarter",
            e.household_id
        )));
    }
    owed(
        CycleKind::HimoWages,
        &e.household_id,
        &e.site_id,
        e.period.as_ref(),
        e.location.as_ref(),
        amount,
    )
}

fn owed(
    kind: CycleKind,
    household_id: &str,
    reference: &str,
    period: Option<&pc::Period>,
    location: Option<&pc::Location>,
    amount: Fcfa,
) -> Result<ActivityEntitlement, Rejection> {
    if household_id.is_empty() {
        return Err(Rejection("the event names no household".into()));
    }
    let code = period.map(|p| p.code.as_str()).unwrap_or_default();
    let period = match code.parse::<Period>() {
        Ok(period @ Period::Quarter { .. }) => period,
        _ => return Err(Rejection(format!("{code:?} is not a quarter"))),
    };
    let location = location.ok_or_else(|| Rejection("the event has no location".into()))?;
    if location.region.is_empty() || location.cercle.is_empty() || location.commune.is_empty() {
        return Err(Rejection(
            "the event's location has no region, cercle or commune".into(),
        ));
    }
    Ok(ActivityEntitlement {
        kind,
        period,
        household_id: household_id.to_owned(),
        reference: reference.to_owned(),
        place: Place {
            region: location.region.clone(),
            cercle: location.cercle.clone(),
            commune: location.commune.clone(),
            village: location.village.clone(),
        },
        amount,
    })
}

fn amount_of(money: Option<&pc::Money>) -> Fcfa {
    Fcfa::new(money.map_or(0, |m| m.fcfa))
}

fn amount(money: Option<&pc::Money>) -> Result<Fcfa, Rejection> {
    let amount = amount_of(money);
    if amount <= Fcfa::ZERO {
        return Err(Rejection("the event has no positive amount".into()));
    }
    Ok(amount)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(days: i64, daily: i64, amount: i64) -> HimoWagesDue {
        HimoWagesDue {
            site_id: "sanando-piste-1".into(),
            household_id: "hh-1".into(),
            location: Some(pc::Location {
                region: "segou".into(),
                cercle: "segou.baroueli".into(),
                commune: "segou.baroueli.sanando".into(),
                village: String::new(),
            }),
            period: Some(pc::Period { code: "2018Q3".into() }),
            days,
            daily_wage: Some(pc::Money { fcfa: daily }),
            amount: Some(pc::Money { fcfa: amount }),
        }
    }

    #[test]
    fn wages_are_days_times_the_daily_wage_within_the_cap() {
        let owed = wages(&line(45, 2_000, 90_000)).unwrap();
        assert_eq!((owed.kind, owed.amount), (CycleKind::HimoWages, Fcfa::new(90_000)));
        assert_eq!(owed.period, "2018Q3".parse().unwrap());
        // Not days × rate: rejected.
        assert!(wages(&line(45, 2_000, 89_000)).is_err());
        // A wage over the cap is refused, even if the arithmetic is right.
        assert!(wages(&line(46, 2_000, 92_000)).is_err());
        let mut yearly = line(45, 2_000, 90_000);
        yearly.period = Some(pc::Period { code: "2018".into() });
        assert!(wages(&yearly).is_err());
    }
}
