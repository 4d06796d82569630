#!/usr/bin/env bash
# Where a rogue binary is kept alive: files in the usual persistence places that mention any of
# the given terms (exe paths), followed transitively (a cron line runs a helper that copies the
# binary into /tmp: the helper's path becomes a term too), plus copies of the binary itself.
# Read-only; run as root. Usage: persistence.sh SHA256 TERM...
# Output, tab-separated: kind path package detail
set -u
sha="$1"; shift
places=(/etc/crontab /etc/cron.d /etc/cron.hourly /etc/cron.daily /etc/cron.weekly /etc/cron.monthly
        /var/spool/cron/crontabs /etc/systemd/system /lib/systemd/system /usr/lib/systemd/system
        /run/systemd/system /etc/rc.local /etc/init.d /etc/profile.d /etc/ld.so.preload
        /usr/local/bin /usr/local/sbin /root/.bashrc /root/.profile)
declare -A seen=()
terms=("$@")
for _round in 1 2 3; do
  new=()
  args=()
  for t in "${terms[@]}"; do args+=(-e "$t"); done
  while IFS= read -r f; do
    [ -n "${seen[$f]:-}" ] && continue
    seen[$f]=1
    new+=("$f")
    # A unit is started by name, and a timer of the same name starts it without saying so.
    case "$f" in *.service)
      b=$(basename "$f"); new+=("$b")
      for t in /etc/systemd/system/"${b%.service}".timer /lib/systemd/system/"${b%.service}".timer; do
        [ -e "$t" ] && [ -z "${seen[$t]:-}" ] && seen[$t]=1
      done ;;
    esac
  done < <(grep -rlsF "${args[@]}" "${places[@]}" 2>/dev/null)
  [ "${#new[@]}" -eq 0 ] && break
  terms=("${new[@]}")
done
for f in "${!seen[@]}"; do
  pkg=$(dpkg -S "$f" 2>/dev/null | head -n1 | cut -d: -f1)
  case "$f" in
    /etc/cron*|/var/spool/cron/*) kind=cron ;;
    *.timer) kind=systemd-timer ;;
    *.service) kind=systemd-service ;;
    /etc/rc.local) kind=rc-local ;;
    /etc/init.d/*) kind=init-script ;;
    *) kind="file" ;;
  esac
  printf '%s\t%s\t%s\t%s\n' "$kind" "$f" "${pkg:--}" "$(grep -hF -m1 -e "$(basename "$f")" -e /tmp/ "$f" 2>/dev/null | head -c 200 | tr '\t\n' '  ')"
done
# Copies of the binary kept for respawning (same hash), outside package-owned files.
if [ "$sha" != "-" ]; then
  find /tmp /var/tmp /dev/shm /var/lib /usr/local /opt /root /etc -xdev -type f -size -64M 2>/dev/null |
    while IFS= read -r f; do
      [ "$(sha256sum "$f" 2>/dev/null | cut -d' ' -f1)" = "$sha" ] || continue
      dpkg -S "$f" >/dev/null 2>&1 && continue
      printf 'copy\t%s\t-\tsame sha256 as the rogue binary\n' "$f"
    done
fi
