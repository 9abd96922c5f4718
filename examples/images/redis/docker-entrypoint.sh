#!/bin/sh
# The official redis image's entrypoint interface, on Debian's Redis: options
# or a .conf file alone run redis-server with them; the server runs as the
# user redis, keeps its data in /data, and answers other containers without a
# password unless told otherwise (the official image turns protected mode off).
set -e

case "$1" in
-* | *.conf) set -- redis-server "$@" ;;
esac

if [ "$1" = redis-server ] && [ "$(id -u)" = 0 ]; then
    find . \! -user redis -exec chown redis '{}' +
    exec setpriv --reuid=redis --regid=redis --init-groups "$0" "$@"
fi

if [ "$1" = redis-server ]; then
    shift
    # A config file comes first; options after it override it, and the
    # caller's override the default here.
    case "$1" in
    *.conf)
        config=$1
        shift
        set -- redis-server "$config" --protected-mode no "$@"
        ;;
    *) set -- redis-server --protected-mode no "$@" ;;
    esac
fi

exec "$@"
