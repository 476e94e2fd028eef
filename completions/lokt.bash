# bash completion for lokt. The candidates come from `lokt __complete`, so flags, their values
# and the lock names (from the root lokt itself would use here, in any subdirectory or
# worktree) always match the installed lokt.
_lokt() {
    local cur=${COMP_WORDS[COMP_CWORD]} out
    out=$("${COMP_WORDS[0]}" __complete -- "${COMP_WORDS[@]:1:COMP_CWORD}" 2>/dev/null) || return
    case $out in
        :files) COMPREPLY=($(compgen -f -- "$cur")) ;;
        :commands) COMPREPLY=($(compgen -c -- "$cur")) ;;
        *) COMPREPLY=($(compgen -W "$out" -- "$cur")) ;;
    esac
}
complete -o default -F _lokt lokt
