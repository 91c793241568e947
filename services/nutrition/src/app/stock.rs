//! Warehouses and the flour that enters and leaves them (other than by
//! distribution).

use chrono::NaiveDate;
use jigi_bus::outbox;
use jigi_common::Problems;
use jigi_proto::nutrition as pn;
use jigi_server::CommandError;
use jigi_storage::Conn;
use jigi_storage::idempotency::{self, RequestKey};

use super::{Answer, Nutrition, refused, today};
use crate::domain::model::{Reason, Refusal, Warehouse};
use crate::domain::stock::{LossReason, Lot, Movement, MovementKind, is_expired};
use crate::events::Transfer;
use crate::grpc::convert;
use crate::grpc::parse::{self, MAX_NOTE_CHARS, MAX_RECEIPT_GRAMS};
use crate::{events, storage};

/// Longest warehouse name kept.
const MAX_NAME_CHARS: usize = 200;
/// Longest waybill reference kept.
const MAX_WAYBILL_CHARS: usize = 100;

/// A valid receipt.
struct Receipt {
    warehouse_id: String,
    lot_number: String,
    expires_on: NaiveDate,
    grams: i64,
    received_on: NaiveDate,
    waybill: String,
}

/// A valid transfer.
struct Move {
    from_id: String,
    to_id: String,
    lot_number: String,
    grams: i64,
    on: NaiveDate,
}

/// A valid loss.
struct Loss {
    warehouse_id: String,
    lot_number: String,
    grams: i64,
    on: NaiveDate,
    reason: LossReason,
    note: String,
}

impl Nutrition {
    /// Registers a warehouse; the same warehouse registered again with the
    /// same content is returned as it is.
    pub async fn register_warehouse(&self, request: &pn::RegisterWarehouseRequest) -> Result<Warehouse, CommandError> {
        let rules = self.rules();
        let mut problems = Problems::new();
        let warehouse_id = problems.check("warehouse_id", parse::warehouse_id(&request.warehouse_id));
        let name = problems.check("name", parse::text(&request.name, MAX_NAME_CHARS));
        let location = rules.commune(&request.commune, "commune", &mut problems);
        problems.into_result(|| ()).map_err(CommandError::Invalid)?;
        let warehouse = Warehouse {
            warehouse_id: warehouse_id.expect("checked"),
            name: name.expect("checked"),
            location: location.expect("checked"),
            registered_at: jigi_storage::timestamp::now_utc(),
        };
        self.db
            .write(move |conn| {
                if let Some(existing) = storage::stock::warehouse(conn, &warehouse.warehouse_id)? {
                    return if existing.name == warehouse.name && existing.location == warehouse.location {
                        Ok(existing)
                    } else {
                        Err(CommandError::exists(
                            "warehouse",
                            existing.warehouse_id.clone(),
                            format!(
                                "warehouse {} is already registered with another name or commune",
                                existing.warehouse_id
                            ),
                        ))
                    };
                }
                storage::stock::insert_warehouse(conn, &warehouse)?;
                Ok(warehouse)
            })
            .await
    }

    pub async fn warehouses(&self, area: &str) -> Result<Vec<Warehouse>, CommandError> {
        let mut problems = Problems::new();
        let area = self.rules().area(area, "area", &mut problems);
        problems.into_result(|| ()).map_err(CommandError::Invalid)?;
        Ok(self
            .db
            .read(move |conn| storage::stock::warehouses(conn, area.as_ref()))
            .await?)
    }

    /// A warehouse's stock, lots judged on `on` (today when empty).
    pub async fn stock(&self, warehouse_id: &str, on: &str) -> Result<pn::WarehouseStock, CommandError> {
        let mut problems = Problems::new();
        let on = self.rules().date_or_today(on, "on", &mut problems);
        let id = problems.check("warehouse_id", parse::warehouse_id(warehouse_id));
        problems.into_result(|| ()).map_err(CommandError::Invalid)?;
        let (id, on) = (id.expect("checked"), on.expect("checked"));
        self.db
            .read(move |conn| {
                let warehouse = load_warehouse(conn, &id)?;
                let lots = storage::stock::lots(conn, &id)?;
                Ok(convert::stock(&warehouse, &lots, on))
            })
            .await
    }

