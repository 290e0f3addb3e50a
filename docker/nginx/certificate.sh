#!/bin/sh
# Run by the nginx image's entrypoint before nginx starts. With no
# certificate at NGINX_SSL_CERTIFICATE (mount yours, or Let's Encrypt's:
# README, Deploying), make a self-signed one for the first server name,
# kept in the certs volume: browsers and Shopify will not trust it, but
# the stack runs over HTTPS from the first start.
set -eu
cert=${NGINX_SSL_CERTIFICATE:?}
key=${NGINX_SSL_CERTIFICATE_KEY:?}
if [ -s "$cert" ] && [ -s "$key" ]; then
    exit 0
fi
name=${NGINX_SERVER_NAME%% *}
echo "$0: no certificate at $cert: making a self-signed one for $name"
mkdir -p "$(dirname "$cert")" "$(dirname "$key")"
umask 077
openssl req -x509 -newkey rsa:2048 -nodes -days 365 -subj "/CN=$name" \
    -addext "subjectAltName=DNS:$name" -keyout "$key" -out "$cert" 2>/dev/null
chmod 0644 "$cert"
