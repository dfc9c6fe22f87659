//! The run report: throughput, latency percentiles, errors, and a plot.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::Result;
use hdrhistogram::Histogram;
use serde::Serialize;

use crate::scenario::{LoadModel, RunSpec, Scenario, Tally};

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub scenario: Scenario,
    pub model: LoadModel,
    /// The plans scenario's aim; the conflicts the server found are under `errors`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub plan_conflict_percent: Option<u8>,
    pub seconds: f64,
    pub requests: u64,
    /// Operations the server acknowledged (a batch request carries many).
    pub acknowledged: u64,
    pub operations_per_s: f64,
    pub requests_per_s: f64,
    pub latency_us: BTreeMap<String, u64>,
    pub errors: BTreeMap<String, u64>,
    /// (percentile, microseconds) for the plot.
    #[serde(skip)]
    pub distribution: Vec<(f64, u64)>,
    pub check: Option<String>,
}

impl Report {
    pub(crate) fn new(spec: &RunSpec, seconds: f64, t: &Tally) -> Report {
        let mut latency_us = BTreeMap::new();
        for (name, q) in [("p50", 0.5), ("p90", 0.9), ("p99", 0.99), ("p99.9", 0.999)] {
            latency_us.insert(name.to_owned(), t.hist.value_at_quantile(q));
        }
        latency_us.insert("max".to_owned(), t.hist.max());
        Report {
            scenario: spec.scenario,
            model: spec.model,
            plan_conflict_percent: (spec.scenario == Scenario::Plans)
                .then_some(spec.plan_conflict_percent),
            seconds,
            requests: t.requests,
            acknowledged: t.operations,
            operations_per_s: t.operations as f64 / seconds,
            requests_per_s: t.requests as f64 / seconds,
            latency_us,
            errors: t.errors.clone(),
            distribution: distribution(&t.hist),
            check: None,
        }
    }

    /// The latency percentile distribution as an SVG picture.
    pub fn write_svg(&self, path: &Path) -> Result<()> {
        use plotters::prelude::*;
        let root = SVGBackend::new(path, (900, 500)).into_drawing_area();
        root.fill(&WHITE)?;
        // x: "nines" of the percentile, so p90 = 1, p99 = 2, p99.9 = 3.
        let pts: Vec<(f64, f64)> = self
            .distribution
            .iter()
            .map(|(p, us)| (-(1.0 - p / 100.0).max(1e-6).log10(), *us as f64 / 1000.0))
            .collect();
        let ymax = pts.iter().map(|(_, y)| *y).fold(1.0, f64::max) * 1.1;
        let mut chart = ChartBuilder::on(&root)
            .caption(
                format!(
                    "{:?} latency by percentile ({:.0} ops/s)",
                    self.scenario, self.operations_per_s
                ),
                ("sans-serif", 20),
            )
            .margin(20)
            .x_label_area_size(40)
            .y_label_area_size(60)
            .build_cartesian_2d(0.0..5.0, 0.0..ymax)?;
        chart
            .configure_mesh()
            .x_desc("percentile")
            .y_desc("latency (ms)")
            .x_label_formatter(&|x| format!("p{}", 100.0 - 100.0 * 10f64.powf(-x)))
            .draw()?;
        chart.draw_series(LineSeries::new(pts, &BLUE))?;
        root.present()?;
        Ok(())
    }
}

fn distribution(h: &Histogram<u64>) -> Vec<(f64, u64)> {
    if h.is_empty() {
        return Vec::new();
    }
    h.iter_quantiles(2)
        .map(|v| (v.percentile(), v.value_iterated_to()))
        .collect()
}
