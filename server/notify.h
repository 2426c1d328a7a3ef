/*
 * notify.h - systemd readiness notification (the sd_notify protocol),
 * without libsystemd.
 *
 * If $NOTIFY_SOCKET names an AF_UNIX datagram socket (a path, or an
 * abstract-namespace name written with a leading '@'), notify_send sends
 * one datagram with the given state ("READY=1", "STOPPING=1").  Without
 * $NOTIFY_SOCKET it does nothing.  Owns nothing between calls; thread-safe.
 */
#ifndef NOTIFY_H
#define NOTIFY_H

/* Sends state to the service manager.  Returns 1 if sent, 0 if
 * $NOTIFY_SOCKET is unset or empty, -1 on failure (errno set). */
int notify_send(const char *state);

#endif
