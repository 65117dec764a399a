//! Helpers shared by the runner's benchmark programs (`bench_node`, `bench_components`):
//! the summary table, percentiles, number formatting, time, a small mixing function and
//! directory sizes.
//! Included with `#[path = "common/mod.rs"] mod common;`; not every program uses every one.

#![allow(dead_code)]

use std::time::{SystemTime, UNIX_EPOCH};

/// The allocator the `agora-runner` binary uses, so a benchmark measures the node as it runs.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Rows of the final table.
#[derive(Default)]
pub struct Summary {
    rows: Vec<(String, String)>,
}

impl Summary {
    pub fn add(&mut self, what: impl Into<String>, value: impl Into<String>) {
        self.rows.push((what.into(), value.into()));
    }

    pub fn print(&self) {
        let width = self
            .rows
            .iter()
            .map(|(what, _)| what.len())
            .max()
            .unwrap_or(0);
        println!();
        println!("================================ SUMMARY ================================");
        for (what, value) in &self.rows {
            println!("{what:<width$}  {value}");
        }
        println!("=========================================================================");
    }
}

/// Unix time in milliseconds.
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|elapsed| u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

/// SplitMix64: a deterministic spread of `x` (load plans, sampling).
pub fn splitmix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

/// The `pct` percentile (nearest rank) of sorted values; NaN for none.
pub fn percentile(sorted: &[f64], pct: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((pct / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// Sorts `values` and returns their median.
pub fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    percentile(values, 50.0)
}

/// `10^k` for a power of ten from 10 000 on, the number otherwise.
pub fn fmt_count(n: usize) -> String {
    let text = n.to_string();
    let zeros = text.len() - 1;
    if zeros >= 4 && text.starts_with('1') && text[1..].bytes().all(|digit| digit == b'0') {
        format!("10^{zeros}")
    } else {
        text
    }
}

/// Bytes under `path`, counted recursively (0 for what cannot be read).
pub fn dir_size(path: &std::path::Path) -> u64 {
    std::fs::read_dir(path)
        .map(|entries| {
            entries
                .flatten()
                .map(|entry| match entry.metadata() {
                    Ok(meta) if meta.is_dir() => dir_size(&entry.path()),
                    Ok(meta) => meta.len(),
                    Err(_) => 0,
                })
                .sum()
        })
        .unwrap_or(0)
}
