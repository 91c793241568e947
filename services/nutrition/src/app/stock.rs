//! Warehouses and the flour that enters and leaves them (other than by
//! distribution).

use jigi_common::Problems;
use jigi_proto::nutrition as pn;
use jigi_storage::Tx;

use super::{CommandError, Idempotency, Nutrition, today};
use crate::domain::model::{Reason, Refusal, Warehouse};
use crate::domain::stock::{LossReason, Lot, Movement, MovementKind, is_expired};
use crate::domain::validate::{self, MAX_NOTE_CHARS, MAX_RECEIPT_GRAMS};
use crate::events::Transfer;
use crate::{convert, events, storage};

const RECEIVE: &str = "ReceiveStock";
const TRANSFER: &str = "TransferStock";
const LOSS: &str = "RecordLoss";
/// Longest warehouse name kept.
const MAX_NAME_CHARS: usize = 200;
/// Longest waybill reference kept.
const MAX_WAYBILL_CHARS: usize = 100;

impl Nutrition {
    /// Registers a warehouse; the same warehouse registered again with the
    /// same content is returned as it is.
    pub async fn register_warehouse(&self, request: &pn::RegisterWarehouseRequest) -> Result<Warehouse, CommandError> {
        let rules = self.rules();
        let mut problems = Problems::new();
        let warehouse_id = problems.check("warehouse_id", validate::warehouse_id(&request.warehouse_id));
        let name = problems.check("name", validate::text(&request.name, MAX_NAME_CHARS));
        let location = rules.commune(&request.commune, "commune", &mut problems);
        problems.into_result(|| ()).map_err(CommandError::Invalid)?;
        let warehouse = Warehouse {
            warehouse_id: warehouse_id.expect("checked"),
            name: name.expect("checked"),
            location: location.expect("checked"),
            registered_at: jigi_storage::timestamp::now_utc(),
        };
        let mut tx = self.db.begin_write().await?;
        if let Some(existing) = storage::stock::warehouse(&mut tx, &warehouse.warehouse_id).await? {
            return if existing.name == warehouse.name && existing.location == warehouse.location {
                Ok(existing)
            } else {
                Err(CommandError::Conflict {
                    kind: "warehouse",
                    id: existing.warehouse_id.clone(),
                    message: format!(
                        "warehouse {} is already registered with another name or commune",
                        existing.warehouse_id
                    ),
                })
            };
        }
        storage::stock::insert_warehouse(&mut tx, &warehouse).await?;
        tx.commit().await?;
        Ok(warehouse)
    }

    pub async fn warehouses(&self, area: &str) -> Result<Vec<Warehouse>, CommandError> {
        let mut problems = Problems::new();
        let area = self.rules().area(area, "area", &mut problems);
        problems.into_result(|| ()).map_err(CommandError::Invalid)?;
        let mut conn = self.db.pool().acquire().await?;
        Ok(storage::stock::warehouses(&mut conn, area.as_ref()).await?)
    }

    /// A warehouse's stock, lots judged on `on` (today when empty).
    pub async fn stock(&self, warehouse_id: &str, on: &str) -> Result<pn::WarehouseStock, CommandError> {
        let mut problems = Problems::new();
        let on = self.rules().date_or_today(on, "on", &mut problems);
        let id = problems.check("warehouse_id", validate::warehouse_id(warehouse_id));
        problems.into_result(|| ()).map_err(CommandError::Invalid)?;
        let mut conn = self.db.pool().acquire().await?;
        let id = id.expect("checked");
        let warehouse = storage::stock::warehouse(&mut conn, &id)
            .await?
            .ok_or_else(|| CommandError::not_found("warehouse", &id))?;
        let lots = storage::stock::lots(&mut conn, &id).await?;
        Ok(convert::stock(&warehouse, &lots, on.expect("checked")))
    }