    /// Records flour received into a warehouse.
    pub async fn receive(
        &self,
        key: RequestKey,
        request: &pn::ReceiveStockRequest,
    ) -> Result<pn::ReceiveStockResponse, CommandError> {
        let rules = self.rules();
        let mut problems = Problems::new();
        let warehouse_id = problems.check("warehouse_id", parse::warehouse_id(&request.warehouse_id));
        let lot_number = problems.check("lot_number", parse::lot_number(&request.lot_number));
        let expires_on = rules.date(&request.expires_on, "expires_on", &mut problems);
        let grams = problems.check("grams", parse::grams(request.grams, MAX_RECEIPT_GRAMS));
        let received_on = rules.past_date(&request.received_on, "received_on", &mut problems);
        let waybill = problems.check("waybill", parse::text(&request.waybill, MAX_WAYBILL_CHARS));
        if let (Some(expires), Some(received)) = (expires_on, received_on)
            && is_expired(expires, received)
        {
            problems.add(
                "expires_on",
                format!("the lot expired on {expires}, before it was received on {received}"),
            );
        }
        problems.into_result(|| ()).map_err(CommandError::Invalid)?;
        let receipt = Receipt {
            warehouse_id: warehouse_id.expect("checked"),
            lot_number: lot_number.expect("checked"),
            expires_on: expires_on.expect("checked"),
            grams: grams.expect("checked"),
            received_on: received_on.expect("checked"),
            waybill: waybill.expect("checked"),
        };
        let (answer, ran) = self
            .db
            .write(move |conn| {
                let mut ran = false;
                let Answer(answer) = idempotency::once(conn, &key, |conn| {
                    ran = true;
                    receive_in(conn, receipt).map(Answer)
                })?;
                Ok::<_, CommandError>((answer, ran))
            })
            .await?;
        if ran {
            self.counters.stock_movements.inc();
        }
        Ok(answer)
    }

    /// Moves flour of one lot from a warehouse to another.
    pub async fn transfer(
        &self,
        key: RequestKey,
        request: &pn::TransferStockRequest,
    ) -> Result<pn::TransferStockResponse, CommandError> {
        let rules = self.rules();
        let mut problems = Problems::new();
        let from_id = problems.check("from_warehouse_id", parse::warehouse_id(&request.from_warehouse_id));
        let to_id = problems.check("to_warehouse_id", parse::warehouse_id(&request.to_warehouse_id));
        if from_id.is_some() && from_id == to_id {
            problems.add("to_warehouse_id", "is the same as from_warehouse_id");
        }
        let lot_number = problems.check("lot_number", parse::lot_number(&request.lot_number));
        let grams = problems.check("grams", parse::grams(request.grams, MAX_RECEIPT_GRAMS));
        let on = rules.past_date(&request.transferred_on, "transferred_on", &mut problems);
        problems.into_result(|| ()).map_err(CommandError::Invalid)?;
        let transfer = Move {
            from_id: from_id.expect("checked"),
            to_id: to_id.expect("checked"),
            lot_number: lot_number.expect("checked"),
            grams: grams.expect("checked"),
            on: on.expect("checked"),
        };
        let (answer, ran) = self
            .db
            .write(move |conn| {
                let mut ran = false;
                let Answer(answer) = idempotency::once(conn, &key, |conn| {
                    ran = true;
                    transfer_in(conn, transfer).map(Answer)
                })?;
                Ok::<_, CommandError>((answer, ran))
            })
            .await?;
        if ran {
            self.counters.stock_movements.inc_by(2);
        }
        Ok(answer)
    }

