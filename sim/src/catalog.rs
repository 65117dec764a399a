//! The five task types the simulated market trades: what each needs (capabilities), what a
//! unit costs a provider of average efficiency, how long a unit takes at average speed,
//! how large requests are, and which quality minimums its SLAs name.

use agora_contract::bounded::{BoundedVec, Label};
use agora_contract::market::MAX_CAPABILITIES;

/// Capabilities a provider may have, sorted (labels must be sorted on chain).
pub const CAPABILITIES: [&str; 3] = ["gpu", "high-mem", "video"];

/// The chance that a generated provider has each capability of [`CAPABILITIES`].
pub const CAPABILITY_ODDS: [f64; 3] = [0.75, 0.35, 0.45];

/// One task type.
#[derive(Clone, Copy, Debug)]
pub struct TaskType {
    pub name: &'static str,
    /// Sorted and distinct; a provider needs all of them.
    pub capabilities: &'static [&'static str],
    /// True cost of one unit for a provider of efficiency 1.0, in chain currency.
    pub base_cost_per_unit: f64,
    /// Work time of one unit at speed 1.0.
    pub work_ms_per_unit: u64,
    /// Request sizes, inclusive.
    pub units_min: u64,
    pub units_max: u64,
    /// `(metric, min_bps)`, sorted by metric.
    pub quality_min: &'static [(&'static str, u16)],
    /// How often requesters pick this type, relative to the others.
    pub demand_weight: u64,
}

pub const TASK_TYPES: [TaskType; 5] = [
    TaskType {
        name: "inference",
        capabilities: &["gpu"],
        base_cost_per_unit: 120.0,
        work_ms_per_unit: 2_000,
        units_min: 20,
        units_max: 300,
        quality_min: &[("accuracy", 7_000)],
        demand_weight: 35,
    },
    TaskType {
        name: "embedding",
        capabilities: &["gpu"],
        base_cost_per_unit: 40.0,
        work_ms_per_unit: 600,
        units_min: 50,
        units_max: 500,
        quality_min: &[("accuracy", 7_500)],
        demand_weight: 25,
    },
    TaskType {
        name: "training",
        capabilities: &["gpu", "high-mem"],
        base_cost_per_unit: 450.0,
        work_ms_per_unit: 9_000,
        units_min: 10,
        units_max: 120,
        quality_min: &[("accuracy", 7_000), ("completeness", 8_000)],
        demand_weight: 10,
    },
    TaskType {
        name: "transcode",
        capabilities: &["video"],
        base_cost_per_unit: 60.0,
        work_ms_per_unit: 2_500,
        units_min: 20,
        units_max: 250,
        quality_min: &[("completeness", 9_000)],
        demand_weight: 15,
    },
    TaskType {
        name: "render",
        capabilities: &["gpu", "video"],
        base_cost_per_unit: 200.0,
        work_ms_per_unit: 6_000,
        units_min: 10,
        units_max: 200,
        quality_min: &[("accuracy", 6_500), ("completeness", 8_500)],
        demand_weight: 15,
    },
];

/// A label the contract accepts; the catalog only holds valid ones.
pub fn label(text: &str) -> Label {
    Label::new(text).unwrap_or_else(|| unreachable!("catalog label {text:?} is valid"))
}

/// The sorted capability list of a provider, as the chain stores it.
pub fn capability_labels(capabilities: &[&str]) -> BoundedVec<Label, MAX_CAPABILITIES> {
    let labels: Vec<Label> = capabilities.iter().map(|c| label(c)).collect();
    BoundedVec::new(labels).unwrap_or_else(|_| unreachable!("at most 3 capabilities"))
}

/// Whether `have` (sorted) includes every capability `task` needs.
pub fn can_serve(have: &[&str], task: &TaskType) -> bool {
    task.capabilities.iter().all(|need| have.contains(need))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catalog_labels_are_valid_and_sorted() {
        for task in TASK_TYPES {
            label(task.name);
            assert!(task.capabilities.windows(2).all(|w| w[0] < w[1]));
            assert!(task.quality_min.windows(2).all(|w| w[0].0 < w[1].0));
            assert!(task.units_min <= task.units_max);
        }
        assert!(CAPABILITIES.windows(2).all(|w| w[0] < w[1]));
    }
}
