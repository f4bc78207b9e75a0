//! EXCS, the configuration sync service: Engage Config DB → GC users, skills, queues and
//! members, wrap-up codes and roles; extension DNs and id maps into the store.

pub mod desired;
pub mod rules;
pub mod service;
pub mod sync;
