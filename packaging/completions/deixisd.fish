complete -c deixisd -l config -d 'Config file (default: $XDG_CONFIG_HOME/deixis/config.toml)' -r -F
complete -c deixisd -l screen -d 'Serve this screen file instead of the live screen (demos, tests)' -r -F
complete -c deixisd -l check-config -d 'Check the configuration, print it with every default filled in, and exit'
complete -c deixisd -s h -l help -d 'Print help'
complete -c deixisd -s V -l version -d 'Print version'