    /// Records flour lost from a lot.
    pub async fn record_loss(
        &self,
        key: RequestKey,
        request: &pn::RecordLossRequest,
    ) -> Result<pn::RecordLossResponse, CommandError> {
        let rules = self.rules();
        let mut problems = Problems::new();
        let warehouse_id = problems.check("warehouse_id", parse::warehouse_id(&request.warehouse_id));
        let lot_number = problems.check("lot_number", parse::lot_number(&request.lot_number));
        let grams = problems.check("grams", parse::grams(request.grams, MAX_RECEIPT_GRAMS));
        let on = rules.past_date(&request.occurred_on, "occurred_on", &mut problems);
        let reason = problems.check(
            "reason",
            parse::loss_reason(request.reason).ok_or_else(|| match request.reason {
                0 => "is required".to_owned(),
                other => format!("has unknown value {other}"),
            }),
        );
        let note = problems.check("note", parse::text(&request.note, MAX_NOTE_CHARS));
        if reason == Some(LossReason::Other) && note.as_deref() == Some("") {
            problems.add("note", "is required when the reason is LOSS_REASON_OTHER");
        }
        problems.into_result(|| ()).map_err(CommandError::Invalid)?;
        let loss = Loss {
            warehouse_id: warehouse_id.expect("checked"),
            lot_number: lot_number.expect("checked"),
            grams: grams.expect("checked"),
            on: on.expect("checked"),
            reason: reason.expect("checked"),
            note: note.expect("checked"),
        };
        let (answer, ran) = self
            .db
            .write(move |conn| {
                let mut ran = false;
                let Answer(answer) = idempotency::once(conn, &key, |conn| {
                    ran = true;
                    record_loss_in(conn, loss).map(Answer)
                })?;
                Ok::<_, CommandError>((answer, ran))
            })
            .await?;
        if ran {
            self.counters.stock_movements.inc();
        }
        Ok(answer)
    }
}

fn receive_in(conn: &mut Conn, receipt: Receipt) -> Result<pn::ReceiveStockResponse, CommandError> {
    let Receipt {
        warehouse_id,
        lot_number,
        expires_on,
        grams,
        received_on,
        waybill,
    } = receipt;
    let warehouse = load_warehouse(conn, &warehouse_id)?;
    if let Some(lot) = storage::stock::lot(conn, &warehouse_id, &lot_number)?
        && lot.expires_on != expires_on
    {
        return Err(CommandError::invalid(
            "expires_on",
            format!(
                "lot {lot_number} is already in warehouse {warehouse_id} with expiry date {}",
                lot.expires_on
            ),
        ));
    }
    let lot = Lot {
        lot_number: lot_number.clone(),
        expires_on,
        on_hand: grams,
    };
    let movement = Movement {
        movement_id: uuid::Uuid::now_v7().to_string(),
        warehouse_id: warehouse_id.clone(),
        lot_number,
        kind: MovementKind::Receipt,
        grams,
        occurred_on: received_on,
        reference: waybill,
        reason: None,
        note: None,
    };
    storage::stock::add_to_lot(conn, &warehouse_id, &lot, grams)?;
    storage::stock::insert_movements(conn, std::slice::from_ref(&movement))?;
    let lots = storage::stock::lots(conn, &warehouse_id)?;
    let on_hand = lots.iter().map(|l| l.on_hand).sum();
    outbox::add(
        conn,
        &[events::stock_received(&warehouse, &movement, expires_on, on_hand)],
    )?;
    Ok(pn::ReceiveStockResponse {
        movement: Some(convert::movement(&movement)),
        stock: Some(convert::stock(&warehouse, &lots, today())),
    })
}

