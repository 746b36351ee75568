/* vb_net: listening and dialling on an nng socket, with TLS for
 * tls+tcp:// addresses (nng's mbedTLS engine).  The broker presents a
 * certificate; clients verify it against a CA file.  Other schemes (tcp://,
 * ipc://) ignore the TLS options. */
#ifndef VB_NET_H
#define VB_NET_H

#include <nng/nng.h>
#include <stddef.h>

typedef struct vb_tls_opts {
	const char *cert;     /* listen: PEM certificate (or chain) file */
	const char *key;      /* listen: PEM private key file */
	const char *key_pass; /* listen: the key's password, or NULL / "" */
	const char *ca;       /* dial: PEM file of the CA(s) to trust */
} vb_tls_opts;

/* Whether url is a TLS address. */
int vb_net_is_tls(const char *url);

/* Listen on url (tls may be NULL for non-TLS addresses); an ipc:// socket
 * is created with mode 0660.  *out may be NULL.  On failure returns a VB_E
 * code with the reason in err. */
int vb_net_listen(nng_socket s, const char *url, const vb_tls_opts *tls,
    nng_listener *out, char *err, size_t errlen);

/* Dial url synchronously (so "nothing listens there" is immediate), then
 * let nng reconnect on its own.  For tls+tcp:// the server's certificate
 * must be signed by a CA in tls->ca and name the host of url. */
int vb_net_dial(nng_socket s, const char *url, const vb_tls_opts *tls,
    char *err, size_t errlen);

#endif
