/*
 * console.h - relaying an upgraded HTTP connection to a guest's serial port.
 *
 * `corral vm console` upgrades its request (Upgrade: corral-console); from
 * then on bytes flow both ways unchanged between the client and QEMU's
 * serial socket until either side closes.  The web UI's console upgrades
 * to a WebSocket (RFC 6455, Upgrade: websocket) instead: the browser's
 * frames (text or binary) carry its keystrokes, the guest's output goes
 * out as binary frames, pings are answered, and a close frame, a frame
 * that breaks the protocol or one over CONSOLE_WS_MAX_FRAME bytes ends it
 * (with a close frame saying why).  The session owns the serial fd and
 * gives the VM's console slot back when it ends.  The web UI's VNC
 * display (noVNC) is relayed the same way, from the VM's VNC socket.
 */
#ifndef CORRAL_API_CONSOLE_H
#define CORRAL_API_CONSOLE_H

/* Opaque session for http_reply.upgrade_opaque; takes ownership of serial_fd. */
void *console_session_new(const char *vm_uuid, int serial_fd);
/* The same for any other socket of a VM (its VNC display: web UI), owned and closed by the session. */
void *console_session_new_fd(const char *vm_uuid, int fd);
/* The same for a container's console (service/ct.h): its pty fd and the
 * liblxc fd that holds the console slot, both owned and closed by the session. */
void *console_session_new_ct(const char *ct_uuid, int pty_fd, int hold_fd);
/* http_upgrade_cb: relay until EOF on either side; fd -1 just cleans up. */
void console_relay(int client_fd, void *session);

#define CONSOLE_WS_MAX_FRAME 65536
/* http_upgrade_cb: the same over WebSocket frames. */
void console_relay_ws(int client_fd, void *session);

#endif
