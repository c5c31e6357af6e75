#!/bin/sh
# Behaves like the official redis image's entrypoint.
set -e
# first arg is `-f` or `--some-option`, or a `something.conf`
if [ "${1#-}" != "$1" ] || [ "${1%.conf}" != "$1" ]; then
  set -- redis-server "$@"
fi
# drop root for the server itself (only when the command is redis-server;
# `sh -c '...'` commands run as the container's user, as upstream)
if [ "$1" = 'redis-server' ] && [ "$(id -u)" = '0' ]; then
  find . \! -user redis -exec chown redis '{}' +
  exec gosu redis "$0" "$@"
fi
um="$(umask)"
if [ "$um" = '0022' ]; then umask 0077; fi
exec "$@"
