//! The Agora node. Empty for now: the mempool, sequencer, RocksDB store and HTTP API arrive
//! with the runner issue. Nothing here works yet and nothing claims to.
