#!/usr/bin/env bash
# Dump every MySQL/MariaDB database and prove the dump whole: restore it into a scratch server
# (own datadir and socket, no network) and compare each table's row count and CHECKSUM TABLE
# with the live server. Run as root on the old host. Usage: dump-verify.sh OUTDIR
# Prints: "dump <file> <bytes> <sha256>", then "table <schema.table> <live rows> <live sum> <restored rows> <restored sum>".
set -euo pipefail
out="$1"
install -d -m 0700 "$out"
client=$(command -v mariadb || command -v mysql)
dumper=$(command -v mariadb-dump || command -v mysqldump)
server=$(command -v mariadbd || command -v mysqld || echo /usr/sbin/mariadbd)
installdb=$(command -v mariadb-install-db || command -v mysql_install_db)
stamp=$(date -u +%Y%m%dT%H%M%SZ)
dump="$out/mysql-all-$stamp.sql.gz"
"$dumper" --all-databases --single-transaction --routines --events --triggers --hex-blob --flush-privileges |
  gzip -6 > "$dump.part"
mv "$dump.part" "$dump"
chmod 0600 "$dump"
echo "dump $dump $(stat -c %s "$dump") $(sha256sum "$dump" | cut -d' ' -f1)"

scratch=$(mktemp -d /var/tmp/ocean-ops-dumpcheck.XXXXXX)
chown mysql: "$scratch" 2>/dev/null || true
cleanup() { [ -n "${spid:-}" ] && kill "$spid" 2>/dev/null; wait 2>/dev/null || true; rm -rf "$scratch"; }
trap cleanup EXIT
"$installdb" --no-defaults --datadir="$scratch/data" --user=mysql --auth-root-authentication-method=socket >/dev/null 2>&1
"$server" --no-defaults --datadir="$scratch/data" --socket="$scratch/sock" --pid-file="$scratch/pid" \
  --skip-networking --user=mysql --innodb-buffer-pool-size=64M --log-error="$scratch/err.log" &
spid=$!
for _ in $(seq 1 60); do [ -S "$scratch/sock" ] && "$client" --socket="$scratch/sock" -e 'select 1' >/dev/null 2>&1 && break; sleep 0.5; done
zcat "$dump" | "$client" --socket="$scratch/sock"

tables=$("$client" -N -B -e "select concat(table_schema,'.',table_name) from information_schema.tables where table_type='BASE TABLE' and table_schema not in ('mysql','sys','information_schema','performance_schema') order by 1")
for t in $tables; do
  q="\`${t%%.*}\`.\`${t#*.}\`"
  lc=$("$client" -N -B -e "select count(*) from $q")
  ls=$("$client" -N -B -e "checksum table $q extended" | cut -f2)
  rc=$("$client" --socket="$scratch/sock" -N -B -e "select count(*) from $q")
  rs=$("$client" --socket="$scratch/sock" -N -B -e "checksum table $q extended" | cut -f2)
  echo "table $t $lc $ls $rc $rs"
done
