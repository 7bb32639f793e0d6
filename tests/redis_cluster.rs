//! The shared store conformance suite against `RedisStore` on a 3-master Redis Cluster that
//! the harness starts on 127.0.0.1:7101-7103.

mod support;

store_suite!(support::redis_server::cluster_dyn_store("cluster-suite"));
