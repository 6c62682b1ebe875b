//! The ground floor of probity: what every layer above needs and none of them owns. The
//! configuration (`config`, one module per table) and the probe specifications it makes
//! (`spec`), time formatting (`time`), tokens and constant-time comparison (`auth`), HTML
//! escaping (`html`), the outbound HTTP clients with their user agents (`http_client`),
//! process plumbing (`process`) and the vantage names (`vantage`).
//!
//! **Architecture Invariant:** this crate imports nothing of probity's but `probity-core`;
//! the crate graph makes an import from a higher layer a compile error.
#![forbid(unsafe_code)]

pub mod auth;
pub mod config;
pub mod html;
pub mod http_client;
pub mod process;
pub mod spec;
pub mod time;
pub mod vantage;
