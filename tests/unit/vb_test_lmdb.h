/* Raw LMDB access to a closed store, for the unit tests that check or
 * plant what is on disk (check_store, check_store_gate).  Header-only, as
 * vb_test.h. */
#ifndef VB_TEST_LMDB_H
#define VB_TEST_LMDB_H

#include <check.h>
#include <lmdb.h>
#include <string.h>

/* A transaction (MDB_RDONLY or 0) on the closed store in dir, and the
 * database name of it. */
static inline MDB_txn *
raw_txn(const char *dir, unsigned flags, const char *name, MDB_dbi *dbi)
{
	MDB_env *env;
	MDB_txn *txn;
	ck_assert_int_eq(mdb_env_create(&env), 0);
	ck_assert_int_eq(mdb_env_set_maxdbs(env, 8), 0);
	ck_assert_int_eq(mdb_env_open(env, dir, flags, 0640), 0);
	ck_assert_int_eq(mdb_txn_begin(env, NULL, flags, &txn), 0);
	ck_assert_int_eq(mdb_dbi_open(txn, name, 0, dbi), 0);
	return txn;
}

/* Put key -> data into database name of the closed store in dir. */
static inline void
raw_put(const char *dir, const char *name, const void *key, size_t klen,
    const void *data, size_t dlen)
{
	MDB_dbi dbi;
	MDB_txn *txn = raw_txn(dir, 0, name, &dbi);
	MDB_env *env = mdb_txn_env(txn);
	MDB_val k = { klen, (void *)key }, v = { dlen, (void *)data };
	ck_assert_int_eq(mdb_put(txn, dbi, &k, &v, 0), 0);
	ck_assert_int_eq(mdb_txn_commit(txn), 0);
	mdb_env_close(env);
}

/* Delete key from database name of the closed store in dir: mdb_del's
 * code (MDB_NOTFOUND when it was not there). */
static inline int
raw_del(const char *dir, const char *name, const char *key)
{
	MDB_dbi dbi;
	MDB_txn *txn = raw_txn(dir, 0, name, &dbi);
	MDB_env *env = mdb_txn_env(txn);
	MDB_val k = { strlen(key), (void *)key };
	int rv = mdb_del(txn, dbi, &k, NULL);
	ck_assert_int_eq(mdb_txn_commit(txn), 0);
	mdb_env_close(env);
	return rv;
}

/* The value of key in database name of the closed store in dir: its
 * first cap bytes into buf, its size into *len. */
static inline void
raw_get(const char *dir, const char *name, const char *key, void *buf,
    size_t cap, size_t *len)
{
	MDB_dbi dbi;
	MDB_txn *txn = raw_txn(dir, MDB_RDONLY, name, &dbi);
	MDB_env *env = mdb_txn_env(txn);
	MDB_val k = { strlen(key), (void *)key }, v;
	ck_assert_int_eq(mdb_get(txn, dbi, &k, &v), 0);
	memcpy(buf, v.mv_data, v.mv_size < cap ? v.mv_size : cap);
	*len = v.mv_size;
	mdb_txn_abort(txn);
	mdb_env_close(env);
}

#endif
