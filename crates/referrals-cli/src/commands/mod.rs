//! One module per command, named after it; a family of commands that share their work
//! (`accept`/`decline`/`won`/`lost`, `login`/`logout`/`auth status`) is named after the family.

pub mod auth;
pub mod changes;
pub mod completions;
pub mod config;
pub mod deal;
pub mod lifecycle;
pub mod list;
pub mod listen;
pub mod simulate;
pub mod single;
pub mod sync;
pub mod webhooks;
