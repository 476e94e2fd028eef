# fish completion for lokt: the candidates come from `lokt __complete` (see lokt.bash).
function __lokt_candidates
    set -l tokens (commandline -opc)
    set -l cur (commandline -ct)
    set -l out (command $tokens[1] __complete -- $tokens[2..-1] $cur 2>/dev/null)
    switch "$out[1]"
        case ':files'
            __fish_complete_path $cur
        case ':commands'
            complete -C "$cur"
        case '*'
            printf '%s\n' $out
    end
end
complete -c lokt -f -a '(__lokt_candidates)'
