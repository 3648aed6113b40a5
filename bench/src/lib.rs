#![doc = include_str!("../README.md")]

pub mod apps;
pub mod churn;
pub mod driver;
pub mod micro;
pub mod report;
