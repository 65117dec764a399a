//! The report's plots, as SVG files: settlement prices and VWAP per task type over time
//! against the providers' true costs, match rate and SLA compliance per round, and the
//! reputation premium (price ÷ ask, and price ÷ the task type's VWAP, against the score at
//! assignment). Every point comes from the run's records and report.

use std::path::{Path, PathBuf};

use agora_contract::market::multiplier_bps;
use anyhow::{anyhow, Result};
use plotters::coord::Shift;
use plotters::prelude::*;

use crate::catalog::TASK_TYPES;
use crate::metrics::{vwap, Report, ROLLING_ROUNDS};
use crate::records::Outcome;

fn plot_error<E: std::fmt::Display>(error: E) -> anyhow::Error {
    anyhow!("plotting: {error}")
}

/// Writes every plot into `dir` and returns their paths.
pub fn write_all(dir: &Path, outcome: &Outcome, report: &Report) -> Result<Vec<PathBuf>> {
    let prices = dir.join("prices.svg");
    let rates = dir.join("match_sla.svg");
    let premium = dir.join("reputation_premium.svg");
    plot_prices(&prices, outcome, report)?;
    plot_rates(&rates, report)?;
    plot_premium(&premium, outcome)?;
    Ok(vec![prices, rates, premium])
}

/// `(round, value)` points of a per-round series, skipping rounds without a value.
fn points(rounds: &[u32], values: &[Option<f64>]) -> Vec<(f64, f64)> {
    rounds
        .iter()
        .zip(values)
        .filter_map(|(round, value)| value.map(|v| (f64::from(*round), v)))
        .collect()
}

/// A legend drawn as its own panel: a swatch and a line of text per entry.
fn legend(area: &DrawingArea<SVGBackend, Shift>, entries: &[(&str, RGBColor, bool)]) -> Result<()> {
    let font = ("sans-serif", 18).into_font();
    for (row, (text, color, dot)) in entries.iter().enumerate() {
        let y = 60 + 34 * row as i32;
        if *dot {
            area.draw(&Circle::new((50, y), 5, color.mix(0.5).filled()))
                .map_err(plot_error)?;
        } else {
            area.draw(&PathElement::new(
                vec![(35, y), (65, y)],
                color.stroke_width(3),
            ))
            .map_err(plot_error)?;
        }
        area.draw(&Text::new(text.to_string(), (80, y - 9), font.clone()))
            .map_err(plot_error)?;
    }
    Ok(())
}

