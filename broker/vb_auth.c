#include "vb_auth.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "vb_error.h"
#include "vb_token.h"

const char *const vb_role_names[VB_NROLES] = { "publisher", "marketing",
	"engineer", "admin" };

const char *const vb_op_names[VB_NOPS] = { "ingest", "stats", "replay", "gate",
	"record", "customer", "suppressions", "rebuild", "backup", "config" };

const char *const vb_op_verbs[VB_NOPS] = { "publish", "read stats",
	"replay events", "ask the gate", "record a campaign", "read customer state",
	"read the suppression list", "rebuild state", "make a backup",
	"read the configuration" };

const char *const vb_auth_sources[] = { "service", "field", "sales", "finance",
	"marketing", "customer", NULL };

/* What each role may do, by op.  Stats is open to every client: publishers
 * size their batches by the broker's limits, and it names the caller. */
static const unsigned char allowed[VB_NROLES][VB_NOPS] = {
	/*     ingest stats replay gate record cust supp rebuild backup config */
	[VB_ROLE_PUBLISHER] = { 1, 1, 0, 0, 0, 0, 0, 0, 0, 0 },
	[VB_ROLE_MARKETING] = { 0, 1, 1, 1, 1, 1, 1, 0, 0, 0 },
	[VB_ROLE_ENGINEER] = { 0, 1, 1, 1, 0, 1, 1, 0, 0, 0 },
	[VB_ROLE_ADMIN] = { 1, 1, 1, 1, 1, 1, 1, 1, 1, 1 },
};

static int
hexval(char c)
{
	if (c >= '0' && c <= '9') return c - '0';
	if (c >= 'a' && c <= 'f') return c - 'a' + 10;
	if (c >= 'A' && c <= 'F') return c - 'A' + 10;
	return -1;
}

