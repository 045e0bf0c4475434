//! The integration tests of `referrals-hyper`, in one binary: the transport over plain HTTP
//! (`transport`) and over TLS (`tls`), against the loopback servers of `support` (the test
//! certificates are in `tests/certs`).

mod support;
mod tls;
mod transport;
