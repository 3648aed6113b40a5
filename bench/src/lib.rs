#![doc = include_str!("../README.md")]

pub mod actix_apps;
pub mod apps;
pub mod chart;
pub mod churn;
pub mod document;
pub mod driver;
pub mod micro;
pub mod report;
pub mod round_trips;