static vb_auth_client *
client_get(vb_auth *a, const char *name, int line, char *err, size_t errlen)
{
	for (size_t i = 0; i < a->n; i++)
		if (strcmp(a->client[i].name, name) == 0)
			return &a->client[i];
	if (name[0] == '\0' || strlen(name) >= VB_CLIENT_NAME_MAX) {
		snprintf(err, errlen, "[client.%.80s]: a client name is 1 to %d characters",
		    name, VB_CLIENT_NAME_MAX - 1);
		return NULL;
	}
	for (const char *s = name; *s; s++)
		if (!(*s == '-' || *s == '_' || *s == '.' || (*s >= '0' && *s <= '9') ||
		    (*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z'))) {
			snprintf(err, errlen, "[client.%s]: a client name is letters, digits, "
			    "'-', '_' and '.'", name);
			return NULL;
		}
	if (a->n == VB_CLIENTS_MAX) {
		snprintf(err, errlen, "[client.%s]: at most %d clients", name, VB_CLIENTS_MAX);
		return NULL;
	}
	vb_auth_client *c = &a->client[a->n++];
	memset(c, 0, sizeof(*c));
	snprintf(c->name, sizeof(c->name), "%s", name);
	c->line = line;
	return c;
}

static int
set_sources(vb_auth_client *c, const char *value, char *err, size_t errlen)
{
	const char *p = value;
	c->sources = 0;
	while (*p) {
		size_t n;
		int found = 0;
		while (*p == ' ' || *p == ',')
			p++;
		n = strcspn(p, " ,");
		if (n == 0)
			break;
		if (n == 1 && *p == '*') {
			for (int i = 0; vb_auth_sources[i]; i++)
				c->sources |= 1u << i;
			found = 1;
		}
		for (int i = 0; !found && vb_auth_sources[i]; i++)
			if (strlen(vb_auth_sources[i]) == n && memcmp(vb_auth_sources[i], p, n) == 0) {
				c->sources |= 1u << i;
				found = 1;
			}
		if (!found) {
			snprintf(err, errlen, "sources: unknown source \"%.*s\" (service, field, "
			    "sales, finance, marketing, customer or *)", (int)(n > 64 ? 64 : n), p);
			return VB_EINVAL;
		}
		p += n;
	}
	if (c->sources == 0) {
		snprintf(err, errlen, "sources: empty (name at least one source)");
		return VB_EINVAL;
	}
	return VB_OK;
}

int
vb_auth_set(vb_auth *a, const char *client, const char *name, const char *value,
    int line, char *err, size_t errlen)
{
	vb_auth_client *c = client_get(a, client, line, err, errlen);
	if (c == NULL)
		return VB_EINVAL;
	if (strcmp(name, "token_sha256") == 0) {
		if (strlen(value) != 64) {
			snprintf(err, errlen, "token_sha256: 64 hex digits expected (the "
			    "SHA-256 of the token, as `voicebus token` prints it)");
			return VB_EINVAL;
		}
		for (int i = 0; i < 32; i++) {
			int hi = hexval(value[2 * i]), lo = hexval(value[2 * i + 1]);
			if (hi < 0 || lo < 0) {
				snprintf(err, errlen, "token_sha256: not a hex digit at %d", 2 * i + (hi >= 0) + 1);
				return VB_EINVAL;
			}
			c->hash[i] = (uint8_t)(hi << 4 | lo);
		}
		c->has_hash = 1;
		return VB_OK;
	}
	if (strcmp(name, "role") == 0) {
		for (int r = 0; r < VB_NROLES; r++)
			if (strcmp(value, vb_role_names[r]) == 0) {
				c->role = (vb_role)r;
				c->has_role = 1;
				return VB_OK;
			}
		snprintf(err, errlen, "role: unknown role \"%.64s\" (publisher, marketing, "
		    "engineer or admin)", value);
		return VB_EINVAL;
	}
	if (strcmp(name, "sources") == 0)
		return set_sources(c, value, err, errlen);
	snprintf(err, errlen, "%.64s: unknown client option (token_sha256, role, sources)", name);
	return VB_EINVAL;
}

int
vb_auth_check(const vb_auth *a, int *line, char *err, size_t errlen)
{
	for (size_t i = 0; i < a->n; i++) {
		const vb_auth_client *c = &a->client[i];
		const char *why = NULL;
		*line = c->line;
		if (!c->has_hash)
			why = "token_sha256: missing";
		else if (!c->has_role)
			why = "role: missing";
		else if (c->role == VB_ROLE_PUBLISHER && c->sources == 0)
			why = "sources: missing (a publisher publishes only the sources it is granted)";
		else if (c->role != VB_ROLE_PUBLISHER && c->sources != 0)
			why = "sources: only for role = publisher";
		for (size_t j = 0; why == NULL && j < i; j++)
			if (memcmp(a->client[j].hash, c->hash, 32) == 0)
				why = "token_sha256: the same token as another client";
		if (why) {
			snprintf(err, errlen, "[client.%s]: %s", c->name, why);
			return VB_EINVAL;
		}
	}
	*line = 0;
	return VB_OK;
}

int
vb_auth_enabled(const vb_auth *a)
{
	return a->n > 0;
}

const vb_auth_client *
vb_auth_find(const vb_auth *a, const char *token, size_t len)
{
	const vb_auth_client *found = NULL;
	uint8_t h[32];

	if (len == 0)
		return NULL;
	vb_token_hash(token, len, h);
	/* Every client is compared in full: no early exit on a mismatch or a
	 * match.  volatile keeps the compiler from shortening the loop. */
	for (size_t i = 0; i < a->n; i++) {
		volatile uint8_t diff = 0;
		for (int k = 0; k < 32; k++)
			diff |= (uint8_t)(h[k] ^ a->client[i].hash[k]);
		if (diff == 0)
			found = &a->client[i];
	}
	return found;
}

int
vb_auth_allows(vb_role role, vb_op op)
{
	if ((unsigned)role >= VB_NROLES || (unsigned)op >= VB_NOPS)
		return 0;
	return allowed[role][op];
}

int
vb_auth_may_publish(const vb_auth_client *c, const char *source)
{
	if (c->role == VB_ROLE_ADMIN)
		return 1;
	if (c->role != VB_ROLE_PUBLISHER)
		return 0;
	for (int i = 0; vb_auth_sources[i]; i++)
		if (strcmp(vb_auth_sources[i], source) == 0)
			return (c->sources >> i) & 1;
	return 0;
}

int
vb_auth_redacts(const vb_auth_client *c)
{
	return c->role != VB_ROLE_ENGINEER && c->role != VB_ROLE_ADMIN;
}

void
vb_auth_limit_init(vb_auth_limit *l)
{
	memset(l, 0, sizeof(*l));
	pthread_mutex_init(&l->mtx, NULL);
}

void
vb_auth_limit_fini(vb_auth_limit *l)
{
	pthread_mutex_destroy(&l->mtx);
}

void
vb_auth_log_denial(vb_auth_limit *l, vb_log *log, const vb_auth_client *c,
    const char *peer, const char *what, const char *why)
{
	struct timespec ts;
	uint64_t dropped = 0;
	int ok;

	if (!vb_log_enabled(log, VB_LOG_WARN))
		return;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	pthread_mutex_lock(&l->mtx);
	if (ts.tv_sec != l->second) {
		l->second = ts.tv_sec;
		l->logged = 0;
	}
	ok = l->logged < VB_AUTH_LOG_PER_S;
	if (ok) {
		l->logged++;
		dropped = l->dropped;
		l->dropped = 0;
	} else {
		l->dropped++;
	}
	pthread_mutex_unlock(&l->mtx);
	if (!ok)
		return;
	if (dropped > 0)
		vb_log_warn(log, "A002", "%llu denial(s) not logged (more than %d a second)",
		    (unsigned long long)dropped, VB_AUTH_LOG_PER_S);
	if (c != NULL)
		vb_log_warn(log, "A001", "denied: client %s (%s) from %s: %s: %s", c->name,
		    vb_role_names[c->role], peer, what, why);
	else
		vb_log_warn(log, "A001", "denied: unknown client from %s: %s: %s", peer, what, why);
}
