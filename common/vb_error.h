/* vb_error: the one set of error codes every voicebus module returns.
 * 0 is success; failures are negative.  nng, LMDB and errno codes are mapped
 * to these in exactly one place each (vb_err_from_*). */
#ifndef VB_ERROR_H
#define VB_ERROR_H

enum {
	VB_OK = 0,
	VB_ENOMEM = -1,     /* out of memory */
	VB_EINVAL = -2,     /* invalid argument or input */
	VB_EIO = -3,        /* I/O error */
	VB_ENOTFOUND = -4,  /* no such record */
	VB_EFULL = -5,      /* disk or map full: nothing was stored */
	VB_ETIMEDOUT = -6,  /* no answer in time */
	VB_ECLOSED = -7,    /* the socket or store was closed */
	VB_EPROTO = -8,     /* a peer sent something that is not our protocol */
	VB_ETOOBIG = -9,    /* over a size limit */
	VB_ECONNREFUSED = -10, /* nothing listens at the address */
	VB_EADDR = -11,     /* an address that cannot be used */
	VB_ECORRUPT = -12,  /* stored data that does not decode */
	VB_EBUSY = -13,     /* resource in use (data directory locked) */
	VB_EINTERNAL = -14, /* a bug: report it */
	VB_EACCES = -15,    /* the client's token or role does not allow it */
};

/* A static, human-readable string for code; never NULL. */
const char *vb_strerror(int code);

/* Map an nng error (NNG_E...) to a VB_E code. */
int vb_err_from_nng(int nng_rv);

/* Map an LMDB return code (MDB_... or errno) to a VB_E code. */
int vb_err_from_mdb(int mdb_rv);

/* Map an errno value to a VB_E code. */
int vb_err_from_errno(int err);

#endif
