//! Query: DataFusion sessions over the dataset, the UDFs, and the analysis run by `sql/*.sql`
//! month by month (`plan` decides what a month reads and whether it is up to date, `unit` runs
//! the SQL on chosen partitions, `analyze` schedules months within the memory limit).

pub mod analyze;
pub mod cluster;
pub mod parts;
pub mod plan;
pub mod session;
pub mod steps;
pub mod udf;
pub mod unit;
