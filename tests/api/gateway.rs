//! The data plane against a mock upstream, one module per concern; what the data-plane tests
//! share is in `helpers::data_plane`.

mod answers;
mod keys;
mod routing;
mod streaming;
mod weights;
