//! The Agora SDK. Empty for now: keys, builders, the HTTP client, the light client and the
//! `agora` CLI arrive with the SDK issue. Nothing here works yet and nothing claims to.
