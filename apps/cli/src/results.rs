//! Recording a payment agent's return file: the results of a cycle's
//! payments in one commune, as a bank or a mobile-money operator sends them
//! back, with a progress bar and a per-line report.
//!
//! The file is CSV with a header. Columns (any order; others, such as those
//! of the exported payment list, are ignored):
//!
//! | column | required | value |
//! | --- | --- | --- |
//! | `household_id` | yes | the registry ID, as on the payment list |
//! | `outcome` | yes | `paid`, `failed` or `not_collected` |
//! | `date` | yes | `YYYY-MM-DD` of the payment or the attempt |
//! | `amount_fcfa` | for `paid` | the amount handed over |
//! | `receipt_reference` | for `paid` | the agent's receipt or transaction reference |
//! | `failure_reason` | for `failed` | `identity_not_verified`, `account_invalid`, `agent_out_of_cash`, `network_failure`, `beneficiary_deceased`, `site_inaccessible`, … |
//! | `agent_code` | unless `--agent` | the reporting agent |
//!
//! Lines go in batches (of [`BATCH`] unless told: smaller batches waste
//! less of a poor link when one is cut), each with a request ID made from
//! its content: a batch sent again (after a failure or a restart of the
//! service, automatically; or the whole file twice by mistake) is answered
//! from the first time, and no household is paid twice.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use indicatif::{ProgressBar, ProgressStyle};
use jigi_proto::common::Money;
use jigi_proto::payments::{FailureReason, PaymentOutcome, PaymentResult, RecordPaymentResultsRequest, ResultRefusal};
use prost::Message as _;

use crate::address::{PaymentsClient, service_error};

/// Results per request, unless told.
pub const BATCH: u16 = 1_000;

/// What recording a file did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ResultsSummary {
    pub accepted: i64,
    pub refused: i64,
    /// Lines that could not be read as a result (never sent).
    pub unreadable: usize,
    /// Where the refused and unreadable lines were listed, when any were.
    pub report: Option<PathBuf>,
}

/// One line of the file, ready to send.
struct Line {
    number: u64,
    result: PaymentResult,
}

/// Reads `file`, sends its results for `cycle_id`, and lists every refused
/// line in `report` (`line,household_id,refusal,field,message`).
pub async fn record_file(
    client: &mut PaymentsClient,
    cycle_id: &str,
    file: &Path,
    agent: Option<&str>,
    report: &Path,
    batch_size: usize,
    show_progress: bool,
) -> anyhow::Result<ResultsSummary> {
    let (lines, unreadable) = read(file, agent)?;
    let progress = if show_progress {
        ProgressBar::new(lines.len() as u64)
    } else {
        ProgressBar::hidden()
    };
    progress.set_style(
        ProgressStyle::with_template("{msg} [{bar:40}] {pos}/{len} results ({per_sec}, {eta} left)")
            .expect("valid template")
            .progress_chars("=> "),
    );
    progress.set_message("recording");
    let mut summary = ResultsSummary {
        unreadable: unreadable.len(),
        ..ResultsSummary::default()
    };
    let mut refused: Vec<[String; 5]> = unreadable
        .into_iter()
        .map(|(number, message)| {
            [
                number.to_string(),
                String::new(),
                "UNREADABLE".into(),
                String::new(),
                message,
            ]
        })
        .collect();
    for batch in lines.chunks(batch_size.max(1)) {
        let mut request = RecordPaymentResultsRequest {
            request_id: String::new(),
            cycle_id: cycle_id.to_owned(),
            results: batch.iter().map(|line| line.result.clone()).collect(),
        };
        request.request_id = crate::commands::households::content_request_id("results", &request.encode_to_vec());
        let response = jigi_stack::clients::with_retries("record payment results", || {
            let (mut client, request) = (client.clone(), request.clone());
            async move { client.record_payment_results(request).await }
        })
        .await
        .map_err(|status| service_error("record payment results", status))?
        .into_inner();
        summary.accepted += response.accepted;
        summary.refused += response.refused;
        for outcome in response.outcomes.iter().filter(|o| !o.accepted) {
            let line = batch.get(outcome.index as usize).map_or(0, |line| line.number);
            let refusal = ResultRefusal::try_from(outcome.refusal)
                .map(|r| r.as_str_name().trim_start_matches("RESULT_REFUSAL_").to_owned())
                .unwrap_or_default();
            refused.push([
                line.to_string(),
                outcome.household_id.clone(),
                refusal,
                outcome.field.clone(),
                outcome.message.clone(),
            ]);
        }
        progress.inc(batch.len() as u64);
    }
    progress.finish_with_message("recorded");
    if !refused.is_empty() {
        refused.sort_by_key(|line| line[0].parse::<u64>().unwrap_or(0));
        let mut writer = csv::Writer::from_path(report)
            .map_err(|err| anyhow::anyhow!("cannot write the report {}: {err}", report.display()))?;
        writer.write_record(["line", "household_id", "refusal", "field", "message"])?;
        for line in &refused {
            writer.write_record(line)?;
        }
        writer.flush()?;
        summary.report = Some(report.to_path_buf());
    }
    Ok(summary)
}

