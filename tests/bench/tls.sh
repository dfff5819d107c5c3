# Sourced by scripts/bench --only tls: serve over HTTPS beside the same serve
# over plain HTTP, same machine, same load, same run. --no-auth --stateless
# and the built-in hello_world, so that the difference is TLS alone: wrk with
# keep-alive connections (the record layer: encryption of every request and
# answer), then with a new connection per request (a full TLS 1.3 handshake
# each, ECDSA P-256). Uses bin, work, workers, duration, threads,
# connections, pids, free_port and wait_for from scripts/bench.

tls_ca() { # a test CA and a certificate for 127.0.0.1 in $work/tls
  mkdir -p "$work/tls"
  local d=$work/tls
  printf 'cn = "bench CA"\nca\ncert_signing_key\nexpiration_days = 2\n' >"$d/ca.tmpl"
  printf 'cn = "127.0.0.1"\nip_address = "127.0.0.1"\ntls_www_server\nsigning_key\nencryption_key\nexpiration_days = 2\n' >"$d/server.tmpl"
  certtool --generate-privkey --key-type ecdsa --outfile "$d/ca.key" 2>/dev/null
  certtool --generate-self-signed --load-privkey "$d/ca.key" --template "$d/ca.tmpl" \
    --outfile "$d/ca.pem" 2>/dev/null
  certtool --generate-privkey --key-type ecdsa --outfile "$d/server.key" 2>/dev/null
  certtool --generate-certificate --load-privkey "$d/server.key" --load-ca-certificate "$d/ca.pem" \
    --load-ca-privkey "$d/ca.key" --template "$d/server.tmpl" --outfile "$d/server.pem" 2>/dev/null
  chmod 600 "$d/server.key"
}

# LABEL URL [WRK ARGUMENT]...: sets tls_rps, tls_p50, tls_p99 (ms)
tls_measure() {
  local label=$1 url=$2
  shift 2
  MCPAUTH_BENCH_TOKEN=unused wrk -t"$threads" -c"$connections" -d"${duration}s" --latency \
    -s tests/bench/tools_call.lua "$@" "$url" >"$work/wrk-$label.txt" 2>"$work/wrk-$label.err"
  if [ -s "$work/wrk-$label.err" ]; then
    echo "scripts/bench: unexpected answers from serve ($label):"; sort "$work/wrk-$label.err" | uniq -c | head
    exit 1
  fi
  tls_rps=$(awk '/Requests\/sec/ {print $2}' "$work/wrk-$label.txt")
  tls_p50=$(awk '$1 == "50%" {print $2}' "$work/wrk-$label.txt")
  tls_p99=$(awk '$1 == "99%" {print $2}' "$work/wrk-$label.txt")
}

tls_serve() { # SCHEME PORT [SERVE ARGUMENT]...: starts serve, waits until it listens
  local scheme=$1 p=$2
  shift 2
  "$bin" serve --no-auth --stateless --resource "$scheme://127.0.0.1:$p/mcp" \
    --listen "127.0.0.1:$p" --workers "$workers" --log-format json "$@" \
    >"$work/serve-$scheme.log" 2>&1 &
  pids+=($!)
  wait_for "$work/serve-$scheme.log" listening
}

command -v certtool >/dev/null || { echo "scripts/bench: --only tls needs certtool (gnutls-bin)" >&2; exit 1; }
tls_ca
plain_port=$(free_port)
https_port=$(free_port)
tls_serve http "$plain_port"
tls_serve https "$https_port" --tls-cert "$work/tls/server.pem" --tls-key "$work/tls/server.key"
curl -sf --cacert "$work/tls/ca.pem" "https://127.0.0.1:$https_port/healthz" >/dev/null || {
  echo "scripts/bench: serve does not answer over https" >&2; cat "$work/serve-https.log" >&2; exit 1
}

declare -A tls_result
for round in plain https https plain; do
  if [ "$round" = plain ]; then url="http://127.0.0.1:$plain_port/mcp"; else url="https://127.0.0.1:$https_port/mcp"; fi
  tls_measure "$round-keepalive" "$url"
  tls_result[$round-keepalive]+="$tls_rps $tls_p50 $tls_p99"$'\n'
  tls_measure "$round-close" "$url" -H "Connection: close"
  tls_result[$round-close]+="$tls_rps $tls_p50 $tls_p99"$'\n'
done
tls_mean() { printf %s "${tls_result[$1]}" | awk '{a += $1; n++; b = b " " $2; c = c " " $3} END {printf "%.0f req/s (medians%s, p99s%s)", a / n, b, c}'; }
tls_ratio() { printf '%s\n%s' "${tls_result[$1]}" "${tls_result[$2]}" | awk -v k="$(printf %s "${tls_result[$1]}" | wc -l)" \
  'NF {if (NR <= k) a += $1; else b += $1} END {printf "%.2f", a / b}'; }
echo "tools/call hello_world, --no-auth --stateless, $workers workers, $connections connections,"
echo "  2 runs of ${duration}s each (plain, https, https, plain; means):"
printf '  %-36s %s\n' "plain HTTP, keep-alive" "$(tls_mean plain-keepalive)" \
  "HTTPS (TLS 1.3), keep-alive" "$(tls_mean https-keepalive)" \
  "plain HTTP, a connection per request" "$(tls_mean plain-close)" \
  "HTTPS, a handshake per request" "$(tls_mean https-close)"
printf '  %-36s %s\n' "ratio HTTPS / plain, keep-alive" "$(tls_ratio https-keepalive plain-keepalive)" \
  "ratio HTTPS / plain, per request" "$(tls_ratio https-close plain-close)"
