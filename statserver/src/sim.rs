//! The simulated Stat Server (feature `sim`).
