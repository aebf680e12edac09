//! Flows: the per-capture flow table and bounded TCP stream reassembly.

pub mod stream;
pub mod table;

pub use stream::{Pushed, Stream};
pub use table::{
    is_local_address, sort_flows, Direction, Flow, FlowKey, FlowStats, FlowTable, Initiator,
    PacketMeta,
};
