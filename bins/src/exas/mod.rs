//! EXAS, the agent state sync service: Stat Server agent states → GC presence and routing
//! status, per the deployment guide's table.

pub mod mapping;
