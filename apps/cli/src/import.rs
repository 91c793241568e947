//! Importing a household CSV into a registry, with a progress bar and a
//! per-line error report.

use std::path::{Path, PathBuf};

use indicatif::{ProgressBar, ProgressStyle};
use jigi_proto::registry::{ImportHouseholdsRequest, ImportRowOutcome};

use crate::address::RegistryClient;
use crate::csv_format;

/// What an import did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ImportSummary {
    pub lines_refused_by_format: usize,
    pub registered: i64,
    pub duplicates: i64,
    pub invalid: i64,
    /// Where the error report was written (only when there was an error).
    pub report: Option<PathBuf>,
}

/// Reads `file`, streams its households to the registry, and writes every
/// refused line to `report` (`line,outcome,field,message,household_id`).
pub async fn import_file(
    client: &mut RegistryClient,
    file: &Path,
    report: &Path,
    show_progress: bool,
) -> anyhow::Result<ImportSummary> {
    let parsed = csv_format::read(file)?;
    let total = parsed.households.len() as u64;
    let progress = if show_progress {
        ProgressBar::new(total)
    } else {
        ProgressBar::hidden()
    };
    progress.set_style(
        ProgressStyle::with_template("{msg} [{bar:40}] {pos}/{len} households ({per_sec}, {eta} left)")
            .expect("valid template")
            .progress_chars("=> "),
    );
    progress.set_message("importing");
    let rows: Vec<ImportHouseholdsRequest> = parsed
        .households
        .iter()
        .map(|household| ImportHouseholdsRequest {
            row: household.line as i64,
            household: Some(household.draft.clone()),
        })
        .collect();
    let counter = progress.clone();
    let stream = tokio_stream::StreamExt::map(tokio_stream::iter(rows), move |row| {
        counter.inc(1);
        row
    });
    let response = client
        .import_households(stream)
        .await
        .map_err(|status| crate::service_error("import households", status))?
        .into_inner();
    progress.finish_with_message("imported");

    let mut lines: Vec<(u64, String, String, String, String)> = parsed
        .errors
        .iter()
        .map(|e| {
            (
                e.line,
                "unreadable".to_owned(),
                e.column.clone(),
                e.message.clone(),
                String::new(),
            )
        })
        .collect();
    for result in &response.results {
        let outcome = match ImportRowOutcome::try_from(result.outcome) {
            Ok(ImportRowOutcome::Registered) => continue,
            Ok(ImportRowOutcome::Duplicate) => "duplicate",
            _ => "invalid",
        };
        lines.push((
            result.row as u64,
            outcome.to_owned(),
            result.field.clone(),
            result.message.clone(),
            result.household_id.clone(),
        ));
    }
    lines.sort();
    let report = if lines.is_empty() {
        None
    } else {
        let mut writer = csv::Writer::from_path(report)
            .map_err(|err| anyhow::anyhow!("cannot write the error report {}: {err}", report.display()))?;
        writer.write_record(["line", "outcome", "field", "message", "household_id"])?;
        for (line, outcome, field, message, household) in &lines {
            writer.write_record([line.to_string().as_str(), outcome, field, message, household])?;
        }
        writer.flush()?;
        Some(report.to_path_buf())
    };
    Ok(ImportSummary {
        lines_refused_by_format: parsed.errors.len(),
        registered: response.registered,
        duplicates: response.duplicates,
        invalid: response.invalid,
        report,
    })
}