    /// Records flour received into a warehouse.
    pub async fn receive(
        &self,
        idempotency: &Idempotency,
        request: &pn::ReceiveStockRequest,
    ) -> Result<pn::ReceiveStockResponse, CommandError> {
        let rules = self.rules();
        let mut problems = Problems::new();
        let warehouse_id = problems.check("warehouse_id", validate::warehouse_id(&request.warehouse_id));
        let lot_number = problems.check("lot_number", validate::lot_number(&request.lot_number));
        let expires_on = rules.date(&request.expires_on, "expires_on", &mut problems);
        let grams = problems.check("grams", validate::grams(request.grams, MAX_RECEIPT_GRAMS));
        let received_on = rules.past_date(&request.received_on, "received_on", &mut problems);
        let waybill = problems.check("waybill", validate::text(&request.waybill, MAX_WAYBILL_CHARS));
        if let (Some(expires), Some(received)) = (expires_on, received_on)
            && is_expired(expires, received)
        {
            problems.add(
                "expires_on",
                format!("the lot expired on {expires}, before it was received on {received}"),
            );
        }
        problems.into_result(|| ()).map_err(CommandError::Invalid)?;
        let (warehouse_id, lot_number, expires_on, grams, received_on, waybill) = (
            warehouse_id.expect("checked"),
            lot_number.expect("checked"),
            expires_on.expect("checked"),
            grams.expect("checked"),
            received_on.expect("checked"),
            waybill.expect("checked"),
        );

        let mut tx = self.db.begin_write().await?;
        if let Some(answer) = idempotency.prior(&mut tx, RECEIVE).await? {
            return Ok(answer);
        }
        let warehouse = load_warehouse(&mut tx, &warehouse_id).await?;
        if let Some(lot) = storage::stock::lot(&mut tx, &warehouse_id, &lot_number).await?
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
        storage::stock::add_to_lot(&mut tx, &warehouse_id, &lot, grams).await?;
        storage::stock::insert_movements(&mut tx, std::slice::from_ref(&movement)).await?;
        let lots = storage::stock::lots(&mut tx, &warehouse_id).await?;
        let on_hand = lots.iter().map(|l| l.on_hand).sum();
        self.outbox
            .add(
                &mut tx,
                &[events::stock_received(&warehouse, &movement, expires_on, on_hand)],
            )
            .await?;
        let answer = pn::ReceiveStockResponse {
            movement: Some(convert::movement(&movement)),
            stock: Some(convert::stock(&warehouse, &lots, today())),
        };
        idempotency.remember(&mut tx, RECEIVE, &answer).await?;
        self.commit(tx).await?;
        self.counters.stock_movements.inc();
        Ok(answer)
    }

    /// Moves flour of one lot from a warehouse to another.
    pub async fn transfer(
        &self,
        idempotency: &Idempotency,
        request: &pn::TransferStockRequest,
    ) -> Result<pn::TransferStockResponse, CommandError> {
        let rules = self.rules();
        let mut problems = Problems::new();
        let from_id = problems.check("from_warehouse_id", validate::warehouse_id(&request.from_warehouse_id));
        let to_id = problems.check("to_warehouse_id", validate::warehouse_id(&request.to_warehouse_id));
        if from_id.is_some() && from_id == to_id {
            problems.add("to_warehouse_id", "is the same as from_warehouse_id");
        }
        let lot_number = problems.check("lot_number", validate::lot_number(&request.lot_number));
        let grams = problems.check("grams", validate::grams(request.grams, MAX_RECEIPT_GRAMS));
        let on = rules.past_date(&request.transferred_on, "transferred_on", &mut problems);
        problems.into_result(|| ()).map_err(CommandError::Invalid)?;
        let (from_id, to_id, lot_number, grams, on) = (
            from_id.expect("checked"),
            to_id.expect("checked"),
            lot_number.expect("checked"),
            grams.expect("checked"),
            on.expect("checked"),
        );

        let mut tx = self.db.begin_write().await?;
        if let Some(answer) = idempotency.prior(&mut tx, TRANSFER).await? {
            return Ok(answer);
        }
        let from = load_warehouse(&mut tx, &from_id).await?;
        let to = load_warehouse(&mut tx, &to_id).await?;
        let lot = lot_holding(&mut tx, &from, &lot_number, grams).await?;
        if lot.expired_on(on) {
            return Err(CommandError::Refused {
                refusal: Refusal::new(
                    Reason::OnlyExpiredStock,
                    format!(
                        "lot {lot_number} expired on {}; record it as a loss instead of moving it",
                        lot.expires_on
                    ),
                ),
                subject: from_id,
            });
        }
        if let Some(existing) = storage::stock::lot(&mut tx, &to_id, &lot_number).await?
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
        storage::stock::take_from_lot(&mut tx, &from_id, &lot_number, grams).await?;
        storage::stock::add_to_lot(&mut tx, &to_id, &lot, grams).await?;
        storage::stock::insert_movements(&mut tx, &movements).await?;
        let from_lots = storage::stock::lots(&mut tx, &from_id).await?;
        let to_lots = storage::stock::lots(&mut tx, &to_id).await?;
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
        self.outbox.add(&mut tx, &[event]).await?;
        let answer = pn::TransferStockResponse {
            transfer_id,
            from_stock: Some(convert::stock(&from, &from_lots, today())),
            to_stock: Some(convert::stock(&to, &to_lots, today())),
        };
        idempotency.remember(&mut tx, TRANSFER, &answer).await?;
        self.commit(tx).await?;
        self.counters.stock_movements.inc_by(2);
        Ok(answer)
    }

