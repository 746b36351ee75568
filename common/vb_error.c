#include "vb_error.h"

#include <errno.h>
#include <lmdb.h>
#include <nng/nng.h>

const char *
vb_strerror(int code)
{
	switch (code) {
	case VB_OK: return "success";
	case VB_ENOMEM: return "out of memory";
	case VB_EINVAL: return "invalid argument";
	case VB_EIO: return "input/output error";
	case VB_ENOTFOUND: return "not found";
	case VB_EFULL: return "storage full: nothing was stored";
	case VB_ETIMEDOUT: return "timed out";
	case VB_ECLOSED: return "closed";
	case VB_EPROTO: return "protocol error";
	case VB_ETOOBIG: return "too big";
	case VB_ECONNREFUSED: return "connection refused";
	case VB_EADDR: return "address not usable";
	case VB_ECORRUPT: return "stored data is corrupt";
	case VB_EBUSY: return "in use by another process";
	case VB_EINTERNAL: return "internal error";
	case VB_EACCES: return "access denied";
	default: return "unknown error";
	}
}

int
vb_err_from_nng(int rv)
{
	switch (rv) {
	case 0: return VB_OK;
	case NNG_ENOMEM: return VB_ENOMEM;
	case NNG_EINVAL: return VB_EINVAL;
	case NNG_ETIMEDOUT: return VB_ETIMEDOUT;
	case NNG_ECLOSED: return VB_ECLOSED;
	case NNG_ECANCELED: return VB_ECLOSED;
	case NNG_EPROTO: return VB_EPROTO;
	case NNG_EMSGSIZE: return VB_ETOOBIG;
	case NNG_ECONNREFUSED: return VB_ECONNREFUSED;
	case NNG_EADDRINUSE: return VB_EADDR;
	case NNG_EADDRINVAL: return VB_EADDR;
	case NNG_ENOTSUP: return VB_EADDR;
	case NNG_EPERM: return VB_EADDR;
	case NNG_ENOSPC: return VB_EFULL;
	default: return VB_EIO;
	}
}

int
vb_err_from_mdb(int rv)
{
	switch (rv) {
	case MDB_SUCCESS: return VB_OK;
	case MDB_NOTFOUND: return VB_ENOTFOUND;
	case MDB_MAP_FULL: return VB_EFULL;
	case MDB_CORRUPTED: return VB_ECORRUPT;
	case MDB_PAGE_NOTFOUND: return VB_ECORRUPT;
	case MDB_INVALID: return VB_ECORRUPT;
	case MDB_VERSION_MISMATCH: return VB_ECORRUPT;
	case MDB_BAD_VALSIZE: return VB_ETOOBIG;
	case MDB_READERS_FULL: return VB_EBUSY;
	default:
		if (rv > 0)
			return vb_err_from_errno(rv);
		return VB_EIO;
	}
}

int
vb_err_from_errno(int err)
{
	switch (err) {
	case 0: return VB_OK;
	case ENOMEM: return VB_ENOMEM;
	case EINVAL: return VB_EINVAL;
	case ENOENT: return VB_ENOTFOUND;
	case ENOSPC: return VB_EFULL;
	case EDQUOT: return VB_EFULL;
	case EFBIG: return VB_EFULL; /* RLIMIT_FSIZE: the file may not grow */
	case EAGAIN: return VB_EBUSY;
	case ETIMEDOUT: return VB_ETIMEDOUT;
	case ECONNREFUSED: return VB_ECONNREFUSED;
	default: return VB_EIO;
	}
}
