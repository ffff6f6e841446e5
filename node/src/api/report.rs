//! Reports as documents: the shared pieces of the CSV and JSON exports (format argument, JST
//! times, tables written both ways from one column list) and the relief disaster report.
//!
//! Owns only the rendering. It never reads the chain itself (the services pass what the
//! contracts computed) and never writes personal data (the contracts' records hold none).

use tonic::Status;
use yui_proto::v1 as pb;

/// The format a request asks for; unset or unknown is refused.
pub fn format_arg(format: i32) -> Result<pb::ExportFormat, Status> {
    pb::ExportFormat::try_from(format)
        .ok()
        .filter(|f| *f != pb::ExportFormat::Unspecified)
        .ok_or_else(|| {
            Status::invalid_argument("format must be EXPORT_FORMAT_CSV or EXPORT_FORMAT_JSON")
        })
}

/// JST ISO date-time of a block time (municipal staff and committees read local time).
pub fn jst(ms: u64) -> String {
    let secs = i64::try_from(ms / 1000).unwrap_or(i64::MAX);
    time::OffsetDateTime::from_unix_timestamp(secs)
        .ok()
        .and_then(|t| {
            t.to_offset(time::macros::offset!(+9))
                .format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_default()
}

/// One cell of a table.
#[derive(Clone, Debug, PartialEq)]
pub enum Cell {
    /// Text (a JSON string; in CSV quoted when needed).
    Text(String),
    /// A count (a JSON number).
    Count(u64),
}

/// A table as CSV (RFC 4180, header first). A text cell that a spreadsheet would run as a
/// formula (starting with `=`, `+`, `-`, `@`, tab or carriage return) gets a leading `'`, so a
/// name typed by someone else never executes on the reader's machine.
pub fn csv(columns: &[&str], rows: &[Vec<Cell>]) -> anyhow::Result<String> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(columns)?;
    for row in rows {
        w.write_record(row.iter().map(|c| match c {
            Cell::Count(n) => n.to_string(),
            Cell::Text(t) if t.starts_with(['=', '+', '-', '@', '\t', '\r']) => format!("'{t}"),
            Cell::Text(t) => t.clone(),
        }))?;
    }
    Ok(String::from_utf8(w.into_inner()?)?)
}

/// A table as JSON objects keyed by column name.
pub fn json_rows(columns: &[&str], rows: &[Vec<Cell>]) -> Vec<serde_json::Value> {
    rows.iter()
        .map(|row| {
            let obj: serde_json::Map<String, serde_json::Value> = columns
                .iter()
                .zip(row)
                .map(|(k, c)| {
                    let v = match c {
                        Cell::Text(t) => serde_json::Value::from(t.as_str()),
                        Cell::Count(n) => serde_json::Value::from(*n),
                    };
                    ((*k).to_string(), v)
                })
                .collect();
            serde_json::Value::Object(obj)
        })
        .collect()
}

/// The disaster report's columns, in order.
pub const DISASTER_COLUMNS: &[&str] = &[
    "disaster_id",
    "shelter_id",
    "shelter_name",
    "municipality",
    "area",
    "item_id",
    "item_name",
    "unit",
    "category",
    "needs",
    "overdue_needs",
    "needed",
    "committed",
    "in_transit",
    "fulfilled",
    "unmet",
    "shipments",
    "received",
    "short",
    "damaged",
    "lost",
    "returned",
    "written_off",
];

fn disaster_row(disaster_id: &str, l: &pb::DisasterReportLine) -> Vec<Cell> {
    let t = |s: &str| Cell::Text(s.to_string());
    vec![
        t(disaster_id),
        t(&l.shelter_id),
        t(&l.shelter_name),
        t(&l.municipality),
        t(&l.area),
        t(&l.item_id),
        t(&l.item_name),
        t(&l.unit),
        t(&l.category),
        Cell::Count(l.needs),
        Cell::Count(l.overdue_needs),
        Cell::Count(l.needed),
        Cell::Count(l.committed),
        Cell::Count(l.in_transit),
        Cell::Count(l.fulfilled),
        Cell::Count(l.unmet),
        Cell::Count(l.shipments),
        Cell::Count(l.received),
        Cell::Count(l.short),
        Cell::Count(l.damaged),
        Cell::Count(l.lost),
        Cell::Count(l.returned),
        Cell::Count(l.written_off),
    ]
}

/// The disaster report as (MIME type, document): CSV one line per shelter and item; JSON the
/// disaster, the height and time it was made at, and the same lines.
pub fn disaster_report(
    format: pb::ExportFormat,
    disaster: &pb::Disaster,
    lines: &[pb::DisasterReportLine],
    height: u64,
    time_ms: u64,
) -> anyhow::Result<(&'static str, String)> {
    let rows: Vec<Vec<Cell>> = lines
        .iter()
        .map(|l| disaster_row(&disaster.disaster_id, l))
        .collect();
    Ok(match format {
        pb::ExportFormat::Json => (
            "application/json",
            serde_json::json!({
                "disaster_id": disaster.disaster_id,
                "disaster_name": disaster.name,
                "height": height,
                "as_of_jst": jst(time_ms),
                "lines": json_rows(DISASTER_COLUMNS, &rows),
            })
            .to_string(),
        ),
        _ => ("text/csv", csv(DISASTER_COLUMNS, &rows)?),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_quotes_commas_and_quotes_and_defuses_formulas() {
        let rows = vec![vec![
            Cell::Text("Water, 2L \"case\"".into()),
            Cell::Text("=HYPERLINK(\"x\")".into()),
            Cell::Count(7),
        ]];
        let out = csv(&["a", "b", "n"], &rows).unwrap();
        let mut r = csv::Reader::from_reader(out.as_bytes());
        let rec = r.records().next().unwrap().unwrap();
        assert_eq!(&rec[0], "Water, 2L \"case\"");
        assert_eq!(&rec[1], "'=HYPERLINK(\"x\")");
        assert_eq!(&rec[2], "7");
        assert_eq!(r.headers().unwrap().len(), 3);
    }

    #[test]
    fn both_formats_carry_the_same_lines() {
        let disaster = pb::Disaster {
            disaster_id: "d1".into(),
            name: "大雨".into(),
            ..Default::default()
        };
        let line = pb::DisasterReportLine {
            shelter_id: "s1".into(),
            shelter_name: "第一小学校".into(),
            item_id: "water".into(),
            needed: 100,
            received: 60,
            short: 5,
            ..Default::default()
        };
        let (ct, csv_doc) = disaster_report(
            pb::ExportFormat::Csv,
            &disaster,
            std::slice::from_ref(&line),
            9,
            0,
        )
        .unwrap();
        assert_eq!(ct, "text/csv");
        let mut r = csv::Reader::from_reader(csv_doc.as_bytes());
        assert_eq!(r.headers().unwrap().len(), DISASTER_COLUMNS.len());
        let rec = r.records().next().unwrap().unwrap();
        assert_eq!(&rec[2], "第一小学校");
        assert_eq!(&rec[11], "100");
        let (ct, json_doc) =
            disaster_report(pb::ExportFormat::Json, &disaster, &[line], 9, 0).unwrap();
        assert_eq!(ct, "application/json");
        let v: serde_json::Value = serde_json::from_str(&json_doc).unwrap();
        assert_eq!(v["height"], 9);
        assert_eq!(v["lines"][0]["shelter_name"], "第一小学校");
        assert_eq!(v["lines"][0]["received"], 60);
        assert_eq!(v["lines"][0]["short"], 5);
    }
}
