#![doc = include_str!("../README.md")]

pub mod apps;
pub mod driver;
pub mod report;
