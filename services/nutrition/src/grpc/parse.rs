//! Turning what a client sends into valid domain values (wire → domain).
//! Every problem is reported with the path of its field, all at once, and
//! nothing is built unless everything is valid; the commands of
//! [`crate::app`] receive only what is built here. The checks shared by
//! several fields are the domain's ([`crate::domain::validate`]).

use chrono::{Datelike, NaiveDate};
use jigi_common::geography::AreaLevel;
use jigi_common::{FieldError, HouseholdId, MemberId, Problems};
use jigi_proto::nutrition as pn;

use crate::app::{BatchLines, BeneficiaryQuery};
use crate::domain::model::{DistributionLine, Location, Rations, Refusal, Warehouse};
use crate::domain::stock::{Loss, LossReason, Receipt, StockTransfer, is_expired};
use crate::domain::validate::{
    MAX_BATCH_LINES, MAX_NAME_CHARS, MAX_NOTE_CHARS, MAX_RECEIPT_GRAMS, MAX_WAYBILL_CHARS, NewRound, Rules, grams,
    lot_number, text, warehouse_id,
};

type Parsed<T> = Result<T, Vec<FieldError>>;

/// Default and largest page of `ListBeneficiaries`.
const DEFAULT_PAGE_SIZE: usize = 100;
const MAX_PAGE_SIZE: usize = 1_000;

/// `OpenRound`.
pub fn new_round(rules: &Rules<'_>, request: &pn::OpenRoundRequest) -> Parsed<NewRound> {
    let mut problems = Problems::new();
    match round(rules, request, &mut problems) {
        Some(new) if problems.is_empty() => Ok(new),
        _ => Err(problems.into_errors()),
    }
}

/// `CloseRound`: the round and the day it closed.
pub fn round_closing(rules: &Rules<'_>, request: &pn::CloseRoundRequest) -> Parsed<(String, NaiveDate)> {
    let mut problems = Problems::new();
    let on = rules.past_date(&request.closed_on, "closed_on", &mut problems);
    if request.round_id.is_empty() {
        problems.add("round_id", "is required");
    }
    problems.into_result(|| (request.round_id.clone(), on.expect("checked")))
}

/// A round's ID: required (an unknown one is `NOT_FOUND`).
pub fn round_id(round_id: &str) -> Parsed<String> {
    if round_id.is_empty() {
        return Err(vec![FieldError::new("round_id", "is required")]);
    }
    Ok(round_id.to_owned())
}

/// `RegisterWarehouse`: a new warehouse, registered now.
pub fn new_warehouse(rules: &Rules<'_>, request: &pn::RegisterWarehouseRequest) -> Parsed<Warehouse> {
    let mut problems = Problems::new();
    let warehouse_id = problems.check("warehouse_id", warehouse_id(&request.warehouse_id));
    let name = problems.check("name", text(&request.name, MAX_NAME_CHARS));
    let location = rules.commune(&request.commune, "commune", &mut problems);
    problems.into_result(|| Warehouse {
        warehouse_id: warehouse_id.expect("checked"),
        name: name.expect("checked"),
        location: location.expect("checked"),
        registered_at: jigi_storage::timestamp::now_utc(),
    })
}

/// An area to filter by (`area`); `None` for the whole region.
pub fn area(rules: &Rules<'_>, code: &str) -> Parsed<Option<(AreaLevel, String)>> {
    let mut problems = Problems::new();
    let area = rules.area(code, "area", &mut problems);
    problems.into_result(|| area)
}

/// `GetStock`: the warehouse and the day its lots are judged on.
pub fn stock_query(rules: &Rules<'_>, request: &pn::GetStockRequest) -> Parsed<(String, NaiveDate)> {
    let mut problems = Problems::new();
    let on = rules.date_or_today(&request.on, "on", &mut problems);
    let id = problems.check("warehouse_id", warehouse_id(&request.warehouse_id));
    problems.into_result(|| (id.expect("checked"), on.expect("checked")))
}

