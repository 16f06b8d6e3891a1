/* The client side of the RFC 6455 opening handshake: the Sec-WebSocket-Key, the Accept value it
 * expects (SHA-1 + base64 on OpenSSL) and the parse and check of the server's answer head.
 * Pure C (no lua.h); fuzz/fuzz_ws.c feeds the parser. */
#ifndef COZE_WSHS_H
#define COZE_WSHS_H

#include <stddef.h>

#define COZE_WSHS_KEY_LEN 24     /* base64 of 16 bytes */
#define COZE_WSHS_ACCEPT_LEN 28  /* base64 of a SHA-1 digest */
#define COZE_WSHS_MAX_HEAD 16384 /* longest answer head we wait for */
/* The most of a non-101 answer's body read (it holds the Coze error): both connections, libcurl's
 * (wsconn.c) and the cosocket one (coze.transport.ngx_ws, as core.ws_max_error_body) */
#define COZE_WSHS_MAX_ERROR_BODY 65536

/* key receives base64(nonce) and a NUL. */
void coze_wshs_key(const unsigned char nonce[16], char key[COZE_WSHS_KEY_LEN + 1]);
/* accept receives base64(SHA-1(key GUID)) and a NUL; 0, or -1 when OpenSSL fails. */
int coze_wshs_accept(const char *key, size_t key_len, char accept[COZE_WSHS_ACCEPT_LEN + 1]);

/* Length of the head (status line, headers and the blank line) at the start of buf; 0 when the
 * blank line has not arrived yet; -1 when it is longer than COZE_WSHS_MAX_HEAD. */
long coze_wshs_head_len(const char *buf, size_t len);
/* The status code of an "HTTP/1.x NNN ..." line, or -1. */
int coze_wshs_status(const char *head, size_t head_len);
/* The value of the first header `name` (case-insensitive), trimmed; NULL when absent. */
const char *coze_wshs_header(const char *head, size_t head_len, const char *name, size_t *value_len);
/* Checks a 101 answer for `key`: Upgrade is websocket, Connection lists upgrade, the Accept value
 * matches. 0, or -1 with *why set to a static reason. */
int coze_wshs_check(const char *head, size_t head_len, const char *key, const char **why);
/* A chunked body (RFC 9112 7.1) at buf[0..len), decoded in place: 1 with *out_len when the last chunk has
 * arrived (trailers are not read), 0 when more is needed (buf untouched), -1 when malformed. */
int coze_wshs_dechunk(char *buf, size_t len, size_t *out_len);

#endif
