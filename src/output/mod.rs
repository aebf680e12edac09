//! Output: query results as text, and the legacy files older scripts read.

pub mod export;
pub mod legacy;
pub mod pyfmt;
pub mod table;