/// `ReceiveStock`.
pub fn receipt(rules: &Rules<'_>, request: &pn::ReceiveStockRequest) -> Parsed<Receipt> {
    let mut problems = Problems::new();
    let warehouse_id = problems.check("warehouse_id", warehouse_id(&request.warehouse_id));
    let lot_number = problems.check("lot_number", lot_number(&request.lot_number));
    let expires_on = rules.date(&request.expires_on, "expires_on", &mut problems);
    let grams = problems.check("grams", grams(request.grams, MAX_RECEIPT_GRAMS));
    let received_on = rules.past_date(&request.received_on, "received_on", &mut problems);
    let waybill = problems.check("waybill", text(&request.waybill, MAX_WAYBILL_CHARS));
    if let (Some(expires), Some(received)) = (expires_on, received_on)
        && is_expired(expires, received)
    {
        problems.add(
            "expires_on",
            format!("the lot expired on {expires}, before it was received on {received}"),
        );
    }
    problems.into_result(|| Receipt {
        warehouse_id: warehouse_id.expect("checked"),
        lot_number: lot_number.expect("checked"),
        expires_on: expires_on.expect("checked"),
        grams: grams.expect("checked"),
        received_on: received_on.expect("checked"),
        waybill: waybill.expect("checked"),
    })
}

/// `TransferStock`.
pub fn stock_transfer(rules: &Rules<'_>, request: &pn::TransferStockRequest) -> Parsed<StockTransfer> {
    let mut problems = Problems::new();
    let from_id = problems.check("from_warehouse_id", warehouse_id(&request.from_warehouse_id));
    let to_id = problems.check("to_warehouse_id", warehouse_id(&request.to_warehouse_id));
    if from_id.is_some() && from_id == to_id {
        problems.add("to_warehouse_id", "is the same as from_warehouse_id");
    }
    let lot_number = problems.check("lot_number", lot_number(&request.lot_number));
    let grams = problems.check("grams", grams(request.grams, MAX_RECEIPT_GRAMS));
    let on = rules.past_date(&request.transferred_on, "transferred_on", &mut problems);
    problems.into_result(|| StockTransfer {
        from_id: from_id.expect("checked"),
        to_id: to_id.expect("checked"),
        lot_number: lot_number.expect("checked"),
        grams: grams.expect("checked"),
        on: on.expect("checked"),
    })
}

/// `RecordLoss`.
pub fn loss(rules: &Rules<'_>, request: &pn::RecordLossRequest) -> Parsed<Loss> {
    let mut problems = Problems::new();
    let warehouse_id = problems.check("warehouse_id", warehouse_id(&request.warehouse_id));
    let lot_number = problems.check("lot_number", lot_number(&request.lot_number));
    let grams = problems.check("grams", grams(request.grams, MAX_RECEIPT_GRAMS));
    let on = rules.past_date(&request.occurred_on, "occurred_on", &mut problems);
    let reason = problems.check(
        "reason",
        loss_reason(request.reason).ok_or_else(|| match request.reason {
            0 => "is required".to_owned(),
            other => format!("has unknown value {other}"),
        }),
    );
    let note = problems.check("note", text(&request.note, MAX_NOTE_CHARS));
    if reason == Some(LossReason::Other) && note.as_deref() == Some("") {
        problems.add("note", "is required when the reason is LOSS_REASON_OTHER");
    }
    problems.into_result(|| Loss {
        warehouse_id: warehouse_id.expect("checked"),
        lot_number: lot_number.expect("checked"),
        grams: grams.expect("checked"),
        on: on.expect("checked"),
        reason: reason.expect("checked"),
        note: note.expect("checked"),
    })
}

/// `RecordDistribution`: the round, the warehouse and the line.
pub fn distribution(
    rules: &Rules<'_>,
    request: &pn::RecordDistributionRequest,
) -> Parsed<(String, String, DistributionLine)> {
    let mut problems = Problems::new();
    if request.round_id.is_empty() {
        problems.add("round_id", "is required");
    }
    let warehouse_id = problems.check("warehouse_id", warehouse_id(&request.warehouse_id));
    let line = line(
        rules,
        &request.household_id,
        &request.member_id,
        &request.distributed_on,
        "",
        &mut problems,
    );
    problems.into_result(|| {
        (
            request.round_id.clone(),
            warehouse_id.expect("checked"),
            line.expect("checked"),
        )
    })
}

