//! Every key the eco contract writes, all under `eco/`.

pub(super) const K_PROG: &[u8] = b"eco/prog/";
pub(super) const K_PART: &[u8] = b"eco/part/";
pub(super) const K_PART_ACCT: &[u8] = b"eco/partacct/";
pub(super) const K_DEV: &[u8] = b"eco/dev/";
pub(super) const K_DEV_HASH: &[u8] = b"eco/devhash/";
pub(super) const K_PART_DEV: &[u8] = b"eco/pdev/";
/// The readings, each with its reduction (`pb::Reduction`), stored once under
/// `prd/{participant}\0{device}\0{period_end_be}`: ordered by participant, device and period,
/// the record key is also each device's overlap index. The two indexes below map to it.
pub(super) const K_PART_RD: &[u8] = b"eco/prd/";
/// A program's readings by period start: `grd/{program}\0{start_be}{reading id}` → record key.
pub(super) const K_PROG_RD: &[u8] = b"eco/grd/";
pub(super) const K_TOT: &[u8] = b"eco/tot/";
pub(super) const K_RPT: &[u8] = b"eco/rpt/";
/// A report's readings: `rptrd/{report}\0{reading id}` → record key.
pub(super) const K_RPT_RD: &[u8] = b"eco/rptrd/";
pub(super) const K_COUNT: &[u8] = b"eco/cnt/";

pub(super) fn key(prefix: &[u8], id: &str) -> Vec<u8> {
    [prefix, id.as_bytes()].concat()
}

/// `tot/{program}\0{methodology}\0{fy_be}`: a program's tally of one methodology and year.
pub(super) fn tally_key(program: &str, methodology: &str, fy: u64) -> Vec<u8> {
    [
        K_TOT,
        program.as_bytes(),
        b"\0",
        methodology.as_bytes(),
        b"\0",
        &fy.to_be_bytes(),
    ]
    .concat()
}

/// Where a participant's readings of one device are: `prd/{participant}\0{device}\0`.
pub(super) fn device_readings_prefix(participant: &str, device: &str) -> Vec<u8> {
    [
        K_PART_RD,
        participant.as_bytes(),
        b"\0",
        device.as_bytes(),
        b"\0",
    ]
    .concat()
}

/// A program's readings index: `grd/{program}\0`.
pub(super) fn program_readings_prefix(program: &str) -> Vec<u8> {
    [K_PROG_RD, program.as_bytes(), b"\0"].concat()
}

/// A report's readings index: `rptrd/{report}\0`.
pub(super) fn report_readings_prefix(report: &str) -> Vec<u8> {
    [K_RPT_RD, report.as_bytes(), b"\0"].concat()
}