fn transfer_in(conn: &mut Conn, transfer: Move) -> Result<pn::TransferStockResponse, CommandError> {
    let Move {
        from_id,
        to_id,
        lot_number,
        grams,
        on,
    } = transfer;
    let from = load_warehouse(conn, &from_id)?;
    let to = load_warehouse(conn, &to_id)?;
    let lot = lot_holding(conn, &from, &lot_number, grams)?;
    if lot.expired_on(on) {
        return Err(refused(
            Refusal::new(
                Reason::OnlyExpiredStock,
                format!(
                    "lot {lot_number} expired on {}; record it as a loss instead of moving it",
                    lot.expires_on
                ),
            ),
            &from_id,
        ));
    }
    if let Some(existing) = storage::stock::lot(conn, &to_id, &lot_number)?
        && existing.expires_on != lot.expires_on
    {
        return Err(CommandError::invalid(
            "lot_number",
            format!(
                "lot {lot_number} is in warehouse {to_id} with another expiry date ({})",
                existing.expires_on
            ),
        ));
    }
    let transfer_id = uuid::Uuid::now_v7().to_string();
    let movement = |warehouse_id: &str, kind, grams| Movement {
        movement_id: uuid::Uuid::now_v7().to_string(),
        warehouse_id: warehouse_id.to_owned(),
        lot_number: lot_number.clone(),
        kind,
        grams,
        occurred_on: on,
        reference: transfer_id.clone(),
        reason: None,
        note: None,
    };
    let movements = [
        movement(&from_id, MovementKind::TransferOut, -grams),
        movement(&to_id, MovementKind::TransferIn, grams),
    ];
    storage::stock::take_from_lot(conn, &from_id, &lot_number, grams)?;
    storage::stock::add_to_lot(conn, &to_id, &lot, grams)?;
    storage::stock::insert_movements(conn, &movements)?;
    let from_lots = storage::stock::lots(conn, &from_id)?;
    let to_lots = storage::stock::lots(conn, &to_id)?;
    let event = events::stock_transferred(&Transfer {
        transfer_id: &transfer_id,
        from: &from,
        to: &to,
        lot_number: &lot_number,
        expires_on: lot.expires_on,
        grams,
        transferred_on: on,
        from_on_hand: from_lots.iter().map(|l| l.on_hand).sum(),
        to_on_hand: to_lots.iter().map(|l| l.on_hand).sum(),
    });
    outbox::add(conn, &[event])?;
    Ok(pn::TransferStockResponse {
        transfer_id,
        from_stock: Some(convert::stock(&from, &from_lots, today())),
        to_stock: Some(convert::stock(&to, &to_lots, today())),
    })
}

fn record_loss_in(conn: &mut Conn, loss: Loss) -> Result<pn::RecordLossResponse, CommandError> {
    let Loss {
        warehouse_id,
        lot_number,
        grams,
        on,
        reason,
        note,
    } = loss;
    let warehouse = load_warehouse(conn, &warehouse_id)?;
    lot_holding(conn, &warehouse, &lot_number, grams)?;
    let movement = Movement {
        movement_id: uuid::Uuid::now_v7().to_string(),
        warehouse_id: warehouse_id.clone(),
        lot_number,
        kind: MovementKind::Loss,
        grams: -grams,
        occurred_on: on,
        reference: String::new(),
        reason: Some(reason.code().to_owned()),
        note: (!note.is_empty()).then_some(note),
    };
    storage::stock::take_from_lot(conn, &warehouse_id, &movement.lot_number, grams)?;
    storage::stock::insert_movements(conn, std::slice::from_ref(&movement))?;
    let lots = storage::stock::lots(conn, &warehouse_id)?;
    let on_hand = lots.iter().map(|l| l.on_hand).sum();
    outbox::add(conn, &[events::stock_lost(&warehouse, &movement, reason, on_hand)])?;
    Ok(pn::RecordLossResponse {
        movement: Some(convert::movement(&movement)),
        stock: Some(convert::stock(&warehouse, &lots, today())),
    })
}

/// A warehouse, or says it does not exist.
pub(crate) fn load_warehouse(conn: &mut Conn, warehouse_id: &str) -> Result<Warehouse, CommandError> {
    storage::stock::warehouse(conn, warehouse_id)?.ok_or_else(|| CommandError::not_found("warehouse", warehouse_id))
}

/// The lot flour is taken from, when it holds enough; a lot never goes below zero.
fn lot_holding(conn: &mut Conn, warehouse: &Warehouse, lot_number: &str, grams: i64) -> Result<Lot, CommandError> {
    let lot = storage::stock::lot(conn, &warehouse.warehouse_id, lot_number)?.ok_or_else(|| {
        CommandError::not_found("lot", format!("{lot_number} in warehouse {}", warehouse.warehouse_id))
    })?;
    if lot.on_hand < grams {
        return Err(refused(
            Refusal::new(
                Reason::InsufficientStock,
                format!(
                    "lot {lot_number} of warehouse {} holds {} g; {grams} g cannot be taken from it",
                    warehouse.warehouse_id, lot.on_hand
                ),
            ),
            &warehouse.warehouse_id,
        ));
    }
    Ok(lot)
}
