/*
 * console.h - relaying an upgraded HTTP connection to a guest's serial port.
 *
 * `corral vm console` upgrades its request (Upgrade: corral-console); from
 * then on bytes flow both ways unchanged between the client and QEMU's
 * serial socket until either side closes.  The session owns the serial fd
 * and gives the VM's console slot back when it ends.
 */
#ifndef CORRAL_API_CONSOLE_H
#define CORRAL_API_CONSOLE_H

/* Opaque session for http_reply.upgrade_opaque; takes ownership of serial_fd. */
void *console_session_new(const char *vm_uuid, int serial_fd);
/* The same for a container's console (service/ct.h): its pty fd and the
 * liblxc fd that holds the console slot, both owned and closed by the session. */
void *console_session_new_ct(const char *ct_uuid, int pty_fd, int hold_fd);
/* http_upgrade_cb: relay until EOF on either side; fd -1 just cleans up. */
void console_relay(int client_fd, void *session);

#endif