fn plot_prices(path: &Path, outcome: &Outcome, report: &Report) -> Result<()> {
    let root = SVGBackend::new(path, (1400, 1100)).into_drawing_area();
    root.fill(&WHITE).map_err(plot_error)?;
    let root = root
        .titled(
            "Settlement prices, VWAP and true costs per task type",
            ("sans-serif", 24),
        )
        .map_err(plot_error)?;
    let panels = root.split_evenly((3, 2));
    let rounds = &report.series.round;
    let last_round = rounds.last().copied().unwrap_or(1).max(1) as f64;
    for (task, panel) in panels.iter().enumerate().take(TASK_TYPES.len()) {
        let prices: Vec<(f64, f64)> = outcome
            .assignments
            .iter()
            .filter(|a| a.task_type == task)
            .map(|a| (f64::from(a.assigned_round), a.price_per_unit as f64))
            .collect();
        let chain_vwap: Vec<Option<f64>> = report.series.chain_vwap[task]
            .iter()
            .map(|v| v.map(|v| v as f64))
            .collect();
        let chain_vwap = points(rounds, &chain_vwap);
        let rolling = points(rounds, &report.series.vwap_rolling[task]);
        let population = outcome.population_cost[task];
        let served = report.tasks[task].window_served_cost;
        let y_max = prices
            .iter()
            .map(|p| p.1)
            .chain(population)
            .fold(1.0_f64, f64::max)
            * 1.1;
        let mut chart = ChartBuilder::on(panel)
            .caption(TASK_TYPES[task].name, ("sans-serif", 20))
            .margin(10)
            .x_label_area_size(35)
            .y_label_area_size(55)
            .build_cartesian_2d(0.0..last_round, 0.0..y_max)
            .map_err(plot_error)?;
        chart
            .configure_mesh()
            .x_desc("round")
            .y_desc("price per unit")
            .draw()
            .map_err(plot_error)?;
        chart
            .draw_series(
                prices
                    .iter()
                    .map(|p| Circle::new(*p, 2, BLUE.mix(0.25).filled())),
            )
            .map_err(plot_error)?;
        chart
            .draw_series(LineSeries::new(rolling, BLUE.stroke_width(2)))
            .map_err(plot_error)?;
        chart
            .draw_series(LineSeries::new(chain_vwap, BLACK.stroke_width(2)))
            .map_err(plot_error)?;
        let flat = |value: f64| vec![(0.0, value), (last_round, value)];
        if let Some(cost) = population {
            chart
                .draw_series(LineSeries::new(flat(cost), RED.stroke_width(2)))
                .map_err(plot_error)?;
        }
        if let Some(cost) = served {
            chart
                .draw_series(LineSeries::new(flat(cost), MAGENTA.stroke_width(2)))
                .map_err(plot_error)?;
        }
    }
    let rolling_label = format!("VWAP of the last {ROLLING_ROUNDS} rounds' assignments");
    let served_label = format!(
        "true cost of the providers who served (rounds ≥ {})",
        report.window_start_round
    );
    legend(
        &panels[5],
        &[
            ("settlement price of one assignment", BLUE, true),
            (&rolling_label, BLUE, false),
            (
                "contract VWAP (prices::price_stats, trailing 24 h)",
                BLACK,
                false,
            ),
            ("mean true cost of every able provider", RED, false),
            (&served_label, MAGENTA, false),
        ],
    )?;
    root.present().map_err(plot_error)?;
    Ok(())
}

fn plot_rates(path: &Path, report: &Report) -> Result<()> {
    let root = SVGBackend::new(path, (1200, 650)).into_drawing_area();
    root.fill(&WHITE).map_err(plot_error)?;
    let rounds = &report.series.round;
    let last_round = rounds.last().copied().unwrap_or(1).max(1) as f64;
    let mut chart = ChartBuilder::on(&root)
        .caption(
            "Match rate (by posting round) and SLA compliance (by settlement round)",
            ("sans-serif", 22),
        )
        .margin(15)
        .x_label_area_size(40)
        .y_label_area_size(50)
        .build_cartesian_2d(0.0..last_round, 0.0..1.05)
        .map_err(plot_error)?;
    chart
        .configure_mesh()
        .x_desc("round")
        .y_desc("share")
        .draw()
        .map_err(plot_error)?;
    let series = [
        (
            "match rate",
            &report.series.match_rate,
            &report.series.match_rate_rolling,
            BLUE,
        ),
        (
            "SLA compliance",
            &report.series.sla_compliance,
            &report.series.sla_compliance_rolling,
            RED,
        ),
    ];
    for (name, per_round, rolling, color) in series {
        chart
            .draw_series(
                points(rounds, per_round)
                    .into_iter()
                    .map(|p| Circle::new(p, 2, color.mix(0.3).filled())),
            )
            .map_err(plot_error)?
            .label(format!("{name}, one round"))
            .legend(move |(x, y)| Circle::new((x + 10, y), 3, color.mix(0.5).filled()));
        chart
            .draw_series(LineSeries::new(
                points(rounds, rolling),
                color.stroke_width(2),
            ))
            .map_err(plot_error)?
            .label(format!("{name}, last {ROLLING_ROUNDS} rounds"))
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2))
            });
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::LowerLeft)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .draw()
        .map_err(plot_error)?;
    root.present().map_err(plot_error)?;
    Ok(())
}

