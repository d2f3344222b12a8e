//! deixis-model: the language model side of deixis (pipeline stages 5-6): tokenizer,
//! architectures, the flash-offloaded engine, training and scoring of candidates.
//!
//! Empty for now: the runtime and the reference model are the next pieces of work. Until a
//! model ships, `deixis` resolves with the rule-based baseline in `deixis-daemon`.