/// `RecordDistributionBatch`: the round, the warehouse and every line's
/// outcome of validation. Only the batch's own fields refuse it whole.
pub fn distribution_batch(
    rules: &Rules<'_>,
    request: &pn::RecordDistributionBatchRequest,
) -> Parsed<(String, String, BatchLines)> {
    let mut problems = Problems::new();
    if request.round_id.is_empty() {
        problems.add("round_id", "is required");
    }
    let warehouse_id = problems.check("warehouse_id", warehouse_id(&request.warehouse_id));
    if request.lines.is_empty() {
        problems.add("lines", "at least one line is required");
    } else if request.lines.len() > MAX_BATCH_LINES {
        problems.add(
            "lines",
            format!("a batch carries at most {MAX_BATCH_LINES} lines; split the register"),
        );
    }
    problems.into_result(|| ())?;
    let lines = request
        .lines
        .iter()
        .enumerate()
        .map(|(index, l)| {
            let reference = if l.line == 0 { index as i64 + 1 } else { l.line };
            let mut problems = Problems::new();
            let line = line(
                rules,
                &l.household_id,
                &l.member_id,
                &l.distributed_on,
                &format!("lines[{index}]."),
                &mut problems,
            );
            let outcome = match problems.into_errors().into_iter().next() {
                None => Ok(line.expect("valid when no problems")),
                Some(first) => Err(Refusal::invalid(
                    first.field.clone(),
                    format!("{}: {}", first.field, first.description),
                )),
            };
            (reference, outcome)
        })
        .collect();
    Ok((request.round_id.clone(), warehouse_id.expect("checked"), lines))
}

/// A line's fields; `path` prefixes field names (`lines[3].`).
fn line(
    rules: &Rules<'_>,
    household_id: &str,
    member_id: &str,
    distributed_on: &str,
    path: &str,
    problems: &mut Problems,
) -> Option<DistributionLine> {
    let household_id = problems.check(format_args!("{path}household_id"), HouseholdId::parse(household_id));
    let member_id = problems.check(format_args!("{path}member_id"), MemberId::parse(member_id));
    let on = rules.past_date(distributed_on, &format!("{path}distributed_on"), problems);
    Some(DistributionLine {
        household_id: household_id?,
        member_id: member_id?,
        on: on?,
    })
}

/// `CheckEligibility`: the person and the day (today when empty).
pub fn eligibility_query(rules: &Rules<'_>, request: &pn::CheckEligibilityRequest) -> Parsed<(MemberId, NaiveDate)> {
    let mut problems = Problems::new();
    let member_id = problems.check("member_id", MemberId::parse(&request.member_id));
    let on = rules.date_or_today(&request.on, "on", &mut problems);
    problems.into_result(|| (member_id.expect("checked"), on.expect("checked")))
}

/// `ListBeneficiaries`: the area, the day and the page size.
pub fn beneficiary_query(rules: &Rules<'_>, request: &pn::ListBeneficiariesRequest) -> Parsed<BeneficiaryQuery> {
    let mut problems = Problems::new();
    let area = rules.area(&request.area, "area", &mut problems);
    let on = rules.date_or_today(&request.on, "on", &mut problems);
    let page_size = match request.page_size {
        0 => DEFAULT_PAGE_SIZE,
        size if size < 0 || size as usize > MAX_PAGE_SIZE => {
            problems.add(
                "page_size",
                format!("must be between 1 and {MAX_PAGE_SIZE} (0 for {DEFAULT_PAGE_SIZE})"),
            );
            DEFAULT_PAGE_SIZE
        }
        size => size as usize,
    };
    problems.into_result(|| BeneficiaryQuery {
        area,
        area_code: request.area.clone(),
        on: on.expect("checked"),
        page_size,
    })
}