/// One assignment in the premium plot: score, price ÷ ask, price ÷ task VWAP, aware.
type PremiumPoint = (f64, f64, Option<f64>, bool);

fn plot_premium(path: &Path, outcome: &Outcome) -> Result<()> {
    let root = SVGBackend::new(path, (1200, 1100)).into_drawing_area();
    root.fill(&WHITE).map_err(plot_error)?;
    let (upper, lower) = root.split_vertically(550);
    let vwaps: Vec<Option<f64>> = (0..TASK_TYPES.len())
        .map(|task| vwap(outcome.assignments.iter().filter(|a| a.task_type == task)))
        .collect();
    let data: Vec<PremiumPoint> = outcome
        .assignments
        .iter()
        .filter(|a| a.ask_per_unit > 0)
        .map(|a| {
            let aware = outcome
                .providers
                .get(a.provider)
                .is_some_and(|p| p.pricing == "aware");
            let price = a.price_per_unit as f64;
            (
                f64::from(a.score_at_assignment),
                price / a.ask_per_unit as f64,
                vwaps[a.task_type].map(|v| price / v),
                aware,
            )
        })
        .collect();
    let x_max = data.iter().map(|p| p.0).fold(250.0_f64, f64::max) + 10.0;
    let multiplier: Vec<(f64, f64)> = (0..=x_max as u16)
        .map(|score| {
            (
                f64::from(score),
                f64::from(multiplier_bps(score)) / 10_000.0,
            )
        })
        .collect();
    let panels: [(&DrawingArea<SVGBackend, Shift>, &str, &str, bool); 2] = [
        (
            &upper,
            "Reputation vs premium: settlement price ÷ ask, by score at assignment",
            "price ÷ ask",
            true,
        ),
        (
            &lower,
            "Settlement price ÷ the run's VWAP of its task type, by score at assignment",
            "price ÷ task VWAP",
            false,
        ),
    ];
    for (area, caption, y_desc, over_ask) in panels {
        let ys: Vec<(f64, f64, bool)> = data
            .iter()
            .filter_map(|p| {
                let y = if over_ask { Some(p.1) } else { p.2 };
                y.map(|y| (p.0, y, p.3))
            })
            .collect();
        let y_max = ys.iter().map(|p| p.1).fold(2.1_f64, f64::max) * 1.05;
        let mut chart = ChartBuilder::on(area)
            .caption(caption, ("sans-serif", 20))
            .margin(15)
            .x_label_area_size(40)
            .y_label_area_size(50)
            .build_cartesian_2d(0.0..x_max, 0.0..y_max)
            .map_err(plot_error)?;
        chart
            .configure_mesh()
            .x_desc("provider score at assignment")
            .y_desc(y_desc)
            .draw()
            .map_err(plot_error)?;
        for (aware, color, name) in [
            (true, BLUE, "multiplier-aware providers"),
            (false, GREEN, "naive providers"),
        ] {
            chart
                .draw_series(
                    ys.iter()
                        .filter(|p| p.2 == aware)
                        .map(|p| Circle::new((p.0, p.1), 3, color.mix(0.35).filled())),
                )
                .map_err(plot_error)?
                .label(name)
                .legend(move |(x, y)| Circle::new((x + 10, y), 3, color.filled()));
        }
        if over_ask {
            chart
                .draw_series(LineSeries::new(multiplier.clone(), BLACK.stroke_width(1)))
                .map_err(plot_error)?
                .label("contract multiplier m(score): price ÷ ask when the bid does not bind")
                .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], BLACK));
        } else {
            chart
                .draw_series(LineSeries::new(
                    vec![(0.0, 1.0), (x_max, 1.0)],
                    BLACK.stroke_width(1),
                ))
                .map_err(plot_error)?
                .label("the task type's VWAP")
                .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], BLACK));
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::LowerRight)
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .draw()
            .map_err(plot_error)?;
    }
    root.present().map_err(plot_error)?;
    Ok(())
}
