# shellcheck shell=bash
# Lab crisis: what the rogue /tmp/mysql (a copy of bash) reads on stdin. It burns about a
# quarter of one core (25 ms busy, 75 ms idle, at nice 19): visible in top, bounded on CI.
exec 3<> <(:)
while :; do
  start=${EPOCHREALTIME/./}
  while (( ${EPOCHREALTIME/./} - start < 25000 )); do :; done
  read -r -t 0.075 -u 3 _ || :
done
