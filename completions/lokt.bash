# bash completion for lokt
_lokt() {
    local cur prev cmd
    cur=${COMP_WORDS[COMP_CWORD]}
    prev=${COMP_WORDS[COMP_CWORD-1]}
    cmd=${COMP_WORDS[1]}
    if [ "$COMP_CWORD" -eq 1 ]; then
        COMPREPLY=($(compgen -W "guard lock unlock status exists freeze unfreeze audit why doctor shim rules prime version help" -- "$cur"))
        return
    fi
    local i
    for ((i = 1; i < COMP_CWORD; i++)); do
        if [ "${COMP_WORDS[i]}" = "--" ]; then
            COMPREPLY=($(compgen -c -- "$cur"))
            return
        fi
    done
    case $cmd in
        guard) COMPREPLY=($(compgen -W "--ttl --wait --timeout --kill-after --on-exit --help" -- "$cur")) ;;
        lock) COMPREPLY=($(compgen -W "--ttl --wait --timeout --json --help" -- "$cur")) ;;
        unlock) COMPREPLY=($(compgen -W "--force --break-stale --all --owner --json --help" -- "$cur")) ;;
        status) COMPREPLY=($(compgen -W "--json --prune-expired --help" -- "$cur")) ;;
        freeze) COMPREPLY=($(compgen -W "--ttl --json --help" -- "$cur")) ;;
        unfreeze) COMPREPLY=($(compgen -W "--force --json --help" -- "$cur")) ;;
        audit) COMPREPLY=($(compgen -W "--since --name --event --owner --tail --json --format --help" -- "$cur")) ;;
        why|doctor) COMPREPLY=($(compgen -W "--json --help" -- "$cur")) ;;
        shim) COMPREPLY=($(compgen -W "--rules --seccomp --help" -- "$cur")) ;;
        rules) COMPREPLY=($(compgen -W "check match --rules --help" -- "$cur")) ;;
        prime)
            if [ "$prev" = "--format" ]; then
                COMPREPLY=($(compgen -W "claude-md agents-md cursorrules plain" -- "$cur"))
            else
                COMPREPLY=($(compgen -W "--format --help" -- "$cur"))
            fi
            return ;;
    esac
    if [ -z "$COMPREPLY" ] && [[ $cur != -* ]] && [ -d "${LOKT_ROOT:-.git/lokt}/locks" ]; then
        local names
        names=$(cd "${LOKT_ROOT:-.git/lokt}/locks" 2>/dev/null && ls -- *.json 2>/dev/null | sed 's/\.json$//')
        COMPREPLY=($(compgen -W "$names" -- "$cur"))
    fi
}
complete -F _lokt lokt
