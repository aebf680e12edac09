//! `iotdest report`: one self-contained HTML page (inline SVG and CSS, no scripts, nothing
//! fetched) answering "where does each device send its data, and how did that change?".
//!
//! `data` reads the facts from a session with the analysis tables (`sql/20_report.sql`);
//! `svg` draws charts; `html` lays out the page. Rendering is pure: the same facts give the
//! same bytes.

pub mod data;
pub mod html;
pub mod svg;

pub use data::{gather, ReportData};
pub use html::render;
