//! The roll-out's charts as geometry for the SVG in `rollout.html`: no JavaScript; each
//! chart has a title, a description and a data table beside it in the page.

use serde_json::{json, Value};

use crate::actions::rollout::overview::Overview;
use crate::actions::rollout::Cell;

/// Width of the bar area, and where it starts (the names are left of it).
const BAR_X: f64 = 330.0;
const BAR_W: f64 = 420.0;
const ROW_H: f64 = 26.0;

/// The states in the order the bars stack them.
const STACK: [Cell; 5] = [
    Cell::Live,
    Cell::InForce,
    Cell::Requested,
    Cell::Terminated,
    Cell::Nothing,
];

/// A name cut to fit beside the bars (the full name is in the title and the table).
fn short(name: &str, max: usize) -> String {
    if name.chars().count() <= max {
        name.to_string()
    } else {
        format!("{}…", name.chars().take(max - 1).collect::<String>())
    }
}

fn state_label(cell: Cell) -> &'static str {
    if cell == Cell::Nothing {
        "ohne Einzelabruf"
    } else {
        cell.label()
    }
}

/// A stacked bar per service: how many municipalities are live, in force, requested,
/// ended or without an Einzelabruf.
fn services(o: &Overview) -> Value {
    let total = o.municipality_count.max(1) as f64;
    let bars: Vec<Value> = o
        .services
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let y = 30.0 + i as f64 * ROW_H;
            let mut x = BAR_X;
            let segments: Vec<Value> = STACK
                .into_iter()
                .filter_map(|cell| {
                    let n = s.counts.get(cell);
                    (n > 0).then(|| {
                        let w = n as f64 / total * BAR_W;
                        let seg = json!({
                            "state": cell.as_str(), "label": state_label(cell), "n": n,
                            "x": format!("{x:.1}"), "w": format!("{w:.1}"),
                        });
                        x += w;
                        seg
                    })
                })
                .collect();
            json!({
                "name": s.name, "short": short(&s.name, 44), "id": s.id,
                "y": y, "text_y": y + 13.0, "segments": segments,
                "live": s.counts.live,
            })
        })
        .collect();
    json!({
        "height": 40.0 + o.services.len() as f64 * ROW_H,
        "bar_x": BAR_X, "bar_end": BAR_X + BAR_W, "live_x": BAR_X + BAR_W + 8.0,
        "bars": bars,
        "legend": STACK.into_iter().enumerate().map(|(i, c)| json!({
            "state": c.as_str(), "label": state_label(c), "x": 10.0 + i as f64 * 150.0,
        })).collect::<Vec<_>>(),
    })
}

/// The heat grid: share live per area (rows) and service (columns).
fn heat(o: &Overview) -> Value {
    const CELL: f64 = 34.0;
    const LEFT: f64 = 260.0;
    let rows: Vec<Value> = o
        .groups
        .iter()
        .enumerate()
        .map(|(r, g)| {
            let y = 20.0 + r as f64 * CELL;
            json!({
                "name": g.name, "short": short(&g.name, 36), "y": y, "text_y": y + 21.0,
                "cells": g.live.iter().enumerate().map(|(c, (live, share))| json!({
                    "x": LEFT + c as f64 * CELL, "text_x": LEFT + c as f64 * CELL + CELL / 2.0,
                    "y": y, "text_y": y + 21.0, "share": share, "live": live,
                    "service": o.services.get(c).map(|s| s.name.as_str()).unwrap_or(""),
                    "level": match share { 0 => 0, 1..=9 => 1, 10..=24 => 2, 25..=49 => 3, 50..=74 => 4, _ => 5 },
                })).collect::<Vec<_>>(),
            })
        })
        .collect();
    json!({
        "width": LEFT + o.services.len() as f64 * CELL + 10.0,
        "height": 30.0 + o.groups.len() as f64 * CELL,
        "cell": CELL - 2.0,
        "columns": o.services.iter().enumerate().map(|(c, _)| json!({
            "x": LEFT + c as f64 * CELL + CELL / 2.0, "n": c + 1,
        })).collect::<Vec<_>>(),
        "rows": rows,
    })
}

/// Live at each month's end.
fn months(o: &Overview) -> Value {
    const LEFT: f64 = 50.0;
    const W: f64 = 30.0;
    const H: f64 = 160.0;
    let max = o.months.iter().map(|m| m.total).max().unwrap_or(0);
    let scale = max.max(1) as f64;
    let bars: Vec<Value> = o
        .months
        .iter()
        .enumerate()
        .map(|(i, m)| {
            let h = m.total as f64 / scale * H;
            json!({
                "label": m.label, "live": m.live, "total": m.total,
                "x": LEFT + i as f64 * W, "w": W - 6.0,
                "y": format!("{:.1}", 10.0 + H - h), "h": format!("{h:.1}"),
                "text_x": LEFT + i as f64 * W + (W - 6.0) / 2.0,
                "tick": i % 3 == 0,
            })
        })
        .collect();
    json!({
        "width": LEFT + o.months.len() as f64 * W + 10.0,
        "height": H + 50.0, "base": 10.0 + H, "label_y": H + 30.0, "max": max,
        "bars": bars,
    })
}

pub fn all(o: &Overview) -> Value {
    json!({ "services": services(o), "heat": heat(o), "months": months(o) })
}
