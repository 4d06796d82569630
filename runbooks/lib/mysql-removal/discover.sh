#!/usr/bin/env bash
# Evidence about MySQL-like processes (see discover.ts). Read-only; run as root.
set -u
listen=$(ss -Hltnp 2>/dev/null || true)
ps -eo pid=,ppid=,user=,pcpu=,etimes=,comm= | while read -r pid ppid user pcpu etimes comm; do
  exe=$(readlink "/proc/$pid/exe" 2>/dev/null) || continue
  case "$comm $exe" in
    *mysql*|*mariadb*) ;;
    *) continue ;;
  esac
  sha=$(sha256sum "/proc/$pid/exe" 2>/dev/null | cut -d' ' -f1)
  path=${exe% (deleted)}
  pkg=$(dpkg -S "$path" 2>/dev/null | head -n1 | cut -d: -f1)
  pcomm=$(cat "/proc/$ppid/comm" 2>/dev/null || echo '?')
  pcmd=$(tr '\0' ' ' < "/proc/$ppid/cmdline" 2>/dev/null || echo '?')
  socks=$(printf '%s\n' "$listen" | grep "pid=$pid," | awk '{print $4}' | paste -sd, -)
  cmd=$(tr '\0' ' ' < "/proc/$pid/cmdline" 2>/dev/null)
  script=-; spkg=-
  case "${path##*/}" in bash|sh|dash|python3*|perl)
    arg=$(tr '\0' '\n' < "/proc/$pid/cmdline" 2>/dev/null | sed -n 2p)
    case "$arg" in /*) script=$arg; spkg=$(dpkg -S "$arg" 2>/dev/null | head -n1 | cut -d: -f1); spkg=${spkg:--} ;; esac ;;
  esac
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$pid" "$ppid" "$user" "$pcpu" "$etimes" "$comm" "$exe" "${sha:--}" "${pkg:--}" "$pcomm" "$pcmd" "${socks:--}" "$script" "$spkg" "$cmd"
done
