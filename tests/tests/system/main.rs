//! System tests: the five services over a real nats-server and real databases.

mod bad_input;
mod catalog;
mod catalog_refresh;
mod concurrency;
mod consumer_lanes;
mod crash_safety;
mod deadlines;
mod disputes;
mod duty_clocks;
mod hostile_dates;
mod notify_channels;
mod notify_duties;
mod notify_requests;
mod paging;
mod recall;
mod requests_flow;
mod returns;
mod thin_flow;
mod trust;
