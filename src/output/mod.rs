//! Output: query results as text, and the legacy files older scripts read.

pub mod legacy;
pub mod table;
