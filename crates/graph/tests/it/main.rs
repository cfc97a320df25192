//! Integration tests of galsync-graph over real HTTP against local servers.

mod batch;
mod deadline;
mod emulator;
mod identity;
mod paging;
mod redaction;
mod retry;
mod support;
mod token_server;