/// `OpenRound`: checks a round to open.
pub fn round(rules: &Rules<'_>, request: &pn::OpenRoundRequest, problems: &mut Problems) -> Option<NewRound> {
    let year = problems.check(
        "year",
        if (2000..=2100).contains(&request.year) {
            Ok(request.year)
        } else {
            Err("must be a year from 2000 to 2100".to_owned())
        },
    );
    let number = problems.check(
        "number",
        if (1..=12).contains(&request.number) {
            Ok(request.number)
        } else {
            Err("must be from 1 to 12".to_owned())
        },
    );
    let starts_on = rules.date(&request.starts_on, "starts_on", problems);
    let ends_on = rules.date(&request.ends_on, "ends_on", problems);
    if let (Some(year), Some(starts)) = (year, starts_on)
        && starts.year() != year
    {
        problems.add("starts_on", format!("{starts} is not in the round's year {year}"));
    }
    if let (Some(starts), Some(ends)) = (starts_on, ends_on) {
        if ends < starts {
            problems.add("ends_on", format!("{ends} is before starts_on {starts}"));
        } else if (ends - starts).num_days() > 366 {
            problems.add("ends_on", "a round lasts at most 366 days");
        }
    }
    if request.communes.is_empty() {
        problems.add("communes", "at least one pilot commune is required");
    }
    let mut communes: Vec<Location> = Vec::with_capacity(request.communes.len());
    for (index, code) in request.communes.iter().enumerate() {
        let field = format!("communes[{index}]");
        if communes.iter().any(|c| &c.commune == code) {
            problems.add(field, format!("{code} is listed twice"));
            continue;
        }
        if let Some(location) = rules.commune(code, &field, problems) {
            communes.push(location);
        }
    }
    communes.sort_by(|a, b| a.commune.cmp(&b.commune));
    let rations = match &request.rations {
        None => {
            problems.add("rations", "is required");
            None
        }
        Some(r) => {
            let mut grams = |field: &str, value: i64| {
                problems.check(
                    format_args!("rations.{field}"),
                    if (1..=Rations::MAX_GRAMS).contains(&value) {
                        Ok(value)
                    } else {
                        Err(format!("must be from 1 to {} grams", Rations::MAX_GRAMS))
                    },
                )
            };
            let child = grams("child_grams", r.child_grams);
            let pregnant = grams("pregnant_woman_grams", r.pregnant_woman_grams);
            let lactating = grams("lactating_woman_grams", r.lactating_woman_grams);
            Some(Rations {
                child: child.unwrap_or_default(),
                pregnant_woman: pregnant.unwrap_or_default(),
                lactating_woman: lactating.unwrap_or_default(),
            })
        }
    };
    if !problems.is_empty() {
        return None;
    }
    Some(NewRound {
        year: year?,
        number: number?,
        starts_on: starts_on?,
        ends_on: ends_on?,
        communes,
        rations: rations?,
    })
}

/// A loss reason: the API's `LossReason`, `None` for unspecified or unknown values.
pub fn loss_reason(value: i32) -> Option<LossReason> {
    match pn::LossReason::try_from(value).ok()? {
        pn::LossReason::Unspecified => None,
        pn::LossReason::Damaged => Some(LossReason::Damaged),
        pn::LossReason::Expired => Some(LossReason::Expired),
        pn::LossReason::Spoiled => Some(LossReason::Spoiled),
        pn::LossReason::Theft => Some(LossReason::Theft),
        pn::LossReason::Other => Some(LossReason::Other),
    }
}

#[cfg(test)]
mod tests {
    use jigi_common::Region;
    use jigi_common::geography::Geography;

    use super::*;

    fn rules(geography: &Geography) -> Rules<'_> {
        Rules {
            geography,
            region: Region::Segou,
            today: "2018-10-15".parse().unwrap(),
        }
    }

    fn fields(problems: Problems) -> Vec<String> {
        problems.into_errors().into_iter().map(|e| e.field).collect()
    }

    #[test]
    fn a_round_names_every_bad_field() {
        let geography = Geography::built_in();
        let rules = rules(&geography);
        let mut problems = Problems::new();
        let request = pn::OpenRoundRequest {
            year: 2018,
            number: 13,
            starts_on: "2019-10-01".into(),
            ends_on: "2019-09-01".into(),
            communes: vec![
                "segou.baroueli.sanando".into(),
                "sikasso.yanfolila.gouanan".into(),
                "segou.baroueli.sanando".into(),
                "nowhere".into(),
            ],
            rations: Some(pn::Rations {
                child_grams: 0,
                pregnant_woman_grams: 4_500,
                lactating_woman_grams: 200_000,
            }),
        };
        assert!(round(&rules, &request, &mut problems).is_none());
        assert_eq!(
            fields(problems),
            [
                "number",
                "starts_on",
                "ends_on",
                "communes[1]",
                "communes[2]",
                "communes[3]",
                "rations.child_grams",
                "rations.lactating_woman_grams"
            ]
        );
    }

    #[test]
    fn a_valid_round_has_sorted_communes() {
        let geography = Geography::built_in();
        let rules = rules(&geography);
        let mut communes: Vec<String> = geography.communes("segou").take(2).map(|a| a.code.clone()).collect();
        communes.reverse();
        let mut problems = Problems::new();
        let round = round(
            &rules,
            &pn::OpenRoundRequest {
                year: 2018,
                number: 2,
                starts_on: "2018-07-01".into(),
                ends_on: "2018-09-30".into(),
                communes: communes.clone(),
                rations: Some(pn::Rations {
                    child_grams: 3_000,
                    pregnant_woman_grams: 4_500,
                    lactating_woman_grams: 4_500,
                }),
            },
            &mut problems,
        )
        .expect("valid");
        assert_eq!(round.communes[0].commune, communes[1]);
        assert_eq!(round.communes[0].cercle.split('.').count(), 2);
    }
}
