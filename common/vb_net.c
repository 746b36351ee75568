#include "vb_net.h"

#include <errno.h>
#include <nng/supplemental/tls/tls.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vb_buf.h"
#include "vb_error.h"

int
vb_net_is_tls(const char *url)
{
	return strncmp(url, "tls+", 4) == 0;
}

static int
slurp(const char *path, vb_buf *out, char *err, size_t errlen)
{
	char chunk[4096];
	size_t n;
	FILE *f = fopen(path, "r");
	if (f == NULL) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return VB_EINVAL;
	}
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		if (vb_buf_append(out, chunk, n) != 0) {
			fclose(f);
			return VB_ENOMEM;
		}
	fclose(f);
	return VB_OK;
}

/* The host of "tls+tcp://host:port" into buf. */
static void
url_host(const char *url, char *buf, size_t len)
{
	const char *h = strstr(url, "://"), *end;
	h = h ? h + 3 : url;
	if (*h == '[') { /* [v6]:port */
		end = strchr(h, ']');
		h++;
	} else {
		end = strrchr(h, ':');
	}
	if (end == NULL || end < h)
		end = h + strlen(h);
	snprintf(buf, len, "%.*s", (int)(end - h), h);
}

int
vb_net_listen(nng_socket s, const char *url, const vb_tls_opts *tls,
    nng_listener *out, char *err, size_t errlen)
{
	nng_listener l;
	nng_tls_config *cfg = NULL;
	vb_buf cert = { 0 }, key = { 0 };
	int rv;

	if (strncmp(url, "ipc://", 6) == 0) {
		/* Owner and group only: whoever can reach the socket can
		 * publish and query. */
		if ((rv = nng_listener_create(&l, s, url)) != 0 ||
		    (rv = nng_listener_set_int(l, NNG_OPT_IPC_PERMISSIONS, 0660)) != 0 ||
		    (rv = nng_listener_start(l, 0)) != 0) {
			snprintf(err, errlen, "cannot listen on %s: %s", url, nng_strerror(rv));
			return vb_err_from_nng(rv);
		}
		if (out)
			*out = l;
		return VB_OK;
	}
	if (!vb_net_is_tls(url)) {
		if ((rv = nng_listen(s, url, out, 0)) != 0) {
			snprintf(err, errlen, "cannot listen on %s: %s", url, nng_strerror(rv));
			return vb_err_from_nng(rv);
		}
		return VB_OK;
	}
	if (tls == NULL || tls->cert == NULL || !tls->cert[0] || tls->key == NULL ||
	    !tls->key[0]) {
		snprintf(err, errlen, "%s: a tls+tcp:// address needs tls_cert and tls_key", url);
		return VB_EINVAL;
	}
	if ((rv = slurp(tls->cert, &cert, err, errlen)) != 0 ||
	    (rv = slurp(tls->key, &key, err, errlen)) != 0)
		goto out;
	if ((rv = nng_tls_config_alloc(&cfg, NNG_TLS_MODE_SERVER)) != 0 ||
	    (rv = nng_tls_config_own_cert(cfg, (const char *)cert.data, (const char *)key.data,
	        tls->key_pass && tls->key_pass[0] ? tls->key_pass : NULL)) != 0) {
		snprintf(err, errlen, "%s, %s: not a certificate and key nng can use: %s",
		    tls->cert, tls->key, nng_strerror(rv));
		rv = VB_EINVAL;
		goto out;
	}
	if ((rv = nng_listener_create(&l, s, url)) != 0 ||
	    (rv = nng_listener_set_ptr(l, NNG_OPT_TLS_CONFIG, cfg)) != 0 ||
	    (rv = nng_listener_start(l, 0)) != 0) {
		snprintf(err, errlen, "cannot listen on %s: %s", url, nng_strerror(rv));
		rv = vb_err_from_nng(rv);
		goto out;
	}
	if (out)
		*out = l;
out:
	if (cfg)
		nng_tls_config_free(cfg); /* the listener holds its own reference */
	vb_buf_free(&cert);
	vb_buf_free(&key);
	return rv;
}

int
vb_net_dial(nng_socket s, const char *url, const vb_tls_opts *tls, char *err,
    size_t errlen)
{
	nng_dialer d;
	nng_tls_config *cfg = NULL;
	char host[256];
	int rv;

	if (!vb_net_is_tls(url)) {
		if ((rv = nng_dial(s, url, NULL, 0)) != 0) {
			snprintf(err, errlen, "%s", nng_strerror(rv));
			return vb_err_from_nng(rv);
		}
		return VB_OK;
	}
	if (tls == NULL || tls->ca == NULL || !tls->ca[0]) {
		snprintf(err, errlen, "a tls+tcp:// address needs the CA that signed the broker's "
		    "certificate (--tls-ca FILE or VOICEBUS_TLS_CA)");
		return VB_EINVAL;
	}
	url_host(url, host, sizeof(host));
	if ((rv = nng_tls_config_alloc(&cfg, NNG_TLS_MODE_CLIENT)) != 0 ||
	    (rv = nng_tls_config_auth_mode(cfg, NNG_TLS_AUTH_MODE_REQUIRED)) != 0 ||
	    (rv = nng_tls_config_server_name(cfg, host)) != 0 ||
	    (rv = nng_tls_config_ca_file(cfg, tls->ca)) != 0) {
		snprintf(err, errlen, "%s: cannot use it as a CA file: %s", tls->ca, nng_strerror(rv));
		rv = VB_EINVAL;
		goto out;
	}
	if ((rv = nng_dialer_create(&d, s, url)) != 0 ||
	    (rv = nng_dialer_set_ptr(d, NNG_OPT_TLS_CONFIG, cfg)) != 0 ||
	    (rv = nng_dialer_start(d, 0)) != 0) {
		/* mbedTLS matches the URL's host against the certificate's
		 * DNS names only: an IP address never matches. */
		int ip = strspn(host, "0123456789.") == strlen(host) || strchr(host, ':') != NULL;
		snprintf(err, errlen, "%s%s", nng_strerror(rv), rv == NNG_ECRYPTO && ip ?
		    " (the certificate is checked against the host name in the address: use "
		    "a name the certificate carries, not an IP address)" : rv == NNG_ECRYPTO ?
		    " (is the broker's certificate signed by that CA, for that host name?)" : "");
		rv = vb_err_from_nng(rv);
		goto out;
	}
out:
	if (cfg)
		nng_tls_config_free(cfg);
	return rv;
}