/// The file's results, and the lines that are not results (number, why).
/// A line that is not a result: its number and why.
type Unreadable = (u64, String);

fn read(file: &Path, agent: Option<&str>) -> anyhow::Result<(Vec<Line>, Vec<Unreadable>)> {
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_path(file)
        .map_err(|err| anyhow::anyhow!("cannot read {}: {err}", file.display()))?;
    let headers = reader.headers()?.clone();
    let column: HashMap<&str, usize> = headers.iter().enumerate().map(|(i, h)| (h, i)).collect();
    for required in ["household_id", "outcome", "date"] {
        if !column.contains_key(required) {
            anyhow::bail!(
                "{} has no `{required}` column; the header must name household_id, outcome and date (see `jigi cycles results --help`)",
                file.display()
            );
        }
    }
    if agent.is_none() && !column.contains_key("agent_code") {
        anyhow::bail!(
            "{} has no agent_code column: give the agent with --agent",
            file.display()
        );
    }
    let mut lines = Vec::new();
    let mut unreadable = Vec::new();
    for (index, record) in reader.records().enumerate() {
        // The header is line 1.
        let number = index as u64 + 2;
        let record = match record {
            Ok(record) => record,
            Err(err) => {
                unreadable.push((number, err.to_string()));
                continue;
            }
        };
        let get = |name: &str| {
            column
                .get(name)
                .and_then(|&i| record.get(i))
                .unwrap_or_default()
                .to_owned()
        };
        match result_of(&get, agent) {
            Ok(result) => lines.push(Line { number, result }),
            Err(why) => unreadable.push((number, why)),
        }
    }
    Ok((lines, unreadable))
}

fn result_of(get: &dyn Fn(&str) -> String, agent: Option<&str>) -> Result<PaymentResult, String> {
    let outcome = match get("outcome").to_ascii_lowercase().as_str() {
        "paid" => PaymentOutcome::Paid,
        "failed" => PaymentOutcome::Failed,
        "not_collected" | "not collected" => PaymentOutcome::NotCollected,
        other => return Err(format!("outcome {other:?} is not paid, failed or not_collected")),
    };
    let amount = match get("amount_fcfa").as_str() {
        "" => None,
        text => Some(Money {
            fcfa: text
                .parse()
                .map_err(|_| format!("amount_fcfa {text:?} is not a whole number of francs"))?,
        }),
    };
    let failure_reason = match get("failure_reason").as_str() {
        "" => FailureReason::Unspecified,
        text => FailureReason::from_str_name(&format!("FAILURE_REASON_{}", text.to_ascii_uppercase()))
            .ok_or_else(|| format!("failure_reason {text:?} is not a known reason"))?,
    };
    let agent_code = match agent {
        Some(agent) => agent.to_owned(),
        None => get("agent_code"),
    };
    Ok(PaymentResult {
        household_id: get("household_id"),
        outcome: outcome as i32,
        agent_code,
        date: get("date"),
        amount,
        receipt_reference: get("receipt_reference"),
        failure_reason: failure_reason as i32,
    })
}
