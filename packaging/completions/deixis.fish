# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_deixis_global_optspecs
    string join \n config= h/help V/version
end

function __fish_deixis_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_deixis_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_deixis_using_subcommand
    set -l cmd (__fish_deixis_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c deixis -n "__fish_deixis_needs_command" -l config -d 'Config file (default: $XDG_CONFIG_HOME/deixis/config.toml)' -r -F
complete -c deixis -n "__fish_deixis_needs_command" -s h -l help -d 'Print help'
complete -c deixis -n "__fish_deixis_needs_command" -s V -l version -d 'Print version'
complete -c deixis -n "__fish_deixis_needs_command" -f -a "parse" -d 'Print the onscreen parse of a screen, entities tagged as {{n. text}}'
complete -c deixis -n "__fish_deixis_needs_command" -f -a "resolve" -d 'Rank the candidates a request could mean'
complete -c deixis -n "__fish_deixis_needs_command" -f -a "capture" -d 'Read the screen from the accessibility bus, in the screen file format'
complete -c deixis -n "__fish_deixis_needs_command" -f -a "screen" -d 'What the running deixisd sees now: its onscreen parse and entities'
complete -c deixis -n "__fish_deixis_needs_command" -f -a "status" -d 'The running deixisd\'s version, resolver, status and capture sources'
complete -c deixis -n "__fish_deixis_needs_command" -f -a "forget" -d 'Make the running deixisd delete what it keeps, from memory and disk'
complete -c deixis -n "__fish_deixis_needs_command" -f -a "model" -d 'Prepare and try language models'
complete -c deixis -n "__fish_deixis_needs_command" -f -a "eval" -d 'Score a resolver on eval files (JSONL, one case a line)'
complete -c deixis -n "__fish_deixis_using_subcommand parse" -l screen -d 'A screen file (the eval case format); without it, the live screen' -r -F
complete -c deixis -n "__fish_deixis_using_subcommand parse" -l prompt -d 'Also print the whole prompt for this request' -r
complete -c deixis -n "__fish_deixis_using_subcommand parse" -l png -d 'Also draw what deixis sees into this PNG: elements, clusters (one colour each), parse lines and prompt numbers, over a screenshot of the live screen (over a white canvas with --screen)' -r -F
complete -c deixis -n "__fish_deixis_using_subcommand parse" -l config -d 'Config file (default: $XDG_CONFIG_HOME/deixis/config.toml)' -r -F
complete -c deixis -n "__fish_deixis_using_subcommand parse" -s h -l help -d 'Print help'
complete -c deixis -n "__fish_deixis_using_subcommand resolve" -l screen -d 'A screen file; without it, ask the running daemon' -r -F
complete -c deixis -n "__fish_deixis_using_subcommand resolve" -l resolver -d 'Which resolver answers (default: the config\'s model.resolver)' -r -f -a "baseline\t''
model\t''"
complete -c deixis -n "__fish_deixis_using_subcommand resolve" -l model -d 'Model directory (default: the config\'s model.path, else the shipped model)' -r -F
complete -c deixis -n "__fish_deixis_using_subcommand resolve" -l max-results -d 'How many candidates to print' -r
complete -c deixis -n "__fish_deixis_using_subcommand resolve" -l config -d 'Config file (default: $XDG_CONFIG_HOME/deixis/config.toml)' -r -F
complete -c deixis -n "__fish_deixis_using_subcommand resolve" -l json -d 'Print JSON (the D-Bus answer\'s fields) instead of a table'
complete -c deixis -n "__fish_deixis_using_subcommand resolve" -s h -l help -d 'Print help'
complete -c deixis -n "__fish_deixis_using_subcommand capture" -l config -d 'Config file (default: $XDG_CONFIG_HOME/deixis/config.toml)' -r -F
complete -c deixis -n "__fish_deixis_using_subcommand capture" -l json -d 'Print the screen file (JSON) instead of a table'
complete -c deixis -n "__fish_deixis_using_subcommand capture" -l all-windows -d 'Every showing window, not only the focused one (default: the config\'s capture.all_windows)'
complete -c deixis -n "__fish_deixis_using_subcommand capture" -s h -l help -d 'Print help'
complete -c deixis -n "__fish_deixis_using_subcommand screen" -l config -d 'Config file (default: $XDG_CONFIG_HOME/deixis/config.toml)' -r -F
complete -c deixis -n "__fish_deixis_using_subcommand screen" -l json -d 'Print the D-Bus reply as JSON: {"snapshot_id", "parse", "entities"}'
complete -c deixis -n "__fish_deixis_using_subcommand screen" -s h -l help -d 'Print help'
complete -c deixis -n "__fish_deixis_using_subcommand status" -l config -d 'Config file (default: $XDG_CONFIG_HOME/deixis/config.toml)' -r -F
complete -c deixis -n "__fish_deixis_using_subcommand status" -l json -d 'Print the properties as JSON'
complete -c deixis -n "__fish_deixis_using_subcommand status" -s h -l help -d 'Print help'
complete -c deixis -n "__fish_deixis_using_subcommand forget" -l config -d 'Config file (default: $XDG_CONFIG_HOME/deixis/config.toml)' -r -F
complete -c deixis -n "__fish_deixis_using_subcommand forget" -l json -d 'Print {"forgotten": SCOPE} as JSON'
complete -c deixis -n "__fish_deixis_using_subcommand forget" -s h -l help -d 'Print help'
complete -c deixis -n "__fish_deixis_using_subcommand model; and not __fish_seen_subcommand_from convert data train train-predictors bench generate" -l config -d 'Config file (default: $XDG_CONFIG_HOME/deixis/config.toml)' -r -F
complete -c deixis -n "__fish_deixis_using_subcommand model; and not __fish_seen_subcommand_from convert data train train-predictors bench generate" -s h -l help -d 'Print help'
complete -c deixis -n "__fish_deixis_using_subcommand model; and not __fish_seen_subcommand_from convert data train train-predictors bench generate" -f -a "convert" -d 'Convert a GGUF file, or safetensors with their config.json and tokenizer.json, into a model directory (config.json, tokenizer.json, weights.bin)'
complete -c deixis -n "__fish_deixis_using_subcommand model; and not __fish_seen_subcommand_from convert data train train-predictors bench generate" -f -a "data" -d 'Generated reference-resolution examples (ReALM-style: on-screen, conversational, background, none) as JSONL in the eval case format, on stdout'
complete -c deixis -n "__fish_deixis_using_subcommand model; and not __fish_seen_subcommand_from convert data train train-predictors bench generate" -f -a "train" -d 'Train the reference model from scratch on generated data (CPU): tokenizer, checkpoints, loss.csv, eval.csv, loss.png and the exported model in --out'
complete -c deixis -n "__fish_deixis_using_subcommand model; and not __fish_seen_subcommand_from convert data train train-predictors bench generate" -f -a "train-predictors" -d 'Train the flash engine\'s low-rank activation predictors for a model: runs it over a corpus recording each layer\'s FFN inputs and active neurons, trains one predictor per layer, writes DIR/predictors.safetensors and prints held-out recall and precision'
complete -c deixis -n "__fish_deixis_using_subcommand model; and not __fish_seen_subcommand_from convert data train train-predictors bench generate" -f -a "bench" -d 'The flash engine\'s benchmark: naive, budgeted mmap and flash on the same weights with half the model as the DRAM budget, from a cold page cache; generated OPT-shaped models (1.3B parameters, f16) with 3%, 5% and 10% of FFN neurons active'
complete -c deixis -n "__fish_deixis_using_subcommand model; and not __fish_seen_subcommand_from convert data train train-predictors bench generate" -f -a "generate" -d 'Greedy generation from a prompt (a smoke test of a model)'
complete -c deixis -n "__fish_deixis_using_subcommand model; and __fish_seen_subcommand_from convert" -l gguf -d 'A GGUF file (llama architecture; dequantized)' -r -F
complete -c deixis -n "__fish_deixis_using_subcommand model; and __fish_seen_subcommand_from convert" -l model -d 'A model directory (config.json, tokenizer.json, weights.bin): its weights stored again in --dtype (f16 halves a trained model\'s size)' -r -F
complete -c deixis -n "__fish_deixis_using_subcommand model; and __fish_seen_subcommand_from convert" -l safetensors -d 'Safetensors files (llama, OPT or deixis)' -r -F
complete -c deixis -n "__fish_deixis_using_subcommand model; and __fish_seen_subcommand_from convert" -l config -d 'The Hugging Face config.json of the safetensors' -r -F
complete -c deixis -n "__fish_deixis_using_subcommand model; and __fish_seen_subcommand_from convert" -l tokenizer -d 'The tokenizer.json of the safetensors' -r -F
complete -c deixis -n "__fish_deixis_using_subcommand model; and __fish_seen_subcommand_from convert" -l out -d 'The model directory to write' -r -F
complete -c deixis -n "__fish_deixis_using_subcommand model; and __fish_seen_subcommand_from convert" -l dtype -d 'How weights are stored' -r -f -a "f32\t''
f16\t''"
complete -c deixis -n "__fish_deixis_using_subcommand model; and __fish_seen_subcommand_from convert" -s h -l help -d 'Print help'
complete -c deixis -n "__fish_deixis_using_subcommand model; and __fish_seen_subcommand_from data" -l seed -d 'The same seed gives the same cases' -r
complete -c deixis -n "__fish_deixis_using_subcommand model; and __fish_seen_subcommand_from data" -l count -d 'How many cases' -r
complete -c deixis -n "__fish_deixis_using_subcommand model; and __fish_seen_subcommand_from data" -l type-questions -d 'Share of the cases (0 to 1) that ask for a value by its kind ("what time is it?"); 0 draws the cases earlier versions drew for the same seed' -r
complete -c deixis -n "__fish_deixis_using_subcommand model; and __fish_seen_subcommand_from data" -l generator -d 'The generator\'s version: 1 words one chat request "copy him last message", 2 fixes it, 3 also gives a share of the unnamed icons and images machine captions ("a white arrow on a blue background ."); the same cases otherwise' -r
complete -c deixis -n "__fish_deixis_using_subcommand model; and __fish_seen_subcommand_from data" -l config -d 'Config file (default: $XDG_CONFIG_HOME/deixis/config.toml)' -r -F
complete -c deixis -n "__fish_deixis_using_subcommand model; and __fish_seen_subcommand_from data" -s h -l help -d 'Print help'
complete -c deixis -n "__fish_deixis_using_subcommand model; and __fish_seen_subcommand_from train" -l out -d 'Where the run\'s files go (default: train-<config name> in the current directory)' -r -F
complete -c deixis -n "__fish_deixis_using_subcommand model; and __fish_seen_subcommand_from train" -l stop-after -d 'Stop (with a checkpoint) after this step; --resume continues the same run' -r
complete -c deixis -n "__fish_deixis_using_subcommand model; and __fish_seen_subcommand_from train" -l init -d 'Start from the finished run in DIR (its tokenizer and parameters; fresh optimizer, step 0): a second stage on other data' -r -F
complete -c deixis -n "__fish_deixis_using_subcommand model; and __fish_seen_subcommand_from train" -l config -d 'Config file (default: $XDG_CONFIG_HOME/deixis/config.toml)' -r -F
complete -c deixis -n "__fish_deixis_using_subcommand model; and __fish_seen_subcommand_from train" -l resume -d 'Continue the run in --out from its last checkpoint'
complete -c deixis -n "__fish_deixis_using_subcommand model; and __fish_seen_subcommand_from train" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c deixis -n "__fish_deixis_using_subcommand model; and __fish_seen_subcommand_from train-predictors" -l model -d 'The model directory' -r -F
complete -c deixis -n "__fish_deixis_using_subcommand model; and __fish_seen_subcommand_from train-predictors" -l corpus -d 'The corpus: generated ReALM prompts (tokenized with the model\'s tokenizer), or random token ids (generated benchmark models, whose tokens mean nothing)' -r -f -a "prompts\t''
random\t''"
complete -c deixis -n "__fish_deixis_using_subcommand model; and __fish_seen_subcommand_from train-predictors" -l tokens -d 'Tokens run to collect activations (10% held out for the report)' -r
complete -c deixis -n "__fish_deixis_using_subcommand model; and __fish_seen_subcommand_from train-predictors" -l rank -d 'Rank of each predictor' -r
complete -c deixis -n "__fish_deixis_using_subcommand model; and __fish_seen_subcommand_from train-predictors" -l epochs -d 'Passes over the collected tokens' -r
complete -c deixis -n "__fish_deixis_using_subcommand model; and __fish_seen_subcommand_from train-predictors" -l sparsity -d 'Gated (SwiGLU) models, which are not sparse by themselves: the share of gate activations per layer that CATS thresholds make zero (written to DIR/thresholds.json, which the runtime and the engine then apply)' -r
complete -c deixis -n "__fish_deixis_using_subcommand model; and __fish_seen_subcommand_from train-predictors" -l config -d 'Config file (default: $XDG_CONFIG_HOME/deixis/config.toml)' -r -F
complete -c deixis -n "__fish_deixis_using_subcommand model; and __fish_seen_subcommand_from train-predictors" -l json -d 'Print the report as JSON'
complete -c deixis -n "__fish_deixis_using_subcommand model; and __fish_seen_subcommand_from train-predictors" -s h -l help -d 'Print help'
complete -c deixis -n "__fish_deixis_using_subcommand model; and __fish_seen_subcommand_from bench" -l tokens -d 'Tokens measured per run (after 4 that fill the window)' -r
complete -c deixis -n "__fish_deixis_using_subcommand model; and __fish_seen_subcommand_from bench" -l io -d 'How reads are submitted: one io_uring submission per batch, or a pool of --threads readers (also where io_uring is refused)' -r -f -a "ring\t''
threads\t''"
complete -c deixis -n "__fish_deixis_using_subcommand model; and __fish_seen_subcommand_from bench" -l threads -d 'Parallel readers of the thread pool; with --disk, the reads in flight' -r
complete -c deixis -n "__fish_deixis_using_subcommand model; and __fish_seen_subcommand_from bench" -l window -d 'Tokens whose neurons stay in memory' -r
complete -c deixis -n "__fish_deixis_using_subcommand model; and __fish_seen_subcommand_from bench" -l model -d 'Benchmark this model directory instead (for example SmolLM2 after `deixis model train-predictors`), on generated prompts' -r -F
complete -c deixis -n "__fish_deixis_using_subcommand model; and __fish_seen_subcommand_from bench" -l active -d 'Only these active percentages (of 3, 5, 10)' -r
complete -c deixis -n "__fish_deixis_using_subcommand model; and __fish_seen_subcommand_from bench" -l config -d 'Config file (default: $XDG_CONFIG_HOME/deixis/config.toml)' -r -F
complete -c deixis -n "__fish_deixis_using_subcommand model; and __fish_seen_subcommand_from bench" -l json -d 'Print the runs as JSON'
complete -c deixis -n "__fish_deixis_using_subcommand model; and __fish_seen_subcommand_from bench" -l quick -d 'A smoke run: a 13M-parameter model of the same kind, 4 tokens'
complete -c deixis -n "__fish_deixis_using_subcommand model; and __fish_seen_subcommand_from bench" -l disk -d 'Only measure the disk: cold random-read throughput by read size and reads in flight'
complete -c deixis -n "__fish_deixis_using_subcommand model; and __fish_seen_subcommand_from bench" -l lookahead -d 'Flash with the lookahead: the next layer\'s likely neurons are read while a layer computes'
complete -c deixis -n "__fish_deixis_using_subcommand model; and __fish_seen_subcommand_from bench" -s h -l help -d 'Print help'
complete -c deixis -n "__fish_deixis_using_subcommand model; and __fish_seen_subcommand_from generate" -l model -d 'Model directory (default: $XDG_CACHE_HOME/deixis/models/smollm2-135m-instruct)' -r -F
complete -c deixis -n "__fish_deixis_using_subcommand model; and __fish_seen_subcommand_from generate" -l max-tokens -d 'Most tokens to generate' -r
complete -c deixis -n "__fish_deixis_using_subcommand model; and __fish_seen_subcommand_from generate" -l config -d 'Config file (default: $XDG_CONFIG_HOME/deixis/config.toml)' -r -F
complete -c deixis -n "__fish_deixis_using_subcommand model; and __fish_seen_subcommand_from generate" -l chat -d 'Wrap the prompt in the chat template (<|im_start|>user ... <|im_start|>assistant)'
complete -c deixis -n "__fish_deixis_using_subcommand model; and __fish_seen_subcommand_from generate" -s h -l help -d 'Print help'
complete -c deixis -n "__fish_deixis_using_subcommand eval" -l resolver -d 'Which resolver answers (default: the config\'s model.resolver)' -r -f -a "baseline\t''
model\t''"
complete -c deixis -n "__fish_deixis_using_subcommand eval" -l model -d 'Model directory (default: the config\'s model.path, else the shipped model)' -r -F
complete -c deixis -n "__fish_deixis_using_subcommand eval" -l shots -d 'A chat model (SmolLM2-Instruct) reads this many solved generated examples first (few-shot); our own model ignores it' -r
complete -c deixis -n "__fish_deixis_using_subcommand eval" -l limit -d 'Only the first N cases of each file (for slow resolvers)' -r
complete -c deixis -n "__fish_deixis_using_subcommand eval" -l cases -d 'Also write each case\'s outcome to this file, a JSON line per case: file, id, correct, selected, targets, top (the first three ranked: id and score), ms' -r -F
complete -c deixis -n "__fish_deixis_using_subcommand eval" -l config -d 'Config file (default: $XDG_CONFIG_HOME/deixis/config.toml)' -r -F
complete -c deixis -n "__fish_deixis_using_subcommand eval" -l json -d 'Print {"files": [...]} as JSON instead of a table'
complete -c deixis -n "__fish_deixis_using_subcommand eval" -s h -l help -d 'Print help'