    /// Records flour lost from a lot.
    pub async fn record_loss(
        &self,
        idempotency: &Idempotency,
        request: &pn::RecordLossRequest,
    ) -> Result<pn::RecordLossResponse, CommandError> {
        let rules = self.rules();
        let mut problems = Problems::new();
        let warehouse_id = problems.check("warehouse_id", validate::warehouse_id(&request.warehouse_id));
        let lot_number = problems.check("lot_number", validate::lot_number(&request.lot_number));
        let grams = problems.check("grams", validate::grams(request.grams, MAX_RECEIPT_GRAMS));
        let on = rules.past_date(&request.occurred_on, "occurred_on", &mut problems);
        let reason = problems.check(
            "reason",
            LossReason::from_proto(request.reason).ok_or_else(|| match request.reason {
                0 => "is required".to_owned(),
                other => format!("has unknown value {other}"),
            }),
        );
        let note = problems.check("note", validate::text(&request.note, MAX_NOTE_CHARS));
        if reason == Some(LossReason::Other) && note.as_deref() == Some("") {
            problems.add("note", "is required when the reason is LOSS_REASON_OTHER");
        }
        problems.into_result(|| ()).map_err(CommandError::Invalid)?;
        let (warehouse_id, lot_number, grams, on, reason, note) = (
            warehouse_id.expect("checked"),
            lot_number.expect("checked"),
            grams.expect("checked"),
            on.expect("checked"),
            reason.expect("checked"),
            note.expect("checked"),
        );

        let mut tx = self.db.begin_write().await?;
        if let Some(answer) = idempotency.prior(&mut tx, LOSS).await? {
            return Ok(answer);
        }
        let warehouse = load_warehouse(&mut tx, &warehouse_id).await?;
        lot_holding(&mut tx, &warehouse, &lot_number, grams).await?;
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
        storage::stock::take_from_lot(&mut tx, &warehouse_id, &movement.lot_number, grams).await?;
        storage::stock::insert_movements(&mut tx, std::slice::from_ref(&movement)).await?;
        let lots = storage::stock::lots(&mut tx, &warehouse_id).await?;
        let on_hand = lots.iter().map(|l| l.on_hand).sum();
        self.outbox
            .add(&mut tx, &[events::stock_lost(&warehouse, &movement, reason, on_hand)])
            .await?;
        let answer = pn::RecordLossResponse {
            movement: Some(convert::movement(&movement)),
            stock: Some(convert::stock(&warehouse, &lots, today())),
        };
        idempotency.remember(&mut tx, LOSS, &answer).await?;
        self.commit(tx).await?;
        self.counters.stock_movements.inc();
        Ok(answer)
    }
}

async fn load_warehouse(tx: &mut Tx, warehouse_id: &str) -> Result<Warehouse, CommandError> {
    storage::stock::warehouse(tx, warehouse_id)
        .await?
        .ok_or_else(|| CommandError::not_found("warehouse", warehouse_id))
}

/// The lot flour is taken from, when it holds enough; a lot never goes below zero.
async fn lot_holding(tx: &mut Tx, warehouse: &Warehouse, lot_number: &str, grams: i64) -> Result<Lot, CommandError> {
    let lot = storage::stock::lot(tx, &warehouse.warehouse_id, lot_number)
        .await?
        .ok_or_else(|| CommandError::NotFound {
            kind: "lot",
            id: format!("{lot_number} in warehouse {}", warehouse.warehouse_id),
        })?;
    if lot.on_hand < grams {
        return Err(CommandError::Refused {
            refusal: Refusal::new(
                Reason::InsufficientStock,
                format!(
                    "lot {lot_number} of warehouse {} holds {} g; {grams} g cannot be taken from it",
                    warehouse.warehouse_id, lot.on_hand
                ),
            ),
            subject: warehouse.warehouse_id.clone(),
        });
    }
    Ok(lot)
}
