#!/usr/bin/env bash
# Block inbound TCP to a port with whatever firewall the host uses, persistently, idempotently:
# ufw when active, else nftables, else iptables (nftables is installed when there is none). Run as root. Usage: block-port.sh PORT
# Prints "blocked <tool> <how it persists>" or fails saying what is missing.
set -euo pipefail
port="$1"
if command -v ufw >/dev/null && ufw status 2>/dev/null | grep -q '^Status: active'; then
  ufw deny "$port/tcp" >/dev/null
  echo "blocked ufw ufw-rules"
  exit 0
fi
if ! command -v nft >/dev/null && ! command -v iptables >/dev/null && command -v apt-get >/dev/null; then
  # No firewall tool at all: Debian 12's default is nftables.
  # A host whose package lists were never fetched (or were cleaned) knows no package: fetch them once.
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends nftables >/dev/null 2>&1 \
    || { apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends nftables >/dev/null; }
fi
if command -v nft >/dev/null && nft list tables >/dev/null 2>&1; then
  if ! nft list chain inet ocean_ops input >/dev/null 2>&1; then
    nft add table inet ocean_ops
    nft add chain inet ocean_ops input '{ type filter hook input priority -10 ; policy accept ; }'
  fi
  nft list chain inet ocean_ops input | grep -q "tcp dport $port drop" || nft add rule inet ocean_ops input tcp dport "$port" drop
  install -d /etc/nftables.d
  nft list table inet ocean_ops > /etc/nftables.d/ocean-ops.nft
  if [ -f /etc/nftables.conf ] && ! grep -q 'nftables.d/ocean-ops.nft' /etc/nftables.conf; then
    echo 'include "/etc/nftables.d/ocean-ops.nft"' >> /etc/nftables.conf
  fi
  systemctl enable nftables >/dev/null 2>&1 || true
  echo "blocked nftables /etc/nftables.d/ocean-ops.nft"
  exit 0
fi
if command -v iptables >/dev/null && iptables -S INPUT >/dev/null 2>&1; then
  iptables -C INPUT -p tcp --dport "$port" -j DROP 2>/dev/null || iptables -I INPUT -p tcp --dport "$port" -j DROP
  ip6tables -C INPUT -p tcp --dport "$port" -j DROP 2>/dev/null || ip6tables -I INPUT -p tcp --dport "$port" -j DROP 2>/dev/null || true
  install -d /etc/iptables
  iptables-save > /etc/iptables/rules.v4
  echo "blocked iptables /etc/iptables/rules.v4"
  exit 0
fi
echo "no usable firewall (ufw inactive, nft and iptables missing or not permitted): install nftables" >&2
exit 3
