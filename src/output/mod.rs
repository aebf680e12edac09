//! Output: query results as text, the legacy files older scripts read, and the HTML report.

pub mod export;
pub mod legacy;
pub mod pyfmt;
pub mod report;
pub mod table;
