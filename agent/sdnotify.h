/* sdnotify: systemd's readiness protocol (sd_notify(3)) without libsystemd:
 * one datagram per state change to $NOTIFY_SOCKET. */
#ifndef S2I_SDNOTIFY_H
#define S2I_SDNOTIFY_H

#include "err.h"

/* Sends state ("READY=1", "RELOADING=1\nMONOTONIC_USEC=...", "STOPPING=1").
 * Returns 0 when sent or when $NOTIFY_SOCKET is unset (not under systemd),
 * -1 with e set when the socket cannot be reached. */
int sdnotify(const char *state, struct err *e);

/* RELOADING=1 with the MONOTONIC_USEC that Type=notify-reload expects. */
int sdnotify_reloading(struct err *e);

/* The watchdog interval systemd asks for (WatchdogSec= sets $WATCHDOG_USEC, and
 * $WATCHDOG_PID when present names the process meant): 1 with *ret_usec set
 * when this process must send WATCHDOG=1 at least that often, else 0. */
int sdnotify_watchdog_usec(unsigned long long *ret_usec);

#endif
