//! Warehouses and the flour that enters and leaves them (other than by
//! distribution).

use chrono::NaiveDate;
use jigi_bus::outbox;
use jigi_common::geography::AreaLevel;
use jigi_server::CommandError;
use jigi_storage::Conn;
use jigi_storage::idempotency::{self, Remembered, RequestKey};

use super::{Nutrition, refused};
use crate::domain::model::{Reason, Refusal, Warehouse};
use crate::domain::stock::{Loss, Lot, Movement, MovementKind, Receipt, StockTransfer};
use crate::events::Transfer;
use crate::{events, storage};

/// A lot's balance changed by a receipt or a loss: the movement, and the
/// warehouse's lots after it.
#[derive(Debug, Clone)]
pub struct LotChange {
    pub movement: Movement,
    pub warehouse: Warehouse,
    pub lots: Vec<Lot>,
}

/// Flour moved between two warehouses, and both warehouses' lots after it.
#[derive(Debug, Clone)]
pub struct StockMoved {
    pub transfer_id: String,
    pub from: Warehouse,
    pub from_lots: Vec<Lot>,
    pub to: Warehouse,
    pub to_lots: Vec<Lot>,
}

/// A warehouse's lots, to be judged on a day.
#[derive(Debug, Clone)]
pub struct WarehouseStock {
    pub warehouse: Warehouse,
    pub lots: Vec<Lot>,
    pub on: NaiveDate,
}

impl Nutrition {
    /// Registers a warehouse; the same warehouse registered again with the
    /// same content is returned as it is.
    pub async fn register_warehouse(&self, warehouse: Warehouse) -> Result<Warehouse, CommandError> {
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

    pub async fn warehouses(&self, area: Option<(AreaLevel, String)>) -> Result<Vec<Warehouse>, CommandError> {
        Ok(self
            .db
            .read(move |conn| storage::stock::warehouses(conn, area.as_ref()))
            .await?)
    }

    /// A warehouse's stock, lots judged on `on`.
    pub async fn stock(&self, id: String, on: NaiveDate) -> Result<WarehouseStock, CommandError> {
        self.db
            .read(move |conn| {
                let warehouse = load_warehouse(conn, &id)?;
                let lots = storage::stock::lots(conn, &id)?;
                Ok(WarehouseStock { warehouse, lots, on })
            })
            .await
    }

    /// Runs a stock movement once per request key, in one write
    /// transaction, and counts its `movements` (lot changes) when it ran —
    /// not when a retry was answered from the store.
    async fn move_once<O, A>(
        &self,
        key: RequestKey,
        movements: u64,
        command: impl FnOnce(&mut Conn) -> Result<O, CommandError> + Send + 'static,
        answer: impl FnOnce(&O) -> A + Send + 'static,
    ) -> Result<A, CommandError>
    where
        A: Remembered + Send + 'static,
    {
        let (answer, ran) = self
            .db
            .write(move |conn| idempotency::once_ran(conn, &key, |conn| command(conn).map(|outcome| answer(&outcome))))
            .await?;
        if ran {
            self.counters.stock_movements.inc_by(movements);
        }
        Ok(answer)
    }

    /// Records flour received into a warehouse.
    pub async fn receive<A>(
        &self,
        key: RequestKey,
        receipt: Receipt,
        answer: impl FnOnce(&LotChange) -> A + Send + 'static,
    ) -> Result<A, CommandError>
    where
        A: Remembered + Send + 'static,
    {
        self.move_once(key, 1, move |conn| receive_in(conn, receipt), answer)
            .await
    }

    /// Moves flour of one lot from a warehouse to another.
    pub async fn transfer<A>(
        &self,
        key: RequestKey,
        transfer: StockTransfer,
        answer: impl FnOnce(&StockMoved) -> A + Send + 'static,
    ) -> Result<A, CommandError>
    where
        A: Remembered + Send + 'static,
    {
        self.move_once(key, 2, move |conn| transfer_in(conn, transfer), answer)
            .await
    }

    /// Records flour lost from a lot.
    pub async fn record_loss<A>(
        &self,
        key: RequestKey,
        loss: Loss,
        answer: impl FnOnce(&LotChange) -> A + Send + 'static,
    ) -> Result<A, CommandError>
    where
        A: Remembered + Send + 'static,
    {
        self.move_once(key, 1, move |conn| record_loss_in(conn, loss), answer)
            .await
    }
}

fn receive_in(conn: &mut Conn, receipt: Receipt) -> Result<LotChange, CommandError> {
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
    Ok(LotChange {
        movement,
        warehouse,
        lots,
    })
}

fn transfer_in(conn: &mut Conn, transfer: StockTransfer) -> Result<StockMoved, CommandError> {
    let StockTransfer {
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
    Ok(StockMoved {
        transfer_id,
        from,
        from_lots,
        to,
        to_lots,
    })
}

fn record_loss_in(conn: &mut Conn, loss: Loss) -> Result<LotChange, CommandError> {
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
    Ok(LotChange {
        movement,
        warehouse,
        lots,
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
