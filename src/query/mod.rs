//! Query: the DataFusion session over the dataset, the UDFs, and the analysis run by `sql/*.sql`.

pub mod analyze;
pub mod session;
pub mod udf;
